"""The file store model: uploads, mask uploads, /view lookups and conversions, executor helpers."""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakecomfy.core.files import (
    FileError,
    FilePart,
    FileStore,
    SaveOutsideOutputError,
    UploadForm,
    ViewQuery,
    split_annotation,
)
from fakecomfy.core.paths import FolderPaths
from fakecomfy.settings import Settings


def png(color: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (16, 16),
        text: dict[str, str] | None = None) -> bytes:
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


RED = png((255, 0, 0))
BLUE = png((0, 0, 255))
RGBA = png((0, 255, 0, 128), "RGBA", (16, 8))


@pytest.fixture
def paths(tmp_path: Path) -> FolderPaths:
    p = FolderPaths.from_settings(Settings(), tmp_path / "base")
    p.create_dirs()
    return p


@pytest.fixture
def store(paths: FolderPaths) -> FileStore:
    return FileStore(paths)


def upload(store: FileStore, name: str, data: bytes, **fields: str) -> str:
    return store.upload(UploadForm(image=FilePart(name, data), **fields)).name


def status_of(fn: object, *args: object) -> int:
    with pytest.raises(FileError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.status


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


# ---- /view lookup -------------------------------------------------------------------------------
@pytest.fixture
def viewable(paths: FolderPaths) -> FolderPaths:
    (paths.input / "in.png").write_bytes(RGBA)
    (paths.output / "sub").mkdir()
    (paths.output / "sub" / "out.png").write_bytes(RED)
    (paths.output / "out.png").write_bytes(BLUE)
    return paths


def test_view_defaults_to_output(store: FileStore, viewable: FolderPaths) -> None:
    result = store.view(ViewQuery(filename="out.png"))
    assert (result.path, result.media_type, result.filename) == (viewable.output / "out.png", "image/png", "out.png")


@pytest.mark.parametrize("kind", [None, "output", "temp", "bogus"])
def test_annotation_overrides_type(store: FileStore, viewable: FolderPaths, kind: str | None) -> None:
    assert store.view(ViewQuery(filename="in.png [input]", type=kind)).path == viewable.input / "in.png"


def test_view_uses_only_the_basename_of_the_filename(store: FileStore, viewable: FolderPaths) -> None:
    # Quirk of ComfyUI: "sub/out.png" is looked up as "out.png" in the type directory.
    assert store.view(ViewQuery(filename="sub/out.png")).path == viewable.output / "out.png"
    assert store.view(ViewQuery(filename="out.png", subfolder="sub")).path == viewable.output / "sub" / "out.png"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (ViewQuery(), 404),
        (ViewQuery(filename="missing.png", type="input"), 404),
        (ViewQuery(filename="sub", type="output"), 404),
        (ViewQuery(filename="", type="input"), 400),
        (ViewQuery(filename=" [input]"), 400),
        (ViewQuery(filename="/etc/passwd", type="input"), 400),
        (ViewQuery(filename="../in.png", type="output"), 400),
        (ViewQuery(filename="..%2Fin.png", type="input"), 400),
        (ViewQuery(filename="a..b.png", type="input"), 400),
        (ViewQuery(filename="out.png", type="bogus"), 400),
        (ViewQuery(filename="out.png", type=""), 400),
        (ViewQuery(filename="in.png", type="input", subfolder=".."), 403),
        (ViewQuery(filename="in.png", type="input", subfolder="../.."), 403),
        (ViewQuery(filename="in.png", type="input", subfolder="/etc"), 403),
        (ViewQuery(filename="passwd", type="input", subfolder="../../../../../../etc"), 403),
        (ViewQuery(filename="in.png", type="output", subfolder="../input"), 403),
    ],
    ids=lambda v: None if isinstance(v, int) else repr((v.filename, v.type, v.subfolder)),
)
def test_view_error_statuses(store: FileStore, viewable: FolderPaths, query: ViewQuery, status: int) -> None:
    assert status_of(store.view, query) == status


def test_empty_subfolder_is_the_type_directory(store: FileStore, viewable: FolderPaths) -> None:
    assert store.view(ViewQuery(filename="in.png", type="input", subfolder="")).path == viewable.input / "in.png"


@pytest.mark.parametrize(
    ("name", "media"),
    [("n.txt", "text/plain"), ("d.json", "application/json"), ("p.html", "application/octet-stream"),
     ("p.htm", "application/octet-stream"), ("s.js", "application/octet-stream"),
     ("s.css", "application/octet-stream"), ("p.xhtml", "application/octet-stream"),
     ("x.latent", "application/octet-stream"), ("pic.webp", "image/webp")],
)
def test_plain_files_get_guessed_media_types(store: FileStore, paths: FolderPaths, name: str, media: str) -> None:
    (paths.input / name).write_bytes(b"content")
    result = store.view(ViewQuery(filename=name, type="input"))
    assert (result.media_type, result.path, result.body) == (media, paths.input / name, None)


@pytest.mark.parametrize("channel", ["rgba", "bogus", ""])
def test_other_channels_serve_the_file_itself(store: FileStore, viewable: FolderPaths, channel: str) -> None:
    assert store.view(ViewQuery(filename="in.png", type="input", channel=channel)).path == viewable.input / "in.png"


# ---- /view conversions --------------------------------------------------------------------------
def converted(store: FileStore, **query: str) -> tuple[str, Image.Image]:
    result = store.view(ViewQuery(filename="in.png", type="input", **query))
    assert result.path is None and result.body is not None and result.filename == "in.png"
    img = Image.open(io.BytesIO(result.body))
    img.load()
    return result.media_type, img


@pytest.mark.parametrize(
    ("query", "media", "fmt", "mode"),
    [
        ({"preview": "webp;50"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "webp"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "jpeg;80"}, "image/jpeg", "JPEG", "RGB"),
        ({"preview": "jpeg"}, "image/jpeg", "JPEG", "RGB"),
        ({"preview": "jpeg;80", "channel": "a"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "jpeg", "channel": "rgba"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "png"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "webp", "channel": "rgb"}, "image/webp", "WEBP", "RGB"),
        ({"channel": "rgb"}, "image/png", "PNG", "RGB"),
        ({"channel": "a"}, "image/png", "PNG", "RGBA"),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_conversions(store: FileStore, viewable: FolderPaths, query: dict[str, str], media: str, fmt: str,
                     mode: str) -> None:
    got_media, img = converted(store, **query)
    assert (got_media, img.format, img.mode, img.size) == (media, fmt, mode, (16, 8))


def test_preview_quality_changes_the_jpeg(store: FileStore, viewable: FolderPaths) -> None:
    low = store.view(ViewQuery(filename="in.png", type="input", preview="jpeg;5")).body
    high = store.view(ViewQuery(filename="in.png", type="input", preview="jpeg;100")).body
    default = store.view(ViewQuery(filename="in.png", type="input", preview="jpeg")).body
    ninety = store.view(ViewQuery(filename="in.png", type="input", preview="jpeg;90")).body
    assert low is not None and high is not None and len(low) < len(high)
    assert default == ninety


def test_alpha_channel_keeps_only_alpha(store: FileStore, viewable: FolderPaths) -> None:
    _, img = converted(store, channel="a")
    assert img.getpixel((0, 0)) == (0, 0, 0, 128)


def test_alpha_channel_of_an_rgb_source_is_opaque(store: FileStore, viewable: FolderPaths) -> None:
    img = Image.open(io.BytesIO(store.view(ViewQuery(filename="out.png", channel="a")).body or b""))
    assert (img.mode, img.getpixel((0, 0))) == ("RGBA", (0, 0, 0, 255))


def test_rgb_channel_drops_alpha(store: FileStore, viewable: FolderPaths) -> None:
    _, img = converted(store, channel="rgb")
    assert img.getpixel((0, 0)) == (0, 255, 0)


def test_converting_a_non_image_is_a_500(store: FileStore, paths: FolderPaths) -> None:
    (paths.input / "n.png").write_bytes(b"not a png")
    assert status_of(store.view, ViewQuery(filename="n.png", type="input", preview="webp")) == 500
    assert status_of(store.view, ViewQuery(filename="n.png", type="input", channel="a")) == 500


# ---- helpers for nodes --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.png [input]", ("a.png", "input")), ("a.png [output]", ("a.png", "output")),
     ("a.png [temp]", ("a.png", "temp")), ("a.png", ("a.png", None)), ("a.png [other]", ("a.png [other]", None)),
     ("a.png[input]", ("a.pn", "input"))],
)
def test_split_annotation(name: str, expected: tuple[str, str | None]) -> None:
    assert split_annotation(name) == expected


def test_input_images_lists_root_image_files_sorted(store: FileStore, paths: FolderPaths) -> None:
    for name in ("b.png", "a.jpg", "c.webp", "notes.txt", "model.safetensors", "noext"):
        (paths.input / name).write_bytes(b"x")
    (paths.input / "sub").mkdir()
    (paths.input / "sub" / "deep.png").write_bytes(b"x")
    (paths.input / "dir.png").mkdir()
    assert store.input_images() == ["a.jpg", "b.png", "c.webp"]


def test_annotated_path_and_exists(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "o.png").write_bytes(RED)
    assert store.annotated_path("o.png [output]") == paths.output / "o.png"
    assert store.annotated_path("o.png") == paths.input / "o.png"
    assert store.annotated_path("o.png", default_type="temp") == paths.temp / "o.png"
    assert store.annotated_exists("o.png [output]") and not store.annotated_exists("o.png")


def test_output_path(store: FileStore, paths: FolderPaths) -> None:
    assert store.output_path("temp", "", "t.png") == paths.temp / "t.png"
    assert store.output_path("output", "run/x", "o.png") == paths.output / "run" / "x" / "o.png"
    with pytest.raises(ValueError, match="bogus"):
        store.output_path("bogus", "", "x.png")


def test_save_image_path_counts_per_prefix(store: FileStore, paths: FolderPaths) -> None:
    target = store.save_image_path("run/basic")
    assert (target.folder, target.filename, target.counter, target.subfolder) == (
        paths.output / "run", "basic", 1, "run")
    for name in ("basic_00001_.png", "basic_00007_.png", "basic_x_.png", "basics_00042_.png"):
        (paths.output / "run" / name).write_bytes(b"")
    assert store.save_image_path("run/basic").counter == 8


@pytest.mark.parametrize(
    ("prefix", "subfolder", "filename"),
    [("deep/er/x", "deep/er", "x"), ("a/../norm", "", "norm"), ("trail/", "", "trail"), ("plain", "", "plain")],
)
def test_save_image_path_normalises_the_prefix(store: FileStore, prefix: str, subfolder: str, filename: str) -> None:
    target = store.save_image_path(prefix)
    assert (target.subfolder, target.filename) == (subfolder, filename)
    assert target.folder.is_dir()


def test_trailing_slash_prefix_always_restarts_at_one(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "trail_00001_.png").write_bytes(b"")
    assert store.save_image_path("trail/").counter == 1
    assert store.save_image_path("trail").counter == 2


def test_save_image_path_expands_size_and_date(store: FileStore) -> None:
    today = time.strftime("%Y-%m-%d")
    target = store.save_image_path("%year%-%month%-%day%/w%width%_h%height%", 48, 24)
    assert (target.subfolder, target.filename) == (today, "w48_h24")
    assert store.save_image_path("%date:yyyy-MM-dd%").filename == "%date:yyyy-MM-dd%"


def test_save_outside_output_is_refused(store: FileStore, paths: FolderPaths) -> None:
    with pytest.raises(SaveOutsideOutputError) as info:
        store.save_image_path("../escape")
    assert str(info.value).startswith("**** ERROR: Saving image outside the output folder is not allowed.")
    assert not (paths.base / "escape").exists()


def test_save_counter_is_remembered_and_still_sees_files_added_by_others(tmp_path: Path) -> None:
    from fakecomfy.core.files import FileStore
    from fakecomfy.core.paths import FolderPaths
    from fakecomfy.settings import Settings

    settings = Settings(base_directory=tmp_path)
    store = FileStore(FolderPaths.from_settings(settings, tmp_path))
    store.paths.create_dirs()
    first = store.save_image_path("run/img")
    (first.folder / "img_00001_.png").write_bytes(b"x")
    store.saved(first, ["img_00001_.png"])
    assert store.save_image_path("run/img").counter == 2
    # another process writes a higher counter: the folder changed, so it is rescanned
    (first.folder / "img_00007_.png").write_bytes(b"x")
    assert store.save_image_path("run/img").counter == 8
    # %batch_num% names never match the counter scan, so the counter does not advance
    batch = store.save_image_path("run/b%batch_num%")
    (batch.folder / "b0_00001_.png").write_bytes(b"x")
    store.saved(batch, ["b0_00001_.png"])
    assert store.save_image_path("run/b%batch_num%").counter == 1


@pytest.mark.parametrize("prefix", ["ComfyUI", "run/img", "../output/up"], ids=["no-subfolder", "subfolder", "dotdot"])
def test_a_remembered_counter_needs_no_folder_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   prefix: str) -> None:
    """After a save is recorded, the next counter comes from memory while the folder is
    unchanged, whatever the prefix looks like (no subfolder, a subfolder, a '..' that stays in)."""
    import fakecomfy.core.files as files_module
    from fakecomfy.core.files import FileStore
    from fakecomfy.core.paths import FolderPaths
    from fakecomfy.settings import Settings

    settings = Settings(base_directory=tmp_path)
    store = FileStore(FolderPaths.from_settings(settings, tmp_path))
    store.paths.create_dirs()
    scans: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(files_module.os, "listdir", lambda p: scans.append(str(p)) or real_listdir(p))
    first = store.save_image_path(prefix)
    name = f"{first.filename}_{first.counter:05}_.png"
    first.write(name, b"x")
    store.saved(first, [name])
    scans.clear()
    second = store.save_image_path(prefix)
    assert second.counter == first.counter + 1
    assert scans == []
