"""The Origin check of a loopback server, the fixed CORS headers of ``--enable-cors-header`` and
the request body limit of ``--max-upload-size``, as real ComfyUI 0.8.0 applies them."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import websocket
from starlette.testclient import TestClient

from fakecomfy.testing import ServerThread
from fakecomfy.web.security import is_loopback, origin_allowed
from tests.conftest import Answer

P = 8188


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, f"127.0.0.1:{P}", True),
        (f"http://127.0.0.1:{P}", f"127.0.0.1:{P}", True),
        ("http://evil.test", f"127.0.0.1:{P}", False),
        (f"http://evil.test:{P}", f"127.0.0.1:{P}", False),
        (f"http://127.0.0.1:{P + 1}", f"127.0.0.1:{P}", False),
        ("http://127.0.0.1", f"127.0.0.1:{P}", True),
        (f"https://127.0.0.1:{P}", f"127.0.0.1:{P}", True),
        ("null", f"127.0.0.1:{P}", True),
        ("", f"127.0.0.1:{P}", True),
        (f"http://localhost:{P}", f"127.0.0.1:{P}", False),
        (f"http://127.0.0.1:{P}", f"localhost:{P}", False),
        (f"http://localhost:{P}", f"localhost:{P}", True),
        (f"http://LOCALHOST:{P}", f"localhost:{P}", True),
        ("http://127.0.0.1:5555", "127.0.0.1", True),
        (f"http://evil.test:{P}", "127.0.0.1", False),
        ("http://evil.test", f"[::1]:{P}", False),
        (f"http://[::1]:{P}", f"[::1]:{P}", True),
        (f"http://127.0.0.1:{P}", f"127.0.0.2:{P}", False),
        ("http://evil.test", f"192.0.2.10:{P}", True),
    ],
)
def test_origin_matrix_matches_real_server(origin: str | None, host: str, allowed: bool) -> None:
    assert origin_allowed(host, origin) is allowed


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("192.0.2.10")
    assert not is_loopback("name-that-does-not-resolve.invalid")


def test_foreign_origin_is_403_with_empty_body_before_routing(client: TestClient) -> None:
    hdrs = {"host": f"127.0.0.1:{P}", "origin": "http://evil.test"}
    for method, path in [("GET", "/embeddings"), ("GET", "/no_such_route"), ("PUT", "/prompt"),
                         ("OPTIONS", "/prompt")]:
        r = client.request(method, path, headers=hdrs)
        assert r.status_code == 403, (method, path)
        assert r.content == b""
        assert "content-type" not in r.headers


def test_refused_upload_stores_nothing(client: TestClient, base_dir: Path) -> None:
    hdrs = {"host": f"127.0.0.1:{P}", "origin": "http://evil.test"}
    r = client.post("/upload/image", headers=hdrs, files={"image": ("refused.png", b"x", "image/png")})
    assert r.status_code == 403
    assert not (base_dir / "input" / "refused.png").exists()


def test_same_origin_passes(client: TestClient) -> None:
    r = client.get("/embeddings", headers={"host": f"127.0.0.1:{P}", "origin": f"http://127.0.0.1:{P}"})
    assert r.status_code == 200


CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, GET, DELETE, PUT, OPTIONS, PATCH",
    "access-control-allow-headers": "Content-Type, Authorization",
    "access-control-allow-credentials": "true",
}


def _cors(r: Answer) -> dict[str, str]:
    headers = r.headers
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("access-control-")}


def test_cors_flag_replaces_the_origin_check_and_adds_fixed_headers(make_client: Callable[..., TestClient]) -> None:
    client = make_client(enable_cors_header="*")
    r = client.get("/embeddings", headers={"host": f"127.0.0.1:{P}", "origin": "http://evil.test"})
    assert r.status_code == 200
    assert _cors(r) == CORS
    assert _cors(client.get("/features")) == CORS  # sent even without an Origin


def test_cors_flag_with_origin_value_is_sent_verbatim(make_client: Callable[..., TestClient]) -> None:
    client = make_client(enable_cors_header="http://example.test")
    r = client.get("/features", headers={"origin": "http://other.test"})
    assert r.headers["access-control-allow-origin"] == "http://example.test"


def test_cors_on_options_and_returned_errors_but_not_raised_ones(make_client: Callable[..., TestClient]) -> None:
    client = make_client(enable_cors_header="*")
    opt = client.options("/no_such_route", headers={"access-control-request-headers": "comfy-user"})
    assert opt.status_code == 200 and opt.content == b"" and _cors(opt) == CORS
    assert _cors(client.get("/no_such_route")) == CORS  # returned 404
    assert _cors(client.get("/view", params={"filename": "missing.png"})) == CORS
    not_allowed = client.post("/system_stats")
    assert not_allowed.status_code == 405 and _cors(not_allowed) == {}
    bad_json = client.post("/settings", content=b"{not json")
    assert bad_json.status_code == 500 and _cors(bad_json) == {}


def test_no_cors_headers_without_the_flag(client: TestClient) -> None:
    for r in (client.get("/features"), client.options("/prompt"), client.get("/nope")):
        assert _cors(r) == {}


def test_max_upload_size_is_reported_as_float_when_given(make_client: Callable[..., TestClient]) -> None:
    assert make_client().get("/features").json()["max_upload_size"] == 104857600
    limited = make_client(max_upload_size=1).get("/features").json()["max_upload_size"]
    assert limited == 1048576.0 and isinstance(limited, float)


@pytest.mark.parametrize(("size", "status"), [(1048576, 200), (1048577, 413)])
def test_raw_body_limit_counts_bytes(make_client: Callable[..., TestClient], size: int, status: int) -> None:
    client = make_client(max_upload_size=1)
    body = b'"' + b"x" * (size - 2) + b'"'
    r = client.post("/settings/Big.value", content=body)
    assert r.status_code == status
    if status == 413:
        assert r.text == "Maximum request body size 1048576 exceeded."
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert client.get("/settings/Big.value").json() is None


def test_real_server_refuses_foreign_websocket_upgrade(make_server: Callable[..., ServerThread]) -> None:
    srv = make_server()
    with pytest.raises(websocket.WebSocketBadStatusException) as exc:
        websocket.create_connection(srv.url.replace("http", "ws") + "/ws", origin="http://evil.test", timeout=5)
    assert exc.value.status_code == 403


def test_real_server_checks_origin_over_the_wire(make_server: Callable[..., ServerThread]) -> None:
    srv = make_server()
    assert requests.get(srv.url + "/embeddings", headers={"Origin": "http://evil.test"}, timeout=5).status_code == 403
    assert requests.get(srv.url + "/embeddings", headers={"Origin": srv.url}, timeout=5).status_code == 200
