"""A sampler's output pictures, drawn a slice of rows at a time over the sampler's steps.

A real sampler spends its time in its steps and reports each step when it is done; so does
ours: before each ProgressBar update it draws the next share of the pictures, so progress ``i``
comes after about ``i / steps`` of the work, and an interrupt is noticed between slices. The
pictures are also PNG-encoded here, as each item is finished (:func:`fakecomfy.png.remember`
keeps the streams for SaveImage), which leaves VAEDecode and SaveImage little to do, as on a GPU.

Two ways to draw an item:

* in cells, when the picture is the target's cells blended with a base in cells (seeded noise)
  and no mask: every 8x8-pixel cell is one colour but for the caption band, so the pixels are
  the cells enlarged and the PNG stream is written from the cells;
* in pixels otherwise (a picture to start from, a noise mask): each slice blends the rows at
  full resolution and feeds them to a zlib stream.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from fakecomfy import images, png
from fakecomfy.executors.numpy.buffers import BufferPool
from fakecomfy.images import CELL, Drawing
from fakecomfy.repeat_zlib import Segment

SLICE_PIXELS = 1 << 16  # about the pixels of one slice: spread finely, yet few numpy calls
STREAM_LEVEL = 1  # zlib level of rows we cannot write ourselves (a picture to start from)
CAPTION_LEVEL = 6  # a caption band is compressed once per text and size, so it may take longer
_BUFFERS = BufferPool()  # the memory of dropped outputs, for the next run's


class Canvas:
    """The pictures ``base + (target - base) * fraction`` (then blended by ``weights``, a noise
    mask) of a batch, with their cell means (what our VAE encodes) and PNG streams."""

    def __init__(self, targets: list[Drawing], base: np.ndarray, fraction: float,
                 weights: np.ndarray | None = None) -> None:
        """``base``: float32 cells ``[B, h, w, 3]`` or pixels ``[B, H, W, 3]``; ``weights``
        float32 ``[B, H, W]``."""
        first = targets[0]
        self.targets, self.base, self.weights = targets, base, weights
        self.fraction = np.float32(fraction)
        self.width, self.height = first.width, first.height
        base_in_cells = base.shape[1:3] == first.cells.shape[:2]
        self.in_cells = weights is None and (fraction == 1.0 or base_in_cells) and \
            png.fits_cells(self.width, self.height) and all(t.band[1] - t.band[0] in (0, _rows(t)) for t in targets)
        self.pixels = _BUFFERS.empty((len(targets), self.height, self.width, 3))
        self.means = np.empty((len(targets), *first.cells.shape), dtype=np.float32)
        self.streams: list[bytes] = []
        rows = max(CELL, SLICE_PIXELS // max(1, self.width) // CELL * CELL)
        self.slices = [(i, start, min(self.height, start + rows))
                       for i in range(len(targets)) for start in range(0, self.height, rows)]
        self.done = 0
        if self.in_cells:
            self._cells = [self._blended_cells(i) for i in range(len(targets))]
            self._bands: dict[int, np.ndarray] = {}
        else:
            self._encoders = [png.RowEncoder(STREAM_LEVEL) for _ in targets]

    # ---- the work ----------------------------------------------------------------------------
    def draw(self, count: int, check: Callable[[], None] = lambda: None) -> None:
        """Draw the slices up to the ``count``-th, calling ``check`` (the interrupt) before each."""
        while self.done < min(count, len(self.slices)):
            check()
            item, start, stop = self.slices[self.done]
            if self.in_cells:
                self._draw_cells(item, start, stop)
            else:
                self._draw_pixels(item, start, stop)
            self.done += 1
            if stop == self.height:
                self._finish_item(item)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The read-only pixel batch (its PNG streams remembered) and the cell means."""
        self.draw(len(self.slices))
        self.pixels.flags.writeable = False
        png.remember(self.pixels, self.streams)
        return self.pixels, self.means

    def preview_start(self) -> np.ndarray:
        """The first item's base as cell means: where the previews start."""
        return _cell_means(self.base[:1])[0] if self.base.shape[1] == self.height else self.base[0]

    def preview_means(self) -> np.ndarray:
        """The first item's cell means as the run will end, known before it is drawn."""
        if self.in_cells:
            return self.means[0]
        start = self.preview_start()
        target = self.targets[0].cell_means()
        weight = self.fraction
        if self.weights is not None:
            weight = weight * _cell_means(self.weights[:1, ..., None])[0]
        return start + (target - start) * weight

    # ---- in cells ------------------------------------------------------------------------------
    def _blended_cells(self, item: int) -> np.ndarray:
        """The item's cells, and its cell means, blended once up front (they are small)."""
        target = self.targets[item]
        if self.fraction == 1:
            cells, means = target.cells, target.cell_means()
        else:
            base = self.base[item]
            cells = np.clip(base + (target.cells - base) * self.fraction, 0, 1)
            means = np.clip(base + (target.cell_means() - base) * self.fraction, 0, 1)
        self.means[item] = means
        return cells

    def _band(self, item: int) -> np.ndarray:
        """The item's caption rows, blended with the base's when the run does not go all the way."""
        target = self.targets[item]
        assert target.caption is not None
        if self.fraction == 1:
            return target.caption.pixels
        band = self._bands.get(item)
        if band is None:
            start, stop = target.band
            base = images.expand_cells(self.base[item], start, stop, self.width)
            band = self._bands[item] = np.clip(base + (target.caption.pixels - base) * self.fraction, 0, 1)
        return band

    def _draw_cells(self, item: int, start: int, stop: int) -> None:
        out = self.pixels[item, start:stop]
        images.expand_cells(self._cells[item], start, stop, self.width, out)
        band_start, band_stop = self.targets[item].band
        first, last = max(start, band_start), min(stop, band_stop)
        if first < last:
            out[first - start:last - start] = self._band(item)[first - band_start:last - band_start]

    def _finish_item(self, item: int) -> None:
        if not self.in_cells:
            self.streams.append(self._encoders[item].finish())
            return
        target = self.targets[item]
        cells = images.to_uint8(self._cells[item])
        if target.caption is None:
            self.streams.append(png.cell_picture_stream(cells))
            return
        if self.fraction == 1:
            band = _caption_segment(target.caption)
        else:
            band = png.band_segment(images.to_uint8(self._band(item)), STREAM_LEVEL)
        self.streams.append(png.cell_picture_stream(cells, target.band[0], band))

    # ---- in pixels -----------------------------------------------------------------------------
    def _draw_pixels(self, item: int, start: int, stop: int) -> None:
        target = self.targets[item].rows(start, stop)
        if self.base.shape[1] == self.height:
            base = self.base[item, start:stop]
        else:
            base = images.expand_cells(self.base[item], start, stop, self.width)
        out = self.pixels[item, start:stop]
        np.subtract(target, base, out=out)
        out *= self.fraction
        out += base
        if self.weights is not None:
            out -= base
            out *= self.weights[item, start:stop, :, None]
            out += base
        np.clip(out, 0, 1, out=out)
        self.means[item, start // CELL:-(-stop // CELL)] = _cell_means(out[None])[0]
        self._encoders[item].feed(images.to_uint8(out))


def _rows(target: Drawing) -> int:
    return target.caption.rows if target.caption is not None else 0


def _cell_means(pixels: np.ndarray) -> np.ndarray:
    """``[B, H, W, C]`` (H and W multiples of 8) to the mean of every cell, ``[B, H/8, W/8, C]``."""
    b, h, w, c = pixels.shape
    return pixels.reshape(b, h // CELL, CELL, w // CELL, CELL, c).mean(axis=(2, 4), dtype=np.float32)


@functools.lru_cache(maxsize=32)
def _caption_segment(caption: images.Caption) -> Segment:
    """A caption band's scanlines depend only on its text and size: compressed once."""
    return png.band_segment(images.to_uint8(caption.pixels), CAPTION_LEVEL)
