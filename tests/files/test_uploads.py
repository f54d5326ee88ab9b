"""Uploads (``core/files/uploads.py``): ComfyUI's rename rule, the upload errors, and the mask
upload's composite of the original's RGB with the mask's alpha."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fakecomfy.core.files import FilePart, FileStore, UploadForm
from fakecomfy.core.paths import FolderPaths
from tests.files.samples import BLUE, RED, RGBA, png, status_of


def upload(store: FileStore, name: str, data: bytes, **fields: str) -> str:
    return store.upload(UploadForm(image=FilePart(name, data), **fields)).name


# ---- uploads ------------------------------------------------------------------------------------
def test_upload_defaults_to_input_and_echoes_an_empty_subfolder(store: FileStore, paths: FolderPaths) -> None:
    result = store.upload(UploadForm(image=FilePart("a.png", RED)))
    assert result.as_json() == {"name": "a.png", "subfolder": "", "type": "input"}
    assert (paths.input / "a.png").read_bytes() == RED


def test_reupload_follows_the_observed_rename_sequence(store: FileStore, paths: FolderPaths) -> None:
    names = [
        upload(store, "x.png", RED),
        upload(store, "x.png", RED),
        upload(store, "x.png", BLUE),
        upload(store, "x.png", BLUE),
        upload(store, "x.png", RGBA),
        upload(store, "x.png", BLUE, overwrite="true"),
        upload(store, "x.png", RED, overwrite="false"),
    ]
    assert names == ["x.png", "x.png", "x (1).png", "x (1).png", "x (2).png", "x.png", "x (3).png"]
    assert (paths.input / "x.png").read_bytes() == BLUE
    assert (paths.input / "x (3).png").read_bytes() == RED


def test_rename_stops_at_a_numbered_name_holding_the_same_bytes(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "y.png").write_bytes(RED)
    (paths.input / "y (1).png").write_bytes(BLUE)
    (paths.input / "y (2).png").write_bytes(RGBA)
    assert upload(store, "y.png", RGBA) == "y (2).png"
    assert sorted(p.name for p in paths.input.glob("y*")) == ["y (1).png", "y (2).png", "y.png"]


def test_name_without_extension_gets_a_bare_suffix(store: FileStore) -> None:
    assert upload(store, "noext", RED) == "noext"
    assert upload(store, "noext", BLUE) == "noext (1)"


@pytest.mark.parametrize("value", ["true", "1"])
def test_overwrite_replaces_for_true_and_1(store: FileStore, paths: FolderPaths, value: str) -> None:
    upload(store, "o.png", RED)
    assert upload(store, "o.png", BLUE, overwrite=value) == "o.png"
    assert (paths.input / "o.png").read_bytes() == BLUE


@pytest.mark.parametrize("value", ["false", "True", "yes", "0", ""])
def test_other_overwrite_values_rename(store: FileStore, value: str) -> None:
    upload(store, "o.png", RED)
    assert upload(store, "o.png", BLUE, overwrite=value) == "o (1).png"


@pytest.mark.parametrize("kind", ["input", "temp", "output"])
def test_upload_type_picks_the_directory(store: FileStore, paths: FolderPaths, kind: str) -> None:
    result = store.upload(UploadForm(image=FilePart("t.png", RED), type=kind))
    assert result.type == kind
    assert (Path(str(store.directory(kind))) / "t.png").read_bytes() == RED


def test_subfolder_is_created_and_echoed_as_given(store: FileStore, paths: FolderPaths) -> None:
    result = store.upload(UploadForm(image=FilePart("s.png", RED), subfolder="a/b/../c"))
    assert result.as_json() == {"name": "s.png", "subfolder": "a/b/../c", "type": "input"}
    assert (paths.input / "a" / "c" / "s.png").read_bytes() == RED


@pytest.mark.parametrize("kind", ["bogus", "", "INPUT"])
def test_unknown_type_is_a_500_checked_before_the_image(store: FileStore, kind: str) -> None:
    assert status_of(store.upload, UploadForm(image=FilePart("a.png", RED), type=kind)) == 500
    assert status_of(store.upload, UploadForm(type=kind)) == 500


@pytest.mark.parametrize("image", [None, "", b""], ids=["absent", "empty-text", "empty-bytes"])
def test_missing_or_empty_image_is_a_400(store: FileStore, image: str | bytes | None) -> None:
    assert status_of(store.upload, UploadForm(image=image)) == 400


@pytest.mark.parametrize("image", ["not a file", b"\x89PNG"], ids=["text", "bytes"])
def test_image_part_without_filename_is_a_500(store: FileStore, image: str | bytes) -> None:
    assert status_of(store.upload, UploadForm(image=image)) == 500


@pytest.mark.parametrize(
    ("filename", "subfolder"),
    [("../x.png", ""), ("a/../../x.png", ""), ("x.png", "../x"), ("x.png", "/tmp"), ("x.png", "a/../..")],
)
def test_upload_escaping_the_directory_is_a_400_and_writes_nothing(
    store: FileStore, paths: FolderPaths, filename: str, subfolder: str
) -> None:
    before = sorted(p.name for p in paths.base.rglob("*"))
    assert status_of(store.upload, UploadForm(image=FilePart(filename, RED), subfolder=subfolder)) == 400
    assert sorted(p.name for p in paths.base.rglob("*")) == before


def test_filesystem_failures_are_a_500(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "taken").write_bytes(b"a file, not a folder")
    assert status_of(store.upload, UploadForm(image=FilePart("x.png", RED), subfolder="taken")) == 500
    assert status_of(store.upload, UploadForm(image=FilePart("nodir/x.png", RED))) == 500


def test_any_bytes_are_accepted(store: FileStore, paths: FolderPaths) -> None:
    assert upload(store, "notes.bin", b"\x00\x01 not an image") == "notes.bin"
    assert (paths.input / "notes.bin").read_bytes() == b"\x00\x01 not an image"


# ---- mask uploads -------------------------------------------------------------------------------
def mask_form(name: str, mask: bytes, ref: object, **fields: str) -> UploadForm:
    original_ref = ref if isinstance(ref, str) or ref is None else json.dumps(ref)
    return UploadForm(image=FilePart(name, mask), original_ref=original_ref, **fields)


def test_mask_combines_original_rgb_with_mask_alpha(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "orig.png").write_bytes(png((10, 20, 30), text={"prompt": "{}"}))
    mask = png((0, 0, 0, 77), "RGBA")
    result = store.upload_mask(mask_form("clipspace-mask.png", mask, {"filename": "orig.png", "type": "input"}))
    assert result.as_json() == {"name": "clipspace-mask.png", "subfolder": "", "type": "input"}
    with Image.open(paths.input / "clipspace-mask.png") as saved:
        assert saved.format == "PNG" and saved.mode == "RGBA"
        assert saved.getpixel((3, 3)) == (10, 20, 30, 77)
        assert saved.text == {"prompt": "{}"}


def test_mask_alpha_of_an_rgb_mask_is_opaque(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "o.png").write_bytes(png((1, 2, 3, 0), "RGBA"))
    store.upload_mask(mask_form("m.png", png((9, 9, 9)), {"filename": "o.png"}))  # type defaults to output
    with Image.open(paths.input / "m.png") as saved:
        assert saved.getpixel((0, 0)) == (1, 2, 3, 255)


def test_mask_original_may_be_annotated(store: FileStore, paths: FolderPaths) -> None:
    (paths.temp / "t.png").write_bytes(png((5, 5, 5), size=(16, 8)))
    store.upload_mask(mask_form("m.png", RGBA, {"filename": "t.png [temp]", "type": "output"}, subfolder="masks"))
    with Image.open(paths.input / "masks" / "m.png") as saved:
        assert saved.getpixel((0, 0)) == (5, 5, 5, 128)


def test_mask_original_in_a_subfolder(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "run").mkdir()
    (paths.output / "run" / "o.png").write_bytes(png((7, 7, 7), size=(16, 8)))
    store.upload_mask(mask_form("m.png", RGBA, {"filename": "o.png", "type": "output", "subfolder": "run"}))
    with Image.open(paths.input / "m.png") as saved:
        assert saved.getpixel((0, 0)) == (7, 7, 7, 128)


@pytest.mark.parametrize(
    "ref",
    [
        {"filename": "missing.png", "type": "input"},
        {"filename": "../input/orig.png", "type": "input"},
        {"filename": "a..b.png", "type": "input"},
        {"filename": "/etc/passwd", "type": "input"},
        {"filename": "orig.png", "type": "bogus"},
        {"filename": "orig.png", "type": "input", "subfolder": "../output"},
        {"filename": "", "type": "input"},
    ],
    ids=["missing", "dotdot", "inner-dots", "absolute", "bad-type", "subfolder-escape", "empty"],
)
def test_unusable_original_answers_the_name_but_writes_nothing(
    store: FileStore, paths: FolderPaths, ref: dict[str, str]
) -> None:
    for root in (paths.input, paths.output):
        (root / "orig.png").write_bytes(png((1, 1, 1), size=(16, 8)))
    result = store.upload_mask(mask_form("m.png", RGBA, ref))
    assert result.name == "m.png"
    assert not (paths.input / "m.png").exists()


@pytest.mark.parametrize("ref", [None, "not json", "[1]", '{"type": "input"}', '{"filename": 5}'],
                         ids=["absent", "bad-json", "list", "no-filename", "number"])
def test_bad_original_ref_is_a_500(store: FileStore, paths: FolderPaths, ref: str | None) -> None:
    (paths.input / "orig.png").write_bytes(RED)
    assert status_of(store.upload_mask, mask_form("m.png", RGBA, ref)) == 500


def test_mask_size_mismatch_is_a_500(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "orig.png").write_bytes(RED)  # 16x16, the mask is 16x8
    assert status_of(store.upload_mask, mask_form("m.png", RGBA, {"filename": "orig.png", "type": "input"})) == 500


def test_mask_name_extension_picks_the_saved_format(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "orig.png").write_bytes(png((1, 1, 1), size=(16, 8)))
    # Like ComfyUI, RGBA cannot be written as JPEG: a 500.
    form = mask_form("m.jpg", RGBA, {"filename": "orig.png", "type": "input"})
    assert status_of(store.upload_mask, form) == 500


def test_mask_without_image_is_a_400_before_original_ref(store: FileStore) -> None:
    assert status_of(store.upload_mask, UploadForm()) == 400


def test_mask_duplicate_of_existing_file_skips_original_ref(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "m.png").write_bytes(RGBA)
    assert store.upload_mask(mask_form("m.png", RGBA, None)).name == "m.png"
