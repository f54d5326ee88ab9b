"""Deterministic pictures, conversions and latent previews (fakecomfy.images)."""
from __future__ import annotations

import numpy as np
import pytest

from fakecomfy import images

PROMPT = "a photo of a cat on a windowsill"


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_same_seed_and_text_give_identical_pixels() -> None:
    assert np.array_equal(images.render(7, PROMPT, 96, 64), images.render(7, PROMPT, 96, 64))


@pytest.mark.parametrize(("other", "label"), [
    ((8, PROMPT, ""), "seed"),
    ((7, "a watercolour of a dog", ""), "text"),
    ((7, PROMPT, "cfg=5"), "variant"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_another_seed_text_or_variant_gives_a_visibly_different_picture(other: tuple[int, str, str],
                                                                       label: str) -> None:
    base = images.render(7, PROMPT, 128, 128)
    assert difference(base, images.render(other[0], other[1], 128, 128, other[2])) > 0.02, label


@pytest.mark.parametrize(("width", "height"), [(512, 512), (64, 96), (1, 1), (300, 7), (8, 8)])
def test_render_shape_dtype_and_range(width: int, height: int) -> None:
    picture = images.render(1, PROMPT, width, height)
    assert picture.shape == (height, width, 3)
    assert picture.dtype == np.float32
    assert picture.min() >= 0 and picture.max() <= 1


def test_text_is_drawn_on_the_picture() -> None:
    with_text, without = images.render(3, "HELLO WORLD", 256, 256), images.render(3, "", 256, 256)
    changed = np.abs(with_text - without).max(axis=-1) > 0.3
    assert changed.sum() > 200  # white glyphs on a darkened band


def test_pictures_are_drawn_in_8px_cells_outside_the_caption() -> None:
    drawing = images.draw(5, PROMPT, 128, 96)
    picture = drawing.pixels()
    start, stop = drawing.band
    assert start % 8 == 0 and stop > start
    outside = np.concatenate([picture[:start], picture[stop:]])
    cells = outside.reshape(-1, 8, 16, 8, 3)
    assert np.array_equal(cells, np.broadcast_to(cells[:, :1, :, :1], cells.shape))
    assert not np.array_equal(picture[start:stop], images.expand_cells(drawing.cells, start, stop, 128))


@pytest.mark.parametrize(("start", "stop"), [(0, 96), (8, 40), (3, 77), (90, 96)])
def test_drawing_rows_are_the_pictures_rows(start: int, stop: int) -> None:
    drawing = images.draw(5, PROMPT, 120, 96)
    assert np.array_equal(drawing.rows(start, stop), drawing.pixels()[start:stop])


def test_cell_means_are_the_means_of_each_cells_pixels() -> None:
    drawing = images.draw(9, PROMPT, 64, 48)
    means = drawing.pixels().reshape(6, 8, 8, 8, 3).mean(axis=(1, 3))
    assert np.allclose(drawing.cell_means(), means, atol=1e-6)


def test_to_uint8_truncates_like_comfyui() -> None:
    values = np.array([0.0, 0.999, 1.0, 1.5, -0.2], dtype=np.float32)
    assert images.to_uint8(values).tolist() == [0, 254, 255, 255, 0]


@pytest.mark.parametrize(("shape", "mode"), [((4, 6, 3), "RGB"), ((4, 6, 4), "RGBA"), ((4, 6), "L")])
def test_to_pil_picks_the_mode_from_the_channels(shape: tuple[int, ...], mode: str) -> None:
    img = images.to_pil(np.zeros(shape, dtype=np.float32))
    assert (img.mode, img.size) == (mode, (6, 4))


def test_latent_colour_space_round_trips() -> None:
    rgb = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32) * 0.8 + 0.1
    latent = images.rgb_to_latent(rgb)
    assert latent.shape == (4, 5, 7)
    assert np.allclose(images.latent_to_rgb(latent), rgb, atol=1e-5)


@pytest.mark.parametrize("samples_shape", [(1, 4, 12, 8), (2, 16, 12, 8), (1, 16, 3, 12, 8)],
                         ids=["sd15", "sd3", "video"])
def test_latent_preview_is_an_rgb_picture_of_the_first_item(samples_shape: tuple[int, ...]) -> None:
    preview = images.latent_preview(np.zeros(samples_shape, dtype=np.float32))
    assert (preview.mode, preview.size) == ("RGB", (8, 12))
