"""The hand-built zlib stream of repeated rows must inflate to exactly the rows, checksum included."""
from __future__ import annotations

import random
import zlib

import pytest

from fakecomfy.repeat_zlib import repeated_rows


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
