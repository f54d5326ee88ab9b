"""Deterministic pictures, PNG metadata and latent previews (fakecomfy.images)."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

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


def test_to_uint8_truncates_like_comfyui() -> None:
    values = np.array([0.0, 0.999, 1.0, 1.5, -0.2], dtype=np.float32)
    assert images.to_uint8(values).tolist() == [0, 254, 255, 255, 0]


@pytest.mark.parametrize(("shape", "mode"), [((4, 6, 3), "RGB"), ((4, 6, 4), "RGBA"), ((4, 6), "L")])
def test_to_pil_picks_the_mode_from_the_channels(shape: tuple[int, ...], mode: str) -> None:
    img = images.to_pil(np.zeros(shape, dtype=np.float32))
    assert (img.mode, img.size) == (mode, (6, 4))


def test_png_carries_prompt_and_extra_pnginfo_chunks_as_json() -> None:
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}}
    chunks = images.metadata_chunks(prompt, {"workflow": {"id": "wf"}, "note": "x"})
    data = images.png_bytes(np.zeros((2, 2, 3), dtype=np.float32), chunks)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        assert dict(img.text) == {"prompt": json.dumps(prompt), "workflow": '{"id": "wf"}', "note": '"x"'}


def test_png_without_chunks_has_no_text() -> None:
    assert images.metadata_chunks(None, None) == {}
    with Image.open(io.BytesIO(images.png_bytes(np.ones((2, 2, 3), dtype=np.float32), {}))) as img:
        assert dict(img.text) == {}


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


@pytest.mark.parametrize(("width", "height"), [(64, 64), (512, 512), (7, 3000), (1536, 96), (3, 1)])
def test_solid_pictures_encode_to_the_same_pixels_as_pillow(width: int, height: int) -> None:
    import io

    import numpy as np
    from PIL import Image

    from fakecomfy.images import is_solid, png_bytes

    solid = np.broadcast_to(np.array([0.3, 0.5, 0.9], dtype=np.float32), (height, width, 3))
    assert is_solid(solid)
    with Image.open(io.BytesIO(png_bytes(solid, {"prompt": "{}", "workflow": "{\"a\": 1}"}))) as fast:
        fast.load()
        assert fast.size == (width, height) and fast.mode == "RGB"
        assert fast.text == {"prompt": "{}", "workflow": "{\"a\": 1}"}
        dense = np.ascontiguousarray(solid)
        assert not is_solid(dense)
        with Image.open(io.BytesIO(png_bytes(dense))) as slow:
            assert np.array_equal(np.asarray(fast), np.asarray(slow))


def test_one_pixel_conversion_matches_to_uint8_on_float32_edge_values() -> None:
    """The solid-PNG fast path converts its pixel without numpy; it must give to_uint8's bytes."""
    import random
    import warnings

    import numpy as np

    from fakecomfy.images import _pixel_bytes, to_uint8

    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, 0.5, 2.0, -1.0, 1e-45, 3e38, -3e38, float("inf"), float("-inf"), float("nan")]
    values += [k / 255 for k in range(256)] + [rng.random() for _ in range(5000)]
    pixels = np.array(values, dtype=np.float32)
    below = np.nextafter(pixels, np.float32(0))  # just under each value, where rounding decides
    for array in (pixels, below):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy on inf/nan
            expected = to_uint8(array).tobytes()
        assert _pixel_bytes(array.tolist()) == expected
