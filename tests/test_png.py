"""PNG files (fakecomfy.png): Pillow's file structure and text chunks, our pixel streams."""
from __future__ import annotations

import io
import json
import random
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from fakecomfy import images, png


def decoded(data: bytes) -> tuple[PngImagePlugin.PngImageFile, np.ndarray]:
    img = Image.open(io.BytesIO(data))
    assert isinstance(img, PngImagePlugin.PngImageFile)
    img.load()
    return img, np.asarray(img)


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking each CRC."""
    out, pos = [], len(png.SIGNATURE)
    assert data[:pos] == png.SIGNATURE
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert int.from_bytes(data[pos + 8 + length:pos + 12 + length], "big") == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
    return out


def test_png_carries_prompt_and_extra_pnginfo_chunks_as_json() -> None:
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}}
    chunks = png.metadata_chunks(prompt, {"workflow": {"id": "wf"}, "note": "x"})
    img, _ = decoded(png.png_bytes(np.zeros((2, 2, 3), dtype=np.float32), chunks))
    assert img.format == "PNG"
    assert dict(img.text) == {"prompt": json.dumps(prompt), "workflow": '{"id": "wf"}', "note": '"x"'}


def test_png_without_chunks_has_no_text() -> None:
    assert png.metadata_chunks(None, None) == {}
    img, _ = decoded(png.png_bytes(np.ones((2, 2, 3), dtype=np.float32), {}))
    assert dict(img.text) == {}


def test_chunks_are_in_pillows_order_and_text_chunks_byte_for_byte() -> None:
    texts = {"prompt": '{"a": 1}', "workflow": "caf\u00e9", "note": "\u732b"}  # latin-1 and not
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    pixels = np.full((3, 5, 3), 0.5, dtype=np.float32) + np.arange(5, dtype=np.float32)[:, None] / 10
    buffer = io.BytesIO()
    images.to_pil(pixels).save(buffer, format="PNG", pnginfo=info, compress_level=4)
    ours, pillows = chunks_of(png.png_bytes(pixels, texts)), chunks_of(buffer.getvalue())
    assert [k for k, _ in ours] == [*[k for k, _ in pillows if k != b"IDAT"][:-1], b"IDAT", b"IEND"]
    assert [c for c in ours if c[0] in (b"IHDR", b"tEXt", b"iTXt")] == \
        [c for c in pillows if c[0] in (b"IHDR", b"tEXt", b"iTXt")]


def test_a_key_that_is_not_latin1_fails_like_pillow() -> None:
    with pytest.raises(UnicodeEncodeError):
        png.png_bytes(np.zeros((1, 1, 3), dtype=np.float32), {"\u732b": "x"})


@pytest.mark.parametrize("shape", [(5, 7, 3), (5, 7, 4), (5, 7, 1), (5, 7), (1, 1, 3), (64, 33, 3)],
                         ids=["rgb", "rgba", "grey", "mask", "one-pixel", "odd-width"])
def test_pictures_decode_to_their_bytes(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(4).random(shape, dtype=np.float32) * 1.2 - 0.1
    _, data = decoded(png.png_bytes(pixels))
    expected = images.to_uint8(pixels)
    assert np.array_equal(data, expected.reshape(data.shape))


def test_rows_fed_in_slices_give_one_stream_of_all_rows() -> None:
    rows = np.random.default_rng(2).integers(0, 256, (40, 9, 3), dtype=np.uint8)
    encoder = png.RowEncoder(1)
    for start in range(0, 40, 16):
        encoder.feed(rows[start:start + 16])
    _, data = decoded(png.png_file(9, 40, 3, encoder.finish()))
    assert np.array_equal(data, rows)


@pytest.mark.parametrize(("width", "height"), [(64, 64), (512, 512), (7, 3000), (1536, 96), (3, 1)])
def test_solid_pictures_encode_to_the_same_pixels_as_pillow(width: int, height: int) -> None:
    solid = np.broadcast_to(np.array([0.3, 0.5, 0.9], dtype=np.float32), (height, width, 3))
    assert images.is_solid(solid)
    fast, pixels = decoded(png.png_bytes(solid, {"prompt": "{}", "workflow": "{\"a\": 1}"}))
    assert fast.size == (width, height) and fast.mode == "RGB"
    assert fast.text == {"prompt": "{}", "workflow": "{\"a\": 1}"}
    assert np.array_equal(pixels, np.asarray(images.to_pil(np.ascontiguousarray(solid))))


def test_one_pixel_conversion_matches_to_uint8_on_float32_edge_values() -> None:
    """The solid-PNG fast path converts its pixel without numpy; it must give to_uint8's bytes."""
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, 0.5, 2.0, -1.0, 1e-45, 3e38, -3e38, float("inf"), float("-inf"), float("nan")]
    values += [k / 255 for k in range(256)] + [rng.random() for _ in range(5000)]
    pixels = np.array(values, dtype=np.float32)
    below = np.nextafter(pixels, np.float32(0))  # just under each value, where rounding decides
    for array in (pixels, below):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy on inf/nan
            expected = images.to_uint8(array).tobytes()
        assert png._pixel_bytes(array.tolist()) == expected


# ---- pictures drawn in cells ------------------------------------------------------------------
@pytest.mark.parametrize(("width", "height", "band"), [(64, 48, (16, 16)), (512, 512, (320, 144)), (8, 8, None),
                                                       (24, 40, (0, 16)), (24, 40, (24, 16)), (10920, 16, None)],
                         ids=["band", "512", "one-cell", "band-on-top", "band-at-bottom", "widest"])
def test_a_cell_picture_stream_inflates_to_its_pixels(width: int, height: int, band: tuple[int, int] | None) -> None:
    rng = np.random.default_rng(width + height)
    cells = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    expected = np.repeat(np.repeat(cells, 8, axis=0), 8, axis=1)
    segment, start = None, 0
    if band is not None:
        start, rows = band
        expected[start:start + rows] = rng.integers(0, 256, (rows, width, 3), dtype=np.uint8)
        segment = png.band_segment(expected[start:start + rows], 1)
    _, data = decoded(png.png_file(width, height, 3, png.cell_picture_stream(cells, start, segment)))
    assert np.array_equal(data, expected)


# ---- pictures encoded by whoever drew them ------------------------------------------------------
def test_a_remembered_batch_is_written_from_its_streams() -> None:
    drawing = images.draw(3, "a cat", 64, 64)
    batch = np.stack([drawing.pixels()])
    batch.flags.writeable = False
    stream = png.cell_picture_stream(images.to_uint8(drawing.cells), drawing.band[0],
                                     png.band_segment(images.to_uint8(batch[0, slice(*drawing.band)]), 1))
    png.remember(batch, [stream])
    (data,) = png.png_batch(batch, {"prompt": "{}"})
    assert data == png.png_file(64, 64, 3, stream, png.text_chunk_bytes({"prompt": "{}"}))
    assert np.array_equal(decoded(data)[1], images.to_uint8(batch[0]))
    copy = batch.copy()  # the same pixels, but not the array the streams belong to
    assert next(png.png_batch(copy)) == png.png_bytes(copy[0])


def test_only_read_only_batches_are_remembered_and_only_while_they_live() -> None:
    batch = np.zeros((1, 8, 8, 3), dtype=np.float32)
    with pytest.raises(ValueError):
        png.remember(batch, [b""])
    batch.flags.writeable = False
    before = len(png._ENCODED)
    png.remember(batch, [b""])
    assert len(png._ENCODED) == before + 1
    del batch
    assert len(png._ENCODED) == before
