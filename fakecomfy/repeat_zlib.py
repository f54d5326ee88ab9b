"""zlib streams of pictures whose rows repeat, written directly instead of compressed.

zlib scans every byte to find what we already know, that rows repeat: tens of microseconds per
picture at 64 px, milliseconds at 512 px. So the streams are written directly (RFC 1950/1951),
and any inflater (zlib, Pillow, browsers) reads them; only their size differs from zlib's output.

* :func:`repeated_rows`, one row repeated (EmptyImage -> SaveImage, the workflow clients test
  with most): the first row as a stored block, then one fixed-Huffman block of "copy 258 bytes
  from one row back", which does not depend on the row's bytes and is cached per shape.
* :func:`cell_rows_segment`, a picture drawn in 8x8-pixel cells (what our samplers draw): per
  cell a few literals and a short copy, per cell row 7 copies of its scanline.
* :class:`Segment` and :func:`zlib_stream`: pieces of deflate data (ours, or zlib's for rows
  that do not repeat) joined into one stream, the Adler-32 derived from each piece's sums.
"""
from __future__ import annotations

import bisect
import functools
import struct
import zlib
from dataclasses import dataclass

import numpy as np

_ADLER_MOD = 65521
_MAX_MATCH = 258
_MIN_MATCH = 3
_MAX_DISTANCE = 32768
# RFC 1951 3.2.5: symbols 257..285 as (base length, extra bits); distance codes 0..29.
_LENGTH_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                131, 163, 195, 227, 258)
_LENGTH_EXTRA = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0)
_DISTANCE_BASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                  2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)
_DISTANCE_EXTRA = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
                   13, 13)
_END_OF_BLOCK = 256
# zlib header: deflate with a 32K window, no dictionary; (0x78 << 8 | 0x01) % 31 == 0.
_ZLIB_HEADER = b"\x78\x01"


def repeated_rows(row: bytes, count: int, level: int = 6) -> bytes:
    """zlib data of ``row * count``; plain ``zlib.compress`` where the shortcut does not apply."""
    if not 1 <= len(row) <= _MAX_DISTANCE or len(row) * (count - 1) < _MIN_MATCH:
        return zlib.compress(row * count, level)
    length = len(row)
    stored = struct.pack("<BHH", 0, length, length ^ 0xFFFF)  # BFINAL=0, BTYPE=00, padding
    return b"".join((_ZLIB_HEADER, stored, row, _copies(length, count - 1),
                     struct.pack(">I", _adler_of_repeats(row, count))))


def _adler_of_repeats(row: bytes, count: int) -> int:
    """Adler-32 of ``row * count`` from the row's: A = 1 + n*S, B = N + n*W + L*S*n(n-1)/2,
    with S the byte sum, W the position-weighted sum and L the length of the row."""
    length = len(row)
    single = zlib.adler32(row)
    byte_sum = (single & 0xFFFF) - 1
    weighted = (single >> 16) - length
    a = (1 + count * byte_sum) % _ADLER_MOD
    b = (length * count + count * weighted + length * byte_sum * (count * (count - 1) // 2)) % _ADLER_MOD
    return (b << 16) | a


@functools.lru_cache(maxsize=32)
def _copies(distance: int, rows: int) -> bytes:
    """The final fixed-Huffman block copying ``rows * distance`` bytes from ``distance`` back."""
    bits = _Bits()
    bits.put(1, 1)  # BFINAL
    bits.put(1, 2)  # BTYPE=01: fixed Huffman codes
    lengths = _match_lengths(distance * rows)
    one = _Bits()
    _put_match(one, _MAX_MATCH, distance)
    full = lengths.count(_MAX_MATCH)  # the full matches come first
    bits.repeat(one, full)
    for length in lengths[full:]:
        _put_match(bits, length, distance)
    _put_symbol(bits, _END_OF_BLOCK)
    return bits.to_bytes()


def _match_lengths(total: int) -> list[int]:
    """Match lengths copying ``total`` bytes: full matches of 258, then what is left."""
    full, rest = divmod(total, _MAX_MATCH)
    if 0 < rest < _MIN_MATCH:  # too short for one match: split the last full one
        return [_MAX_MATCH] * (full - 1) + [_MAX_MATCH + rest - _MIN_MATCH, _MIN_MATCH]
    return [_MAX_MATCH] * full + ([rest] if rest else [])


class _Bits:
    """Deflate's bit order: fields fill each byte from its least significant bit."""

    def __init__(self) -> None:
        self.value = 0
        self.size = 0

    def put(self, value: int, size: int) -> None:
        self.value |= value << self.size
        self.size += size

    def put_code(self, code: int, size: int) -> None:
        """A Huffman code goes most significant bit first."""
        self.put(int(f"{code:0{size}b}"[::-1], 2), size)

    def repeat(self, other: _Bits, times: int) -> None:
        """Append ``times`` copies of ``other`` (a geometric series: linear, not quadratic)."""
        if times <= 0:
            return
        span = other.size * times
        copies = other.value * (((1 << span) - 1) // ((1 << other.size) - 1))
        self.value |= copies << self.size
        self.size += span

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.size + 7) // 8, "little")


def _put_symbol(bits: _Bits, symbol: int) -> None:
    """A literal/length symbol in the fixed code of RFC 1951 3.2.6."""
    if symbol < 144:
        bits.put_code(0x30 + symbol, 8)
    elif symbol < 256:
        bits.put_code(0x190 + symbol - 144, 9)
    elif symbol < 280:
        bits.put_code(symbol - 256, 7)
    else:
        bits.put_code(0xC0 + symbol - 280, 8)


def _put_match(bits: _Bits, length: int, distance: int) -> None:
    index = bisect.bisect_right(_LENGTH_BASE, length) - 1
    _put_symbol(bits, 257 + index)
    bits.put(length - _LENGTH_BASE[index], _LENGTH_EXTRA[index])
    code = bisect.bisect_right(_DISTANCE_BASE, distance) - 1
    bits.put_code(code, 5)
    bits.put(distance - _DISTANCE_BASE[code], _DISTANCE_EXTRA[code])


# ---- pictures in cells, in segments -------------------------------------------------------------

CELL = 8
# zlib's empty final block (fixed Huffman, end-of-block only): what every stream here ends with.
_FINAL_EMPTY_BLOCK = b"\x03\x00"
_SYNC = b"\x00\x00\xff\xff"  # an empty stored block's LEN/NLEN, after its 3 header bits and padding


@dataclass(frozen=True)
class Segment:
    """A run of whole bytes of non-final deflate blocks, and what they inflate to: its length, and
    its byte sum and position-weighted sum (mod 65521), which is all Adler-32 needs to join it."""

    deflate: bytes
    length: int
    total: int
    weighted: int  # sum of position * byte, positions counted from the segment's first byte


def zlib_stream(segments: list[Segment]) -> bytes:
    """A zlib stream of the segments one after another, with the Adler-32 of them all."""
    total = weighted = length = 0
    for segment in segments:
        weighted += segment.weighted + length * segment.total
        total += segment.total
        length += segment.length
    a = (1 + total) % _ADLER_MOD
    b = (length + length * total - weighted) % _ADLER_MOD  # B = sum of (n - i) * d_i, plus n
    return b"".join((_ZLIB_HEADER, *(s.deflate for s in segments), _FINAL_EMPTY_BLOCK, struct.pack(">I", b << 16 | a)))


def compressed_segment(rows: np.ndarray, level: int) -> Segment:
    """``rows`` (uint8 ``[n, L]``, any bytes) compressed by zlib as a segment that refers to
    nothing before it."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: we write header and checksum
    deflate = compressor.compress(np.ascontiguousarray(rows).data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    n, length = rows.shape
    sums = rows.sum(axis=1, dtype=np.int64)
    positioned = rows.astype(np.int64) @ np.arange(length, dtype=np.int64)
    starts = np.arange(n, dtype=np.int64) * length % _ADLER_MOD
    weighted = int(((starts * (sums % _ADLER_MOD) + positioned) % _ADLER_MOD).sum())
    return Segment(deflate, rows.size, int(sums.sum()) % _ADLER_MOD, weighted % _ADLER_MOD)


def cell_rows_segment(cells: np.ndarray) -> Segment:
    """The scanlines of RGB cell rows: ``cells`` (uint8 ``[n, w, 3]``) holds each cell's colour,
    and every cell row is 8 identical scanlines ``[filter 0] + 8 * w pixels``.

    Each cell row is one dynamic-Huffman block whose code gives every literal 9 bits, so that a
    cell (3 literals, then a copy of them for its other 7 pixels) is exactly 40 bits: the cells
    become 5 bytes each by table lookups, and the rest of the block (its header and the filter
    byte before the cells; the 7 repeats and an empty stored block after them) is the same bytes
    on every row of the same width.
    """
    rows, wide, channels = cells.shape
    if channels != 3:
        raise ValueError(f"cell rows are RGB, got {channels} channels")
    line = 1 + CELL * wide * channels
    if line > _MAX_DISTANCE:
        raise ValueError(f"a scanline of {line} bytes does not fit deflate's 32768-byte window")
    head, tail = _row_block_ends(line)
    codes = _CELL_CODES
    value = codes[cells[..., 0]] | codes[cells[..., 1]] << np.uint64(9) | codes[cells[..., 2]] << np.uint64(18)
    value |= np.uint64(_CELL_COPY)
    out = np.empty((rows, len(head) + 5 * wide + len(tail)), dtype=np.uint8)
    out[:, :len(head)] = np.frombuffer(head, dtype=np.uint8)
    out[:, len(head):len(head) + 5 * wide] = value.astype("<u8").view(np.uint8).reshape(rows, wide, 8)[:, :, :5] \
        .reshape(rows, 5 * wide)
    out[:, len(head) + 5 * wide:] = np.frombuffer(tail, dtype=np.uint8)
    return Segment(out.tobytes(), rows * CELL * line, *_cell_rows_sums(cells, line))


# The code of every cell-row block: literals 9 bits; end-of-block and lengths 6 bits, but 5 for
# the two longest (284, 285); distances 5 bits, but 4 for the two never used (codes 0, 1).
_LITERAL_LENGTHS = [9] * 256 + [6] * 28 + [5, 5]
_DISTANCE_LENGTHS = [4, 4] + [5] * 28
# The code lengths' own code (RFC 1951 3.2.7); 16 repeats the previous length 3..6 times.
_LENGTH_CODE_LENGTHS = {16: 1, 9: 3, 6: 3, 5: 3, 4: 3}
_LENGTH_CODE_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)


def _reversed_code(code: int, size: int) -> int:
    return int(f"{code:0{size}b}"[::-1], 2)


def _canonical(lengths: list[int]) -> list[int]:
    """RFC 1951 3.2.2: the codes of a canonical Huffman code from its code lengths."""
    counts = [0] * (max(lengths) + 1)
    for length in lengths:
        counts[length] += 1
    counts[0] = 0
    code, first = 0, [0] * len(counts)
    for size in range(1, len(counts)):
        code = (code + counts[size - 1]) << 1
        first[size] = code
    codes = []
    for length in lengths:
        codes.append(first[length] if length else 0)
        if length:
            first[length] += 1
    return codes


_LITERAL_TABLE = _canonical(_LITERAL_LENGTHS)
_DISTANCE_TABLE = _canonical(_DISTANCE_LENGTHS)
_CELL_CODES = np.array([_reversed_code(_LITERAL_TABLE[s], 9) for s in range(256)], dtype=np.uint64)


def _put_dynamic(bits: _Bits, symbol: int) -> None:
    bits.put_code(_LITERAL_TABLE[symbol], _LITERAL_LENGTHS[symbol])


def _put_dynamic_match(bits: _Bits, length: int, distance: int) -> None:
    index = bisect.bisect_right(_LENGTH_BASE, length) - 1
    _put_dynamic(bits, 257 + index)
    bits.put(length - _LENGTH_BASE[index], _LENGTH_EXTRA[index])
    code = bisect.bisect_right(_DISTANCE_BASE, distance) - 1
    bits.put_code(_DISTANCE_TABLE[code], _DISTANCE_LENGTHS[code])
    bits.put(distance - _DISTANCE_BASE[code], _DISTANCE_EXTRA[code])


def _cell_copy() -> int:
    """The 13 bits after a cell's 3 literals: copy 21 bytes from 3 back (its other 7 pixels)."""
    bits = _Bits()
    _put_dynamic_match(bits, (CELL - 1) * 3, 3)
    assert bits.size == 13, bits.size  # 27 + 13 = 40 bits: 5 whole bytes a cell
    return bits.value << 27


_CELL_COPY = _cell_copy()


@functools.lru_cache(maxsize=16)
def _row_block_ends(line: int) -> tuple[bytes, bytes]:
    """The bytes before a row's cells (block header, filter byte) and after them (the 7 repeats,
    end of block, an empty stored block)."""
    head = _Bits()
    head.put(0b100, 3)  # BFINAL=0, BTYPE=10: dynamic Huffman codes
    _put_code_lengths(head)
    _put_dynamic(head, 0)  # the filter byte
    assert head.size % 8 == 0, head.size
    tail = _Bits()
    for length in _match_lengths((CELL - 1) * line):
        _put_dynamic_match(tail, length, line)
    _put_dynamic(tail, _END_OF_BLOCK)
    tail.put(0, 3)  # an empty stored block: BFINAL=0, BTYPE=00, then padding to a byte
    return head.to_bytes(), tail.to_bytes() + _SYNC


def _put_code_lengths(bits: _Bits) -> None:
    """HLIT, HDIST, HCLEN and the code lengths, with as many code-length-code entries (3 bits
    each) as bring the cells that follow the filter byte onto a byte boundary."""
    sequence = _run_lengths(_LITERAL_LENGTHS) + _run_lengths(_DISTANCE_LENGTHS)
    cl_codes = _canonical([_LENGTH_CODE_LENGTHS.get(s, 0) for s in range(19)])
    body = _Bits()
    for symbol, extra in sequence:
        body.put_code(cl_codes[symbol], _LENGTH_CODE_LENGTHS[symbol])
        if symbol == 16:
            body.put(extra, 2)
    needed = max(_LENGTH_CODE_ORDER.index(s) for s in _LENGTH_CODE_LENGTHS) + 1
    count = next(n for n in range(needed, 20) if (bits.size + 14 + 3 * n + body.size + 9) % 8 == 0)
    bits.put(len(_LITERAL_LENGTHS) - 257, 5)
    bits.put(len(_DISTANCE_LENGTHS) - 1, 5)
    bits.put(count - 4, 4)
    for symbol in _LENGTH_CODE_ORDER[:count]:
        bits.put(_LENGTH_CODE_LENGTHS.get(symbol, 0), 3)
    bits.put(body.value, body.size)


def _run_lengths(lengths: list[int]) -> list[tuple[int, int]]:
    """Code lengths as (symbol, extra): a length, then code 16 for each run of 3..6 repeats."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(lengths):
        out.append((lengths[i], 0))
        j = i + 1
        while j < len(lengths) and lengths[j] == lengths[i]:
            j += 1
        repeats = j - i - 1
        while repeats >= 3:
            take = min(6, repeats)
            if repeats - take in (1, 2):  # leave a run of 3 for the next code 16
                take = repeats - 3
            out.append((16, take - 3))
            repeats -= take
        out.extend((lengths[i], 0) for _ in range(repeats))
        i = j
    return out


def _cell_rows_sums(cells: np.ndarray, line: int) -> tuple[int, int]:
    """Byte sum and weighted sum of the scanlines, from the cells: pixel ``t`` of cell ``k`` is
    bytes ``1 + 3 * (8k + t) + c`` of each of the row's 8 identical scanlines."""
    rows, wide, channels = cells.shape
    k = np.arange(wide, dtype=np.int64)[:, None]
    c = np.arange(channels, dtype=np.int64)[None, :]
    # sum over t = 0..7 of the position 1 + C*(8k + t) + c
    weights = CELL * (1 + CELL * channels * k + c) + channels * (CELL * (CELL - 1) // 2)
    flat = cells.reshape(rows, -1).astype(np.int64)
    line_sums = CELL * flat.sum(axis=1)  # one scanline's bytes
    line_weighted = flat @ weights.ravel()
    j = np.arange(rows, dtype=np.int64)
    # the row's 8 scanlines start at line * (8j + q), q = 0..7
    starts = (CELL * CELL * j + CELL * (CELL - 1) // 2) % _ADLER_MOD
    weighted = (line * (line_sums % _ADLER_MOD) % _ADLER_MOD * starts + CELL * line_weighted) % _ADLER_MOD
    return int(CELL * line_sums.sum()) % _ADLER_MOD, int(weighted.sum()) % _ADLER_MOD

