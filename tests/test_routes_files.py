"""The wire of uploads and /view: status codes, bodies, headers, the upload limit, traversal."""
from __future__ import annotations

import http.client
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from fakecomfy import protocol
from fakecomfy.testing import ServerThread
from tests.conftest import Answer

BOUNDARY = "----fakecomfytestboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MiB = 1024 * 1024


def png(color: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


RED = png((255, 0, 0))
BLUE = png((0, 0, 255))
RGBA = png((0, 255, 0, 128), "RGBA", (16, 8))


def multipart(*parts: tuple[str, str | None, bytes | str]) -> bytes:
    """Parts are (field name, filename or None for a plain field, content)."""
    out = io.BytesIO()
    for name, filename, content in parts:
        out.write(f"--{BOUNDARY}\r\n".encode())
        if filename is None:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode())
            out.write(b"Content-Type: image/png\r\n\r\n")
        out.write(content.encode() if isinstance(content, str) else content)
        out.write(b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def post_upload(client: TestClient, filename: str, data: bytes, path: str = "/upload/image",
                **fields: str) -> tuple[int, object]:
    body = multipart(("image", filename, data), *((k, None, v) for k, v in fields.items()))
    r = client.post(path, content=body, headers={"Content-Type": MULTIPART})
    return r.status_code, (r.json() if r.status_code == 200 else r.content)


def assert_empty(r: Answer, status: int) -> None:
    assert r.status_code == status
    assert r.content == b""
    assert "content-type" not in r.headers


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ---- POST /upload/image -------------------------------------------------------------------------
def test_upload_answers_json_and_view_serves_the_same_bytes(client: TestClient, base_dir: Path) -> None:
    r = client.post("/upload/image", content=multipart(("image", "a.png", RED)), headers={"Content-Type": MULTIPART})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.text == '{"name": "a.png", "subfolder": "", "type": "input"}'
    v = client.get("/view", params={"filename": "a.png", "type": "input"})
    assert v.status_code == 200 and v.content == RED
    assert v.headers["content-type"] == "image/png"
    assert v.headers["content-disposition"] == 'filename="a.png"'
    assert (base_dir / "input" / "a.png").read_bytes() == RED


def test_default_view_type_is_output(client: TestClient) -> None:
    post_upload(client, "a.png", RED)
    assert_empty(client.get("/view", params={"filename": "a.png"}), 404)


def test_api_aliases(client: TestClient) -> None:
    assert post_upload(client, "b.png", BLUE, path="/api/upload/image") == (
        200, {"name": "b.png", "subfolder": "", "type": "input"})
    assert client.get("/api/view", params={"filename": "b.png", "type": "input"}).content == BLUE


def test_reuploads_follow_the_observed_rename_sequence(client: TestClient) -> None:
    sequence = [(RED, {}), (RED, {}), (BLUE, {}), (BLUE, {}), (RGBA, {}), (BLUE, {"overwrite": "true"}),
                (RED, {"overwrite": "false"}), (RED, {"overwrite": "1"})]
    names = []
    for data, fields in sequence:
        status, body = post_upload(client, "x.png", data, **fields)
        assert status == 200 and isinstance(body, dict)
        names.append(body["name"])
    assert names == ["x.png", "x.png", "x (1).png", "x (1).png", "x (2).png", "x.png", "x (3).png", "x.png"]
    assert client.get("/view", params={"filename": "x.png", "type": "input"}).content == RED


def test_subfolder_and_type_are_echoed(client: TestClient, base_dir: Path) -> None:
    assert post_upload(client, "s.png", RED, subfolder="run/a", type="temp") == (
        200, {"name": "s.png", "subfolder": "run/a", "type": "temp"})
    assert client.get("/view", params={"filename": "s.png", "type": "temp", "subfolder": "run/a"}).content == RED


def test_first_of_repeated_fields_wins(client: TestClient, base_dir: Path) -> None:
    body = multipart(("image", "first.png", RED), ("image", "second.png", BLUE), ("type", None, "temp"),
                     ("type", None, "output"))
    r = client.post("/upload/image", content=body, headers={"Content-Type": MULTIPART})
    assert r.json() == {"name": "first.png", "subfolder": "", "type": "temp"}
    assert (base_dir / "temp" / "first.png").read_bytes() == RED


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (multipart(("file", "a.png", RED)), MULTIPART),
        (multipart(("overwrite", None, "true")), MULTIPART),
        (RED, "image/png"),
        (b'{"image": "a.png"}', "application/json"),
        (RED, None),
    ],
    ids=["wrong-field", "no-image", "raw-png", "json", "no-content-type"],
)
def test_upload_without_an_image_part_is_an_empty_400(client: TestClient, body: bytes, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    assert_empty(client.post("/upload/image", content=body, headers=headers), 400)


def test_image_sent_as_a_plain_field_is_a_500(client: TestClient) -> None:
    r = client.post("/upload/image", content=multipart(("image", None, "abc")), headers={"Content-Type": MULTIPART})
    assert (r.status_code, r.text) == (500, protocol.TEXT_500)


def test_empty_filename_is_a_500(client: TestClient, base_dir: Path) -> None:
    before = tree(base_dir)
    status, body = post_upload(client, "", RED)
    assert (status, body) == (500, protocol.TEXT_500.encode())
    assert tree(base_dir) == before


@pytest.mark.parametrize("kind", ["bogus", ""])
def test_unknown_type_is_a_500(client: TestClient, kind: str) -> None:
    r = client.post("/upload/image", content=multipart(("image", "a.png", RED), ("type", None, kind)),
                    headers={"Content-Type": MULTIPART})
    assert (r.status_code, r.headers["content-type"], r.text) == (500, protocol.TEXT_MEDIA, protocol.TEXT_500)


@pytest.mark.parametrize(
    ("filename", "fields"),
    [("../x.png", {}), ("../../x.png", {"type": "temp"}), ("x.png", {"subfolder": "../x"}),
     ("x.png", {"subfolder": "/tmp"}), ("x.png", {"subfolder": "a/../../x"})],
    ids=["filename", "filename-temp", "subfolder", "absolute-subfolder", "nested-subfolder"],
)
def test_upload_traversal_is_an_empty_400_and_writes_nothing(
    client: TestClient, base_dir: Path, filename: str, fields: dict[str, str]
) -> None:
    before = tree(base_dir.parent)
    body = multipart(("image", filename, RED), *((k, None, v) for k, v in fields.items()))
    assert_empty(client.post("/upload/image", content=body, headers={"Content-Type": MULTIPART}), 400)
    assert tree(base_dir.parent) == before


def test_any_bytes_are_accepted_and_served(client: TestClient) -> None:
    assert post_upload(client, "note.txt", b"hello")[0] == 200
    r = client.get("/view", params={"filename": "note.txt", "type": "input"})
    assert (r.content, r.headers["content-type"]) == (b"hello", "text/plain")


# ---- the upload limit ---------------------------------------------------------------------------
@pytest.fixture
def limited(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(max_upload_size=1)


@pytest.mark.parametrize("size", [MiB, 2 * MiB], ids=["1MiB", "2MiB"])
def test_over_limit_upload_is_a_413_and_writes_nothing(limited: TestClient, base_dir: Path, size: int) -> None:
    status, body = post_upload(limited, "big.bin", b"x" * size)
    assert (status, body) == (413, b"Maximum request body size 1048576 exceeded.")
    assert not (base_dir / "input" / "big.bin").exists()
    assert_empty(limited.get("/view", params={"filename": "big.bin", "type": "input"}), 404)


@pytest.mark.parametrize("size", [MiB - 1024, 512 * 1024], ids=["1MiB-1KiB", "512KiB"])
def test_under_limit_upload_is_stored_byte_identical(limited: TestClient, base_dir: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256)
    assert post_upload(limited, "ok.bin", data)[0] == 200
    assert (base_dir / "input" / "ok.bin").read_bytes() == data


def test_over_limit_mask_is_a_413_before_original_ref(limited: TestClient, base_dir: Path) -> None:
    status, _ = post_upload(limited, "m.png", b"x" * 2 * MiB, path="/upload/mask")
    assert status == 413
    assert not (base_dir / "input" / "m.png").exists()


# ---- POST /upload/mask --------------------------------------------------------------------------
def ref(filename: str, kind: str = "input", subfolder: str = "") -> str:
    return json.dumps({"filename": filename, "type": kind, "subfolder": subfolder})


def test_mask_upload_writes_an_rgba_png(client: TestClient) -> None:
    post_upload(client, "orig.png", png((10, 20, 30), size=(16, 8)))
    mask = png((0, 0, 0, 200), "RGBA", (16, 8))
    status, body = post_upload(client, "mask.png", mask, path="/upload/mask", original_ref=ref("orig.png"))
    assert (status, body) == (200, {"name": "mask.png", "subfolder": "", "type": "input"})
    r = client.get("/view", params={"filename": "mask.png", "type": "input"})
    img = Image.open(io.BytesIO(r.content))
    assert (img.format, img.mode, img.size, img.getpixel((0, 0))) == ("PNG", "RGBA", (16, 8), (10, 20, 30, 200))


@pytest.mark.parametrize(
    "original_ref",
    [ref("missing.png"), ref("../input/orig.png"), ref("../../etc/passwd"), ref("orig.png", subfolder="../output"),
     ref("/etc/passwd")],
    ids=["missing", "dotdot", "deep-dotdot", "subfolder-escape", "absolute"],
)
def test_mask_with_unusable_original_answers_200_but_writes_nothing(
    client: TestClient, base_dir: Path, original_ref: str
) -> None:
    (base_dir / "output").mkdir(exist_ok=True)
    (base_dir / "output" / "orig.png").write_bytes(RGBA)
    post_upload(client, "orig.png", RGBA)
    status, body = post_upload(client, "m.png", RGBA, path="/upload/mask", original_ref=original_ref)
    assert (status, body) == (200, {"name": "m.png", "subfolder": "", "type": "input"})
    assert_empty(client.get("/view", params={"filename": "m.png", "type": "input"}), 404)


def test_mask_without_original_ref_is_a_500(client: TestClient) -> None:
    status, body = post_upload(client, "m.png", RGBA, path="/upload/mask")
    assert (status, body) == (500, protocol.TEXT_500.encode())


def test_mask_traversal_in_its_own_name_is_a_400(client: TestClient) -> None:
    assert_empty(client.post("/upload/mask", content=multipart(("image", "../m.png", RGBA),
                                                               ("original_ref", None, ref("example.png"))),
                             headers={"Content-Type": MULTIPART}), 400)


# ---- GET /view ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 404),
        ("filename=missing.png&type=input", 404),
        ("filename=missing.png%20%5Boutput%5D", 404),
        ("filename=&type=input", 400),
        ("filename=../comfyui.db&type=input", 400),
        ("filename=/etc/passwd&type=input", 400),
        ("filename=..%2Fexample.png&type=input", 400),
        ("filename=..%252Fx.png&type=input", 400),
        ("filename=a..b.png&type=input", 400),
        ("filename=example.png&type=bogus", 400),
        ("filename=example.png&type=input&subfolder=..", 403),
        ("filename=example.png&type=input&subfolder=../..", 403),
        ("filename=example.png&type=input&subfolder=/etc", 403),
        ("filename=example.png&type=input&subfolder=%2Fetc", 403),
        ("filename=passwd&type=input&subfolder=../../../../../../etc", 403),
        ("filename=example.png&type=output&subfolder=..%2Finput", 403),
    ],
)
def test_view_errors_are_empty(client: TestClient, query: str, status: int) -> None:
    assert_empty(client.get(f"/view?{query}"), status)


def test_view_annotation_overrides_type(client: TestClient) -> None:
    post_upload(client, "r.png", RGBA)
    for params in ({"filename": "r.png [input]"}, {"filename": "r.png [input]", "type": "output"}):
        r = client.get("/view", params=params)
        assert (r.status_code, r.content, r.headers["content-disposition"]) == (200, RGBA, 'filename="r.png"')


def test_view_takes_the_first_of_repeated_parameters(client: TestClient) -> None:
    post_upload(client, "r.png", RGBA)
    assert client.get("/view?filename=r.png&type=input&type=output").content == RGBA


def test_view_head_has_the_headers(client: TestClient) -> None:
    post_upload(client, "r.png", RGBA)
    r = client.head("/view", params={"filename": "r.png", "type": "input"})
    assert (r.status_code, r.headers["content-length"], r.headers["content-type"]) == (200, str(len(RGBA)), "image/png")


@pytest.mark.parametrize(
    ("filename", "media"),
    [("page.html", "application/octet-stream"), ("app.js", "application/javascript; charset=utf-8"),
     ("note.txt", "text/plain"), ("data.json", "application/json"), ("blob.unknownext", "application/octet-stream")],
)
def test_view_media_types(client: TestClient, filename: str, media: str) -> None:
    post_upload(client, filename, b"<html></html>")
    r = client.get("/view", params={"filename": filename, "type": "input"})
    assert (r.content, r.headers["content-type"]) == (b"<html></html>", media)
    assert r.headers["content-disposition"] == f'filename="{filename}"'


def test_view_content_disposition_is_utf8(make_server: Callable[..., ServerThread], base_dir: Path) -> None:
    (base_dir / "input" / "bild-ä.png").write_bytes(RED)
    srv = make_server()
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request("GET", "/view?filename=bild-%C3%A4.png&type=input")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, RED)
        # http.client decodes header bytes as Latin-1; re-encoding gives the bytes on the wire.
        assert r.getheader("content-disposition", "").encode("latin-1") == 'filename="bild-ä.png"'.encode()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("params", "media", "fmt", "mode"),
    [
        ({"preview": "webp;50"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "jpeg;80"}, "image/jpeg", "JPEG", "RGB"),
        ({"preview": "jpeg;80", "channel": "a"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "png"}, "image/webp", "WEBP", "RGBA"),
        ({"preview": "webp", "channel": "rgb"}, "image/webp", "WEBP", "RGB"),
        ({"channel": "rgb"}, "image/png", "PNG", "RGB"),
        ({"channel": "a"}, "image/png", "PNG", "RGBA"),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_view_conversions(client: TestClient, params: dict[str, str], media: str, fmt: str, mode: str) -> None:
    post_upload(client, "r.png", RGBA)
    r = client.get("/view", params={"filename": "r.png", "type": "input", **params})
    assert r.status_code == 200
    assert (r.headers["content-type"], r.headers["content-disposition"]) == (media, 'filename="r.png"')
    img = Image.open(io.BytesIO(r.content))
    assert (img.format, img.mode, img.size) == (fmt, mode, (16, 8))


@pytest.mark.parametrize("channel", ["rgba", "bogus"])
def test_view_other_channels_return_the_raw_file(client: TestClient, channel: str) -> None:
    post_upload(client, "r.png", RGBA)
    assert client.get("/view", params={"filename": "r.png", "type": "input", "channel": channel}).content == RGBA


def test_view_preview_of_a_non_image_is_a_500(client: TestClient) -> None:
    post_upload(client, "fake.png", b"not an image")
    r = client.get("/view", params={"filename": "fake.png", "type": "input", "preview": "webp"})
    assert (r.status_code, r.text) == (500, protocol.TEXT_500)


def test_cors_headers_on_returned_errors_only(make_client: Callable[..., TestClient]) -> None:
    client = make_client(enable_cors_header="*")
    assert client.get("/view", params={"filename": "missing.png"}).headers["access-control-allow-origin"] == "*"
    body = multipart(("image", "a.png", RED), ("type", None, "bogus"))
    r = client.post("/upload/image", content=body, headers={"Content-Type": MULTIPART})
    assert r.status_code == 500 and "access-control-allow-origin" not in r.headers
