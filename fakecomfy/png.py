"""PNG files as ComfyUI's savers write them: 8-bit pixels and the prompt's text chunks.

The file is what Pillow writes for ComfyUI (IHDR, the text chunks in order as tEXt, or iTXt
where a value is not latin-1, IDAT, IEND); only the compressed pixel data differs. Pillow tries
five filters on every row and compresses at ComfyUI's level 4, which made PNG encoding most of a
prompt's time; we use one filter (Up: a row minus the row above, all zeros where rows repeat)
and zlib at the level asked. The level only trades size for time: every decoder reads any
deflate stream, and clients never see it.

Pictures a sampler draws come encoded: it writes their zlib streams while it draws them (a
sampler's work, spread over its steps) and :func:`remember` keeps them for as long as the
read-only pixel array lives, so that SaveImage, given that same array, only writes the chunks.
"""
from __future__ import annotations

import io
import struct
import weakref
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakecomfy import jsontext
from fakecomfy.images import is_solid, to_pil, to_uint8
from fakecomfy.repeat_zlib import CELL, Segment, cell_rows_segment, compressed_segment, repeated_rows, zlib_stream

DEFAULT_COMPRESS_LEVEL = 4
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA
_FILTER_NONE, _FILTER_UP = 0, 2
_IEND = b"\0\0\0\0IEND\xaeB`\x82"


# ---- chunks -----------------------------------------------------------------------------------
def metadata_chunks(prompt: Any = None, extra_pnginfo: Mapping[str, Any] | None = None) -> dict[str, str]:
    """ComfyUI's PNG text chunks: ``prompt`` and one per ``extra_pnginfo`` key, JSON-dumped."""
    chunks: dict[str, str] = {}
    if prompt is not None:
        chunks["prompt"] = jsontext.dumps(prompt)
    if extra_pnginfo is not None:
        for key in extra_pnginfo:
            chunks[key] = jsontext.dumps(extra_pnginfo[key])
    return chunks


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def text_chunk_bytes(texts: Mapping[str, str]) -> bytes:
    """The chunks of PngInfo.add_text: tEXt, or iTXt for a value that is not latin-1. A key
    that is not latin-1 fails with Pillow's UnicodeEncodeError."""
    out = []
    for key, value in texts.items():
        name = key.encode("latin-1", "strict")
        try:
            out.append(chunk(b"tEXt", name + b"\0" + value.encode("latin-1", "strict")))
        except UnicodeEncodeError:
            out.append(chunk(b"iTXt", name + b"\0\0\0\0\0" + value.encode("utf-8", "strict")))
    return b"".join(out)


def png_file(width: int, height: int, channels: int, pixels: bytes, texts: bytes = b"") -> bytes:
    """A PNG file of 8-bit pixels: ``pixels`` is the zlib stream of the scanlines, ``texts``
    the text chunks (:func:`text_chunk_bytes`)."""
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    return b"".join((SIGNATURE, chunk(b"IHDR", header), texts, chunk(b"IDAT", pixels), _IEND))


# ---- encoding ---------------------------------------------------------------------------------
class RowEncoder:
    """Scanlines of one picture, Up-filtered and compressed, fed in slices of whole rows."""

    def __init__(self, level: int = DEFAULT_COMPRESS_LEVEL) -> None:
        self._compressor = zlib.compressobj(level)
        self._parts: list[bytes] = []
        self._last: np.ndarray | None = None  # the row above the next slice

    def feed(self, rows: np.ndarray) -> None:
        """Rows of uint8 ``[n, width, channels]`` (or ``[n, width * channels]``)."""
        flat = rows.reshape(rows.shape[0], -1)
        if flat.shape[0] == 0:
            return
        self._parts.append(self._compressor.compress(scanlines(flat, self._last).data))
        self._last = flat[-1].copy()

    def finish(self) -> bytes:
        """The zlib stream of all rows fed."""
        self._parts.append(self._compressor.flush())
        return b"".join(self._parts)


def scanlines(rows: np.ndarray, above: np.ndarray | None = None) -> np.ndarray:
    """PNG scanlines (uint8 ``[n, 1 + L]``) of rows of ``L`` bytes, each minus the row above
    (filter Up); the first row unfiltered when nothing is above it."""
    lines = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    lines[:, 0] = _FILTER_UP
    np.subtract(rows[1:], rows[:-1], out=lines[1:, 1:])
    if above is None:
        lines[0, 0] = _FILTER_NONE
        lines[0, 1:] = rows[0]
    else:
        np.subtract(rows[0], above, out=lines[0, 1:])
    return lines


def png_bytes(image: Image.Image | np.ndarray, text_chunks: Mapping[str, str] | None = None,
              compress_level: int = DEFAULT_COMPRESS_LEVEL) -> bytes:
    """A PNG file of one picture (``[H, W, C]`` floats in 0..1, a ``[H, W]`` mask, or a PIL image)
    carrying ``text_chunks`` as text chunks (none when empty)."""
    texts = text_chunks or {}
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] in (3, 4) and is_solid(image):
        return _solid_png(image, texts, compress_level)
    if isinstance(image, np.ndarray) and image.size and image.ndim in (2, 3) and \
            (image.ndim == 2 or image.shape[-1] in _COLOUR_TYPES):
        data = to_uint8(image)
        pixels = data.reshape(data.shape[0], data.shape[1], -1)
        encoder = RowEncoder(compress_level)
        encoder.feed(pixels)
        return png_file(pixels.shape[1], pixels.shape[0], pixels.shape[2], encoder.finish(), text_chunk_bytes(texts))
    return _pillow_png(image if isinstance(image, Image.Image) else to_pil(image), texts, compress_level)


def _pillow_png(img: Image.Image, texts: Mapping[str, str], level: int) -> bytes:
    info = None
    if texts:
        info = PngInfo()
        for key, value in texts.items():
            info.add_text(key, value)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", pnginfo=info, compress_level=level)
    return buffer.getvalue()


def _pixel_bytes(values: list[float]) -> bytes:
    """``to_uint8`` of one float32 pixel in plain Python (numpy's call overhead is most of the
    work here): the product is rounded to float32 like numpy's, then clipped and truncated."""
    out = bytearray()
    for value in values:
        scaled = _FLOAT32.unpack(_FLOAT32.pack(255.0 * value))[0] if abs(value) < 1e30 else 255.0 * value
        out.append(0 if not scaled > 0 else 255 if scaled >= 255 else int(scaled))  # NaN -> 0
    return bytes(out)


_FLOAT32 = struct.Struct("=f")


def _solid_png(image: np.ndarray, texts: Mapping[str, str], level: int) -> bytes:
    """The PNG of a one-colour picture: EmptyImage -> SaveImage is the workflow clients test
    with most, and its rows are one row repeated."""
    height, width, channels = image.shape
    first = image[0, 0]
    pixel = _pixel_bytes(first.tolist()) if first.dtype == np.float32 else \
        to_uint8(np.ascontiguousarray(first)).tobytes()
    pixels = repeated_rows(b"\0" + pixel * width, height, level)  # each row: filter type 0, pixels
    return png_file(width, height, channels, pixels, text_chunk_bytes(texts))


# ---- pictures drawn in cells -----------------------------------------------------------------
def band_segment(rows: np.ndarray, level: int) -> Segment:
    """The scanlines of uint8 RGB rows ``[n, W, 3]`` that differ from their cells (the caption
    band), compressed by zlib, referring to nothing above them."""
    return compressed_segment(scanlines(rows.reshape(rows.shape[0], -1)), level)


def cell_picture_stream(cells: np.ndarray, band_start: int = 0, band: Segment | None = None) -> bytes:
    """The zlib stream of the scanlines of an RGB picture drawn in cells (uint8 ``[h, w, 3]``),
    whose rows from ``band_start`` (a multiple of 8) on are ``band`` (:func:`band_segment`)
    instead of their cells'."""
    if band is None:
        return zlib_stream([cell_rows_segment(cells)])
    first = band_start // CELL
    after = first + band.length // (1 + CELL * cells.shape[1] * 3) // CELL
    segments = [cell_rows_segment(cells[:first])] if first else []
    segments.append(band)
    if after < cells.shape[0]:
        segments.append(cell_rows_segment(cells[after:]))
    return zlib_stream(segments)


def fits_cells(width: int, height: int) -> bool:
    """Whether a picture of this size can be written by :func:`cell_picture_stream`."""
    return width % CELL == 0 and height % CELL == 0 and 1 + 3 * width <= 32768


# ---- pictures encoded by whoever drew them ------------------------------------------------------
_ENCODED: dict[int, tuple[weakref.ref[np.ndarray], tuple[bytes, ...]]] = {}


def remember(batch: np.ndarray, streams: Sequence[bytes]) -> None:
    """Keep the zlib streams of the RGB scanlines of each item of ``batch`` (read-only float32
    ``[B, H, W, 3]``), for :func:`png_batch`, while the array lives."""
    if batch.flags.writeable or batch.ndim != 4 or batch.shape[-1] != 3 or len(streams) != batch.shape[0]:
        raise ValueError("remember() takes a read-only [B, H, W, 3] batch and one stream per item")
    key = id(batch)

    def forget(ref: weakref.ref[np.ndarray]) -> None:
        entry = _ENCODED.get(key)
        if entry is not None and entry[0] is ref:
            _ENCODED.pop(key, None)

    _ENCODED[key] = (weakref.ref(batch, forget), tuple(streams))


def png_batch(batch: np.ndarray, texts: Mapping[str, str] | None = None,
              compress_level: int = DEFAULT_COMPRESS_LEVEL) -> Iterator[bytes]:
    """The PNG file of each item of an IMAGE batch, all carrying ``texts``."""
    entry = _ENCODED.get(id(batch))
    streams = entry[1] if entry is not None and entry[0]() is batch and not batch.flags.writeable else None
    if streams is None:
        for item in batch:
            yield png_bytes(item, texts, compress_level)
        return
    height, width = batch.shape[1:3]
    chunks = text_chunk_bytes(texts or {})
    for stream in streams:
        yield png_file(width, height, 3, stream, chunks)
