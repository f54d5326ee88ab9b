"""The hand-built zlib streams must inflate to exactly their rows, checksum included."""
from __future__ import annotations

import random
import zlib

import numpy as np
import pytest

from fakecomfy.repeat_zlib import CELL, cell_rows_segment, compressed_segment, repeated_rows, zlib_stream


def _row(length: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(length))


@pytest.mark.parametrize(("length", "count"), [
    (4, 2), (4, 65), (193, 64), (1537, 512),  # 64 and 512 px RGB rows
    (258, 2), (259, 2), (256, 3), (3, 87),  # matches ending on and around 258 bytes
    (130, 3), (259, 3), (260, 2),  # totals leaving 1 or 2 bytes after full matches
    (32768, 3),  # the longest distance deflate can reach
])
def test_inflates_to_the_repeated_rows(length: int, count: int) -> None:
    row = _row(length, length * 1000 + count)
    data = repeated_rows(row, count)
    assert zlib.decompress(data) == row * count  # zlib verifies the Adler-32 too


def test_random_shapes_inflate_exactly() -> None:
    rng = random.Random(7)
    for _ in range(200):
        row = _row(rng.randint(1, 4000), rng.randint(0, 1 << 30))
        count = rng.randint(1, 200)
        assert zlib.decompress(repeated_rows(row, count)) == row * count


@pytest.mark.parametrize(("length", "count"), [(1, 1), (1, 2), (2, 2), (5, 1), (0, 3), (32769, 2)])
def test_shapes_outside_the_shortcut_fall_back_to_zlib(length: int, count: int) -> None:
    row = _row(length, 1)
    data = repeated_rows(row, count, level=4)
    assert data == zlib.compress(row * count, 4)


def test_the_shortcut_is_not_zlib_output_but_small() -> None:
    row = b"\0" + bytes([12, 200, 77]) * 512
    data = repeated_rows(row, 512)
    assert data != zlib.compress(row * 512, 6)
    # one stored row plus 22 bits per 258 copied bytes: about 1.3 % of the raw rows
    assert len(data) < len(row) * 512 // 50


# ---- cell rows and segments -------------------------------------------------------------------
def _cell_scanlines(cells: np.ndarray) -> bytes:
    """What a cell picture's scanlines are: per cell row, 8 times [filter 0] + each colour 8 times."""
    rows = np.repeat(cells, CELL, axis=1).reshape(cells.shape[0], -1)
    lines = np.concatenate([np.zeros((rows.shape[0], 1), dtype=np.uint8), rows], axis=1)
    return np.repeat(lines, CELL, axis=0).tobytes()


@pytest.mark.parametrize(("rows", "wide"), [(1, 1), (3, 2), (64, 64), (5, 7), (2, 1365), (4, 128), (3, 11), (2, 43)])
def test_cell_rows_inflate_to_their_scanlines(rows: int, wide: int) -> None:
    cells = np.random.default_rng(rows * 100 + wide).integers(0, 256, (rows, wide, 3), dtype=np.uint8)
    assert zlib.decompress(zlib_stream([cell_rows_segment(cells)])) == _cell_scanlines(cells)


def test_a_scanline_wider_than_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="32768"):
        cell_rows_segment(np.zeros((1, 1366, 3), dtype=np.uint8))


def test_segments_join_into_one_stream_with_the_adler32_of_all() -> None:
    rng = np.random.default_rng(9)
    cells = rng.integers(0, 256, (2, 5, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (7, 1 + 8 * 5 * 3), dtype=np.uint8)
    stream = zlib_stream([cell_rows_segment(cells), compressed_segment(other, 1), cell_rows_segment(cells[::-1])])
    expected = _cell_scanlines(cells) + other.tobytes() + _cell_scanlines(cells[::-1])
    assert zlib.decompress(stream) == expected  # zlib checks the Adler-32


def test_cell_rows_cost_about_5_bytes_a_cell() -> None:
    cells = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = zlib_stream([cell_rows_segment(cells)])
    assert len(data) < 64 * (64 * 5 + 160)  # cells, plus per row its block header and 7 repeats
