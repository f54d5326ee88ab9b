"""Requests at the edges read as aiohttp reads them: the first value of a repeated query
parameter, the body's declared charset, the last Content-Encoding header."""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest
import websocket
from starlette.testclient import TestClient

from fakecomfy.testing import ServerThread
from fakecomfy.web.requests import FirstValueQueryParams, declared_charset


def test_repeated_keys_give_their_first_value_and_keep_every_value() -> None:
    query = FirstValueQueryParams("dir=..&dir=x&a=1&dir=y&blank")
    assert query["dir"] == ".." and query.get("dir") == ".." and "blank" in query and query["blank"] == ""
    assert query.getlist("dir") == ["..", "x", "y"]
    assert dict(query) == {"dir": "..", "a": "1", "blank": ""}
    assert query.multi_items()[:2] == [("dir", ".."), ("dir", "x")]


def test_handlers_read_the_first_of_repeated_parameters(client: TestClient) -> None:
    assert client.post("/userdata/edge%2Fa.json", content=b"{}").status_code == 200
    assert client.get("/userdata?dir=..&dir=edge").status_code == 403
    assert client.get("/userdata?dir=edge&dir=..").json() == ["a.json"]
    assert client.post("/userdata/edge%2Fa.json?overwrite=false&overwrite=true", content=b"{}").status_code == 409
    assert client.post("/userdata/edge%2Fa.json?overwrite=true&overwrite=false", content=b"{}").status_code == 200
    assert client.get("/view?filename=example.png&filename=missing.png&type=input").status_code == 200
    assert client.get("/view?filename=missing.png&filename=example.png&type=input").status_code == 404
    assert client.get("/history?max_items=1&max_items=x").status_code == 200
    assert client.get("/api/jobs?limit=0&limit=1").status_code == 400


def test_the_websocket_greets_the_first_client_id(make_server: Callable[..., ServerThread]) -> None:
    srv = make_server()
    ws = websocket.create_connection(srv.url.replace("http", "ws") + "/ws?clientId=first&clientId=second", timeout=5)
    try:
        assert json.loads(ws.recv())["data"]["sid"] == "first"
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("application/json", None),
        ("application/json; charset=latin-1", "latin-1"),
        ('application/json; charset="utf-16"', "utf-16"),
        ("application/json;  CHARSET = latin-1 ", "latin-1"),
        ("application/json; a=b; charset=cp1252", "cp1252"),
        ("application/json; charset=", None),  # the e-mail parser names that parameter ""
        ("application/json; charset=latin-1; charset=utf-8", "latin-1"),
        ('application/json; charset="latin-1', "latin-1"),  # an unclosed quote is forgiven
        ("text/plain; charset=utf-16", "utf-16"),
        ("nonsense; charset=a b", "a"),
    ],
)
def test_the_charset_is_parsed_like_aiohttp(content_type: str, charset: str | None) -> None:
    assert declared_charset(content_type) == charset
    helpers = pytest.importorskip("aiohttp.helpers")
    assert helpers.parse_content_type(content_type)[1].get("charset") == charset


NO_PROMPT = 400  # a body that decodes and parses but holds no prompt


@pytest.mark.parametrize(
    ("params", "body", "status"),
    [
        ("; charset=latin-1", '{"x": "é"}'.encode("latin-1"), NO_PROMPT),
        ("", '{"x": "é"}'.encode("latin-1"), 500),  # not UTF-8
        ("; charset=utf-16", '{"x": "é"}'.encode("utf-16"), NO_PROMPT),
        ("; charset=utf-16", '{"x": "é"}'.encode("utf-16-le"), NO_PROMPT),  # no BOM: little-endian
        ("; charset=utf-16", '{"x": "é"}'.encode("utf-16-be"), 500),
        ("", '{"x": "é"}'.encode("utf-16"), 500),
        ("; charset=utf-8", b"\xef\xbb\xbf{}", 500),  # json.loads refuses a BOM in text
        ("; charset=utf-8-sig", b"\xef\xbb\xbf{}", NO_PROMPT),
        ("; charset=no-such-charset", b"{}", 500),
        ("; charset=rot13", b"{}", 500),  # a codec, but not a text encoding
        ("; charset=", b"{}", NO_PROMPT),  # empty: UTF-8
    ],
)
def test_json_bodies_are_decoded_with_their_charset(client: TestClient, params: str, body: bytes,
                                                    status: int) -> None:
    r = client.post("/prompt", content=body, headers={"content-type": "application/json" + params})
    assert r.status_code == status, r.text
    if status == NO_PROMPT:
        assert r.json()["error"]["type"] == "no_prompt"


def test_settings_and_interrupt_decode_with_the_charset(client: TestClient) -> None:
    latin1 = {"content-type": "application/json; charset=latin-1"}
    assert client.post("/settings/Edge.value", content='"é"'.encode("latin-1"), headers=latin1).status_code == 200
    assert client.get("/settings/Edge.value").json() == "é"
    assert client.post("/interrupt", content='{"prompt_id": "é"}'.encode("latin-1"), headers=latin1).status_code == 200
    assert client.post("/interrupt", content='{"prompt_id": "é"}'.encode("latin-1")).status_code == 500
    bogus = {"content-type": "application/json; charset=bogus"}
    assert client.post("/interrupt", content=b"{}", headers=bogus).status_code == 500


def test_the_last_content_encoding_header_decides(make_server: Callable[..., ServerThread]) -> None:
    import socket

    srv = make_server()
    port = int(srv.url.rsplit(":", 1)[1])
    body = gzip.compress(b"{}")

    def status(first: str, last: str) -> bytes:
        head = (f"POST /prompt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Encoding: {first}\r\nContent-Encoding: {last}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head + body)
            return sock.recv(64).split(b" ")[1]

    assert status("identity", "gzip") == b"400"
    assert status("gzip", "identity") == b"500"
