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
        if self.base.shape[1] == self.height:
            base = self.base[item, start:stop]
        else:
            base = images.expand_cells(self.base[item], start, stop, self.width)
        out = self.pixels[item, start:stop]
        if self.weights is None:  # base * (1 - f) + target * f, the target added cell row by cell row
            np.multiply(base, np.float32(1) - self.fraction, out=out)
            self._add_target(item, out, start, stop)
        else:  # base + (target - base) * f * weight
            np.subtract(self.targets[item].rows(start, stop), base, out=out)
            out *= (self.weights[item, start:stop] * self.fraction)[..., None]
            out += base
        np.clip(out, 0, 1, out=out)
        self.means[item, start // CELL:-(-stop // CELL)] = _cell_means(out)
        self._encoders[item].feed(images.to_uint8(out, unit=True))

    def _add_target(self, item: int, out: np.ndarray, start: int, stop: int) -> None:
        """``out += target * fraction`` on rows ``[start, stop)`` (whole cell rows)."""
        target = self.targets[item]
        band_start, band_stop = target.band
        first, last = max(start, band_start), min(stop, band_stop)
        runs = [(start, stop)] if first >= last else [(start, first), (last, stop)]
        for run_start, run_stop in runs:
            if run_start < run_stop:
                cells = target.cells[run_start // CELL:run_stop // CELL] * self.fraction
                rows = out[run_start - start:run_stop - start]
                rows.reshape(-1, CELL, self.width, 3)[:] += np.repeat(cells, CELL, axis=1)[:, None, :self.width]
        if first < last and target.caption is not None:
            caption = target.caption.pixels[first - band_start:last - band_start]
            out[first - start:last - start] += caption * self.fraction


def _rows(target: Drawing) -> int:
    return target.caption.rows if target.caption is not None else 0


def _cell_means(pixels: np.ndarray) -> np.ndarray:
    """``[..., H, W, C]`` (H and W multiples of 8) to the mean of every cell, ``[..., H/8, W/8, C]``:
    rows summed one at a time (a mean over two short axes of a 6-d view is ten times slower)."""
    *lead, h, w, c = pixels.shape
    rows = pixels.reshape(*lead, h // CELL, CELL, w * c)
    total = rows[..., 0, :].copy()
    for q in range(1, CELL):
        total += rows[..., q, :]
    columns = total.reshape(*lead, h // CELL, w // CELL, CELL, c)
    cells = columns[..., 0, :].copy()
    for q in range(1, CELL):
        cells += columns[..., q, :]
    cells *= np.float32(1 / (CELL * CELL))
    return cells


@functools.lru_cache(maxsize=32)
def _caption_segment(caption: images.Caption) -> Segment:
    """A caption band's scanlines depend only on its text and size: compressed once."""
    return png.band_segment(images.to_uint8(caption.pixels), CAPTION_LEVEL)
