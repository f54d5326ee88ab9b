"""Deterministic pictures, PNG encoding with ComfyUI's metadata, and latent previews.

Everything here is plain numpy + Pillow. IMAGE values are float32 ``[H, W, C]`` (one batch
item) or ``[B, H, W, C]`` arrays in 0..1; LATENT samples are float32 ``[B, C, h, w]``
(``[B, C, T, h, w]`` for video latents).
"""
from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from fakecomfy import jsontext
from fakecomfy.repeat_zlib import repeated_rows

# Our latent colour space: RGB = (latent @ LATENT_RGB + 1) / 2 for a 4-channel latent.
# Own coefficients, in the spirit of ComfyUI's latent2rgb factors (same shape, same role).
LATENT_RGB = np.array([
    [0.40, 0.10, 0.05],
    [0.05, 0.40, 0.10],
    [0.10, 0.05, 0.40],
    [-0.20, -0.20, -0.20],
], dtype=np.float32)
# Encoding is the exact inverse on RGB: pinv(LATENT_RGB) @ LATENT_RGB is the identity.
RGB_LATENT = np.linalg.pinv(LATENT_RGB).astype(np.float32)

DEFAULT_COMPRESS_LEVEL = 4
_MIN_FONT, _MAX_FONT = 7, 48
_PATTERN_SIZE = 128


# ---- rendering --------------------------------------------------------------------------------
def render(seed: int, text: str, width: int, height: int, variant: str = "") -> np.ndarray:
    """A float32 ``[height, width, 3]`` picture: a seed-driven pattern with ``text`` on it.

    The same arguments always give identical pixels; another seed, text or ``variant`` gives a
    visibly different picture (``variant`` lets callers fold other settings into the pattern).
    """
    rng = np.random.default_rng(_digest(f"{seed}\0{variant}\0{text}"))
    picture = _smooth_pattern(rng, width, height)
    if text.strip():
        _draw_text(picture, text, rng)
    return picture


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def _smooth_pattern(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """The pattern is smooth: draw it at most _PATTERN_SIZE wide and let Pillow enlarge it."""
    scale = min(1.0, _PATTERN_SIZE / max(width, height))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = _pattern(rng, small_w, small_h)
    if (small_w, small_h) == (width, height):
        return small
    return from_pil(to_pil(small).resize((width, height), Image.Resampling.BILINEAR))


def _pattern(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Diagonal two-colour gradient, three soft blobs and faint stripes."""
    x = (np.arange(width, dtype=np.float32) + 0.5)[None, :] / width
    y = (np.arange(height, dtype=np.float32) + 0.5)[:, None] / height
    c0, c1 = rng.uniform(0.1, 0.95, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + (x - 0.5) * np.float32(np.cos(angle)) + (y - 0.5) * np.float32(np.sin(angle)), 0, 1)
    picture = c0 + t[..., None] * (c1 - c0)
    for _ in range(3):
        cx, cy = rng.uniform(0.1, 0.9, size=2)
        radius = np.float32(rng.uniform(0.12, 0.35))
        colour = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
        weight = np.exp(-((x - np.float32(cx)) ** 2 + (y - np.float32(cy)) ** 2) / (radius * radius))
        weight = (np.float32(0.85) * weight)[..., None]
        picture = picture + weight * (colour - picture)
    freq, phase, tilt = rng.uniform(3, 12), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
    stripes = np.sin(np.float32(2 * np.pi * freq) * (x * np.float32(np.cos(tilt)) + y * np.float32(np.sin(tilt)))
                     + np.float32(phase))
    picture = picture + np.float32(0.04) * stripes[..., None]
    return np.clip(picture, 0, 1).astype(np.float32, copy=False)


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=32)
def _average_char_width(size: int) -> float:
    sample = "the quick brown fox jumps over a lazy dog"
    return max(1.0, float(_font(size).getlength(sample)) / len(sample))


def _draw_text(picture: np.ndarray, text: str, rng: np.random.Generator) -> None:
    """Write ``text`` in white on a darkened band across the lower part of ``picture``."""
    height, width = picture.shape[:2]
    size = int(np.clip(round(min(width, height) / 14), _MIN_FONT, _MAX_FONT))
    font = _font(size)
    margin = max(1, size // 3)
    per_line = max(1, int((width - 2 * margin) / _average_char_width(size)))
    lines = textwrap.wrap(" ".join(text.split()), per_line)[: max(1, (height // 2) // (size + 2))]
    if not lines:
        return
    block = len(lines) * (size + 2) + 2 * margin
    top = max(0, height - block - int(rng.integers(0, max(1, height // 8))))
    mask = Image.new("L", (width, min(block, height - top)))
    draw = ImageDraw.Draw(mask)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * (size + 2)), line, fill=255, font=font)
    ink = np.asarray(mask, dtype=np.float32)[..., None] * np.float32(1 / 255)
    band = picture[top:top + mask.height]  # a view: the text only touches these rows
    band *= np.float32(0.5)  # a darker band keeps the text readable on any background
    band += ink * (1 - band)


# ---- conversions ------------------------------------------------------------------------------
def to_uint8(image: np.ndarray) -> np.ndarray:
    """0..1 floats to bytes the way ComfyUI's savers do it: ``clip(255 * x)``, truncated."""
    if is_solid(image):  # convert the one pixel, keep the broadcast
        return np.broadcast_to(to_uint8(np.ascontiguousarray(image[(0,) * (image.ndim - 1)])), image.shape)
    # np.clip's Python wrappers cost more than the work on small pictures; same values (NaN too)
    return np.minimum(np.maximum(np.float32(255.0) * image, 0), 255).astype(np.uint8)


def is_solid(image: np.ndarray) -> bool:
    """A picture that is one pixel broadcast over its area (how EmptyImage makes them)."""
    return image.ndim >= 3 and image.size > image.shape[-1] and all(st == 0 for st in image.strides[:-1])


def to_pil(image: np.ndarray) -> Image.Image:
    """One batch item (``[H, W, 3|4]`` or a ``[H, W]`` mask) as a PIL image (RGB, RGBA or L)."""
    data = to_uint8(np.asarray(image))
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    return Image.fromarray(data)


def from_pil(img: Image.Image) -> np.ndarray:
    """A PIL image as a float32 ``[H, W, C]`` array in 0..1."""
    return np.asarray(img, dtype=np.float32) / np.float32(255.0)


# ---- PNG --------------------------------------------------------------------------------------
def metadata_chunks(prompt: Any = None, extra_pnginfo: Mapping[str, Any] | None = None) -> dict[str, str]:
    """ComfyUI's PNG text chunks: ``prompt`` and one per ``extra_pnginfo`` key, JSON-dumped."""
    chunks: dict[str, str] = {}
    if prompt is not None:
        chunks["prompt"] = jsontext.dumps(prompt)
    if extra_pnginfo is not None:
        for key in extra_pnginfo:
            chunks[key] = jsontext.dumps(extra_pnginfo[key])
    return chunks


def png_bytes(image: Image.Image | np.ndarray, text_chunks: Mapping[str, str] | None = None,
              compress_level: int = DEFAULT_COMPRESS_LEVEL) -> bytes:
    """A PNG file of ``image`` carrying ``text_chunks`` as tEXt chunks (none when empty)."""
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] in (3, 4) and is_solid(image):
        solid = _solid_png(image, text_chunks or {}, compress_level)
        if solid is not None:
            return solid
    img = image if isinstance(image, Image.Image) else to_pil(image)
    info = None
    if text_chunks:
        info = PngInfo()
        for key, value in text_chunks.items():
            info.add_text(key, value)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", pnginfo=info, compress_level=compress_level)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _pixel_bytes(values: list[float]) -> bytes:
    """``to_uint8`` of one float32 pixel in plain Python (numpy's call overhead is most of the
    work here): the product is rounded to float32 like numpy's, then clipped and truncated."""
    out = bytearray()
    for value in values:
        scaled = _FLOAT32.unpack(_FLOAT32.pack(255.0 * value))[0] if abs(value) < 1e30 else 255.0 * value
        out.append(0 if not scaled > 0 else 255 if scaled >= 255 else int(scaled))  # NaN -> 0
    return bytes(out)


_FLOAT32 = struct.Struct("=f")


def _solid_png(image: np.ndarray, text_chunks: Mapping[str, str], level: int) -> bytes | None:
    """The PNG of a one-colour picture without Pillow: EmptyImage -> SaveImage is the workflow
    clients test with most, and Pillow spends milliseconds filtering a flat picture."""
    height, width, channels = image.shape
    first = image[0, 0]
    pixel = _pixel_bytes(first.tolist()) if first.dtype == np.float32 else \
        to_uint8(np.ascontiguousarray(first)).tobytes()
    try:
        texts = [key.encode("latin-1") + b"\0" + value.encode("latin-1") for key, value in text_chunks.items()]
    except UnicodeEncodeError:
        return None  # Pillow writes such text as iTXt: let it
    color_type = 2 if channels == 3 else 6
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = repeated_rows(b"\0" + pixel * width, height, level)  # each row: filter type 0, pixels
    return b"".join([b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header),
                     *(_png_chunk(b"tEXt", t) for t in texts),
                     _png_chunk(b"IDAT", idat), _png_chunk(b"IEND", b"")])


# ---- latents ----------------------------------------------------------------------------------
def fold_channels(latent: np.ndarray) -> np.ndarray:
    """A ``[C, h, w]`` latent folded onto our 4 channels (channel c counts towards c % 4)."""
    channels = latent.shape[0]
    if channels == 4:
        return latent
    folded = np.zeros((4, *latent.shape[1:]), dtype=np.float32)
    counts = np.zeros(4, dtype=np.float32)
    for c in range(channels):
        folded[c % 4] += latent[c]
        counts[c % 4] += 1
    return folded / np.maximum(counts, 1)[:, None, None]


def latent_to_rgb(latent: np.ndarray) -> np.ndarray:
    """A ``[C, h, w]`` latent as a float32 ``[h, w, 3]`` picture in 0..1 (our latent2rgb)."""
    four = fold_channels(np.asarray(latent, dtype=np.float32))
    rgb = np.tensordot(four, LATENT_RGB, axes=([0], [0]))
    return np.clip((rgb + 1) * np.float32(0.5), 0, 1).astype(np.float32, copy=False)


def rgb_to_latent(pixels: np.ndarray) -> np.ndarray:
    """The inverse of :func:`latent_to_rgb` for a ``[h, w, 3]`` picture: a ``[4, h, w]`` latent."""
    centred = np.asarray(pixels[..., :3], dtype=np.float32) * 2 - 1
    return np.ascontiguousarray(np.moveaxis(centred @ RGB_LATENT, -1, 0))


def latent_preview(samples: np.ndarray) -> Image.Image:
    """The sampler preview of a LATENT batch: its first item (first frame of a video) as RGB."""
    first = samples[0]
    if first.ndim == 4:  # [C, T, h, w]
        first = first[:, 0]
    return to_pil(latent_to_rgb(first))
