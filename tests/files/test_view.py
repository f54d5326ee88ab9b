"""/view (``core/files/view.py``): the lookup with ComfyUI's refusals, and the preview and
channel conversions."""
from __future__ import annotations

import io
import mimetypes

import pytest
from PIL import Image

from fakecomfy.core.files import FileStore, ViewQuery
from fakecomfy.core.paths import FolderPaths
from tests.files.samples import BLUE, RED, RGBA, status_of


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
     ("p.htm", "application/octet-stream"),
     # ComfyUI registers this type for .js at start, so /view does not force a download of scripts
     ("s.js", "application/javascript; charset=utf-8"),
     ("s.css", "application/octet-stream"), ("p.xhtml", "application/octet-stream"),
     ("x.latent", "application/octet-stream"), ("pic.webp", "image/webp")],
)
def test_plain_files_get_guessed_media_types(store: FileStore, paths: FolderPaths, name: str, media: str) -> None:
    (paths.input / name).write_bytes(b"content")
    result = store.view(ViewQuery(filename=name, type="input"))
    assert (result.media_type, result.path, result.body) == (media, paths.input / name, None)


def test_view_types_leave_the_process_table_alone() -> None:
    assert mimetypes.guess_type("s.js")[0] != "application/javascript; charset=utf-8"


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
