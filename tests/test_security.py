"""The Origin check of a loopback server, the fixed CORS headers of ``--enable-cors-header`` and
the request body limit of ``--max-upload-size``, as real ComfyUI 0.8.0 applies them."""
from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:99999", f"127.0.0.1:{P}"),
        ("http://127.0.0.1:abc", f"127.0.0.1:{P}"),
        ("http://127.0.0.1:-1", f"127.0.0.1:{P}"),
        ("http://[::1", f"127.0.0.1:{P}"),
        (f"http://127.0.0.1:{P}", "127.0.0.1:abc"),
        (f"http://127.0.0.1:{P}", "[::1"),
        ("http://127.0.0.1:99999", f"192.0.2.10:{P}"),  # even where the Host is not loopback
        ("http://127.0.0.1:1", f"a..b:{P}"),  # a label the IDNA codec refuses
    ],
)
def test_malformed_ports_and_brackets_raise_like_real(origin: str, host: str) -> None:
    with pytest.raises(ValueError):
        origin_allowed(host, origin)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://[::1]:8188", "[::1]", False),  # the bracketed Host against the bare Origin name
        ("http://[::1]", "[::1]", True),
        ("http://127.0.0.1:", f"127.0.0.1:{P}", False),
        ("127.0.0.1:1234", f"127.0.0.1:{P}", True),  # no scheme: no network location
        ("//127.0.0.1:1234", f"127.0.0.1:{P}", False),
        ("http://u@127.0.0.1:8188", f"127.0.0.1:{P}", False),
        ("HTTP://127.0.0.1:8188", f"127.0.0.1:{P}", True),
        ("http://localhost.:8188", f"localhost:{P}", False),
        ("http://127.0.0.1:1", f":{P}", True),  # no host name: not loopback
        ("http://127.0.0.1:1", "", True),
    ],
)
def test_more_origin_shapes_as_real_compares_them(origin: str, host: str, allowed: bool) -> None:
    assert origin_allowed(host, origin) is allowed


@pytest.mark.parametrize(
    ("addresses", "loopback"),
    [(["127.0.0.1", "192.0.2.1"], True), (["192.0.2.1", "127.0.0.1"], False), (["127.0.0.1"], True), ([], False)],
)
def test_a_name_is_loopback_when_loopback_comes_before_anything_else(
        monkeypatch: pytest.MonkeyPatch, addresses: list[str], loopback: bool) -> None:
    def fake_getaddrinfo(host: str, port: object, family: int = 0, kind: int = 0) -> list[tuple[Any, ...]]:
        if family != socket.AF_INET:
            raise socket.gaierror("no IPv6 here")
        return [(family, kind, 6, "", (address, 0)) for address in addresses]

    is_loopback.cache_clear()
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    try:
        assert is_loopback("some-name.test") is loopback
    finally:
        is_loopback.cache_clear()


def _raw(srv: ServerThread, head: str) -> bytes:
    port = int(srv.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and b" 101 " in chunks[0][:20]:
                break
    return b"".join(chunks)


def test_a_malformed_origin_is_real_s_text_500_on_requests_and_handshakes(
        make_server: Callable[..., ServerThread]) -> None:
    srv = make_server()
    for extra in ("", "\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13"):
        connection = "Upgrade" if extra else "close"
        answer = _raw(srv, f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nOrigin: http://127.0.0.1:99999\r\n"
                           f"Connection: {connection}{extra}")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500 "), head
        assert b"content-type: text/plain; charset=utf-8" in head.lower()
        assert body == b"500 Internal Server Error\n\nServer got itself in trouble"


def test_the_first_of_two_origins_is_checked_and_a_refused_handshake_has_no_content_type(
        make_server: Callable[..., ServerThread]) -> None:
    srv = make_server()
    upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
              "Sec-WebSocket-Version: 13"
    same, other = f"Origin: http://127.0.0.1:{P}", "Origin: http://127.0.0.1:1"
    accepted = _raw(srv, f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n{same}\r\n{other}\r\n{upgrade}")
    assert accepted.startswith(b"HTTP/1.1 101 "), accepted[:200]
    refused = _raw(srv, f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n{other}\r\n{same}\r\n{upgrade}")
    head = refused.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 403 ") and b"content-type" not in head.lower(), head
    plain = _raw(srv, f"GET /embeddings HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\n{same}\r\n{other}\r\nConnection: close")
    assert plain.startswith(b"HTTP/1.1 200 ")
