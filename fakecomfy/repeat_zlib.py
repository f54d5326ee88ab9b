"""A zlib stream of one row repeated ``count`` times, built without compressing anything.

EmptyImage -> SaveImage is the workflow clients test with most, and every colour is a new
picture: zlib spends tens of microseconds (milliseconds at 512 px) finding what we already know,
that each row repeats the one before. So the stream is written directly (RFC 1950/1951):

* the first row as a stored block (raw bytes, ends byte-aligned);
* one fixed-Huffman block of back-references, each "copy 258 bytes from one row back",
  which does not depend on the row's bytes and is cached per (row length, count);
* the Adler-32 of the whole data, derived from the row's own checksum.

Any inflater (zlib, Pillow, browsers) reads it; only the size differs from zlib's output.
"""
from __future__ import annotations

import bisect
import functools
import struct
import zlib

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
    total = distance * rows
    full, rest = divmod(total, _MAX_MATCH)
    tail = [rest] if rest else []
    if 0 < rest < _MIN_MATCH:  # too short for one match: split the last full one
        full -= 1
        tail = [_MAX_MATCH + rest - _MIN_MATCH, _MIN_MATCH]
    bits = _Bits()
    bits.put(1, 1)  # BFINAL
    bits.put(1, 2)  # BTYPE=01: fixed Huffman codes
    one = _Bits()
    _put_match(one, _MAX_MATCH, distance)
    bits.repeat(one, full)
    for length in tail:
        _put_match(bits, length, distance)
    _put_symbol(bits, _END_OF_BLOCK)
    return bits.to_bytes()


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
