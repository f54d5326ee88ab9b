"""Deterministic pictures, conversions and latent previews (PNG files are :mod:`fakecomfy.png`).

Everything here is plain numpy + Pillow. IMAGE values are float32 ``[H, W, C]`` (one batch
item) or ``[B, H, W, C]`` arrays in 0..1; LATENT samples are float32 ``[B, C, h, w]``
(``[B, C, T, h, w]`` for video latents).

A picture is drawn the way a decoded latent looks: one colour per 8x8-pixel cell (the latent's
resolution), with the prompt text at full resolution on a dark caption band. That makes it cheap
to draw, to enlarge and to PNG-encode (rows repeat in eights), and the caption only depends on
the text and the size, so it is drawn once per text.
"""
from __future__ import annotations

import functools
import hashlib
import textwrap
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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

CELL = 8  # pixels per side of a cell: a latent cell of ComfyUI's image models
BAND_COLOUR = np.array([0.07, 0.07, 0.09], dtype=np.float32)  # the caption band, under white text
_MIN_FONT, _MAX_FONT = 7, 48
_PATTERN_SIZE = 128  # the pattern is drawn at most this many cells wide, then enlarged


# ---- rendering --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Caption:
    """The prompt text on its band, for one (text, width, height): ``pixels`` are the band's rows."""

    pixels: np.ndarray  # float32 [rows, width, 3], read-only; rows is a whole number of cells
    cell_means: np.ndarray  # float32 [rows / 8, ceil(width / 8), 3]: the band as cells see it

    @property
    def rows(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True, eq=False)
class Drawing:
    """A picture before it is made into pixels: cells, and the caption band from row ``top``."""

    cells: np.ndarray  # float32 [ceil(height / 8), ceil(width / 8), 3] in 0..1
    width: int
    height: int
    caption: Caption | None = None
    top: int = 0  # a multiple of CELL

    @property
    def band(self) -> tuple[int, int]:
        """The pixel rows ``[start, stop)`` the caption covers (empty without one)."""
        if self.caption is None:
            return self.top, self.top
        return self.top, min(self.height, self.top + self.caption.rows)

    def rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Pixel rows ``[start, stop)`` as float32 ``[stop - start, width, 3]``."""
        out = expand_cells(self.cells, start, stop, self.width, out)
        band_start, band_stop = self.band
        first, last = max(start, band_start), min(stop, band_stop)
        if self.caption is not None and first < last:
            out[first - start:last - start] = self.caption.pixels[first - band_start:last - band_start]
        return out

    def pixels(self) -> np.ndarray:
        """The whole picture, float32 ``[height, width, 3]``."""
        return self.rows(0, self.height)

    def cell_means(self) -> np.ndarray:
        """The mean colour of every cell (what our VAE encodes), float32 ``[h, w, 3]``."""
        start, stop = self.band
        if self.caption is None or start == stop:
            return self.cells
        means = self.cells.copy()
        covered = self.caption.cell_means[:(stop - start + CELL - 1) // CELL]
        means[start // CELL:start // CELL + len(covered)] = covered
        return means


def draw(seed: int, text: str, width: int, height: int, variant: str = "") -> Drawing:
    """The picture of a seed and a text (see :func:`render`), as cells and a caption."""
    rng = np.random.default_rng(_digest(f"{seed}\0{variant}\0{text}"))
    cells = _smooth_pattern(rng, -(-width // CELL), -(-height // CELL))
    words = " ".join(text.split())
    caption = _caption(words, width, height) if words else None
    if caption is None:
        return Drawing(cells, width, height)
    top = max(0, height - caption.rows - int(rng.integers(0, max(1, height // 8))))
    return Drawing(cells, width, height, caption, top // CELL * CELL)


def render(seed: int, text: str, width: int, height: int, variant: str = "") -> np.ndarray:
    """A float32 ``[height, width, 3]`` picture: a seed-driven pattern with ``text`` on it.

    The same arguments always give identical pixels; another seed, text or ``variant`` gives a
    visibly different picture (``variant`` lets callers fold other settings into the pattern).
    """
    return draw(seed, text, width, height, variant).pixels()


def expand_cells(cells: np.ndarray, start: int, stop: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """Pixel rows ``[start, stop)`` of a ``[h, w, C]`` cell picture, each cell 8x8 pixels."""
    first, last = start // CELL, -(-stop // CELL)
    if out is None:
        out = np.empty((stop - start, width, cells.shape[-1]), dtype=np.float32)
    row_pixels = np.repeat(cells[first:last], CELL, axis=1)[:, :width]  # one pixel row per cell row
    if start % CELL == 0 and stop % CELL == 0:  # copy each whole row 8 times
        out.reshape(last - first, CELL, width, cells.shape[-1])[:] = row_pixels[:, None]
    else:
        out[:] = np.repeat(row_pixels, CELL, axis=0)[start - first * CELL:stop - first * CELL]
    return out


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
    """Diagonal two-colour gradient, three soft blobs and faint stripes.

    Each term is separable in x and y (a Gaussian is the product of two, a sine of a sum the sum
    of two products), so it is drawn as outer products of a row and a column; the colour planes
    come first while drawing, since numpy is slow at broadcasting over a last axis of 3."""
    x = (np.arange(width, dtype=np.float32) + 0.5) / width
    y = (np.arange(height, dtype=np.float32) + 0.5) / height
    c0, c1 = rng.uniform(0.1, 0.95, size=(2, 3, 1, 1)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.add.outer((y - 0.5) * np.float32(np.sin(angle)) + 0.5, (x - 0.5) * np.float32(np.cos(angle)))
    np.clip(t, 0, 1, out=t)
    planes = c0 + t * (c1 - c0)  # [3, height, width]
    for _ in range(3):
        cx, cy = rng.uniform(0.1, 0.9, size=2)
        radius = np.float32(rng.uniform(0.12, 0.35))
        colour = rng.uniform(0.0, 1.0, size=(3, 1, 1)).astype(np.float32)
        across = np.exp(-(x - np.float32(cx)) ** 2 / (radius * radius))
        down = np.exp(-(y - np.float32(cy)) ** 2 / (radius * radius)) * np.float32(0.85)
        planes += np.multiply.outer(down, across) * (colour - planes)
    freq, phase, tilt = rng.uniform(3, 12), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
    across = np.float32(2 * np.pi * freq * np.cos(tilt)) * x
    down = np.float32(2 * np.pi * freq * np.sin(tilt)) * y + np.float32(phase)
    stripes = np.multiply.outer(np.sin(down), np.cos(across))
    stripes += np.multiply.outer(np.cos(down), np.sin(across))
    planes += np.float32(0.04) * stripes
    np.clip(planes, 0, 1, out=planes)
    return np.ascontiguousarray(planes.transpose(1, 2, 0))


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=32)
def _average_char_width(size: int) -> float:
    sample = "the quick brown fox jumps over a lazy dog"
    return max(1.0, float(_font(size).getlength(sample)) / len(sample))


@functools.lru_cache(maxsize=32)
def _caption(text: str, width: int, height: int) -> Caption | None:
    """White ``text`` on a dark band as wide as the picture, a whole number of cells tall and at
    most half the picture's, so that the seed's cells show on the rest (none on one cell row)."""
    most = -(-height // CELL) // 2 * CELL
    size = int(np.clip(round(min(width, height) / 14), _MIN_FONT, _MAX_FONT))
    font = _font(size)
    margin = max(1, size // 3)
    per_line = max(1, int((width - 2 * margin) / _average_char_width(size)))
    lines = textwrap.wrap(text, per_line)[: max(1, (height // 2) // (size + 2))]
    if not lines or not most:
        return None
    block = len(lines) * (size + 2) + 2 * margin
    rows = min(-(-block // CELL) * CELL, most)
    mask = Image.new("L", (width, rows))
    draw_on = ImageDraw.Draw(mask)
    offset = margin + max(0, rows - block) // 2  # centred in the band
    for i, line in enumerate(lines):
        draw_on.text((margin, offset + i * (size + 2)), line, fill=255, font=font)
    ink = np.asarray(mask, dtype=np.float32)[..., None] * np.float32(1 / 255)
    pixels = BAND_COLOUR + ink * (1 - BAND_COLOUR)
    pixels.flags.writeable = False
    cells_wide = -(-width // CELL)
    padded = np.pad(pixels, ((0, 0), (0, cells_wide * CELL - width), (0, 0)), mode="edge")
    means = padded.reshape(rows // CELL, CELL, cells_wide, CELL, 3).mean(axis=(1, 3), dtype=np.float32)
    means.flags.writeable = False
    return Caption(pixels, means)


# ---- conversions ------------------------------------------------------------------------------
def to_uint8(image: np.ndarray, unit: bool = False) -> np.ndarray:
    """0..1 floats to bytes the way ComfyUI's savers do it: ``clip(255 * x)``, truncated.

    ``unit``: the values are known to be in 0..1 (or NaN), so clipping them changes nothing."""
    if is_solid(image):  # convert the one pixel, keep the broadcast
        return np.broadcast_to(to_uint8(np.ascontiguousarray(image[(0,) * (image.ndim - 1)])), image.shape)
    scaled = np.float32(255.0) * image
    if not isinstance(scaled, np.ndarray):  # a 0-d array gives a scalar
        return np.asarray(np.minimum(np.maximum(scaled, 0), 255)).astype(np.uint8)
    if not unit:
        # np.clip's Python wrappers cost more than the work on small pictures; same values (NaN too)
        np.maximum(scaled, 0, out=scaled)
        np.minimum(scaled, 255, out=scaled)
    return scaled.astype(np.uint8)


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
