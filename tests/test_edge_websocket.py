"""WebSocket edges answered as real ComfyUI's aiohttp answers them: the close frame sent back
for every close code a client may send, and the handshake of the older versions aiohttp takes.

Raw sockets, so the close frame's bytes are what is compared; runs against ``--comfy-url`` too.
"""
from __future__ import annotations

import socket
import struct
import urllib.parse

import pytest

NORMAL, PROTOCOL_ERROR, INVALID_DATA = 1000, 1002, 1007
MASK = b"\x01\x02\x03\x04"


def _handshake(url: str, version: str = "13") -> tuple[socket.socket, bytes]:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed during the handshake: {data!r}"
        data += chunk
    return sock, data.split(b"\r\n\r\n", 1)[0]


def _close_answer(url: str, payload: bytes) -> bytes:
    """The payload of the close frame the server sends back to a client's close with ``payload``."""
    sock, _ = _handshake(url)
    with sock:
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes((0x88, 0x80 | len(payload))) + MASK + masked)
        data = b""
        while True:  # the greeting may come first: read to the close frame
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        position = 0
        while position < len(data):
            opcode, length = data[position] & 0x0F, data[position + 1] & 0x7F
            start = position + 2 + (2 if length == 126 else 8 if length == 127 else 0)
            if length >= 126:
                length = int.from_bytes(data[position + 2:start], "big")
            if opcode == 0x8:
                return data[start:start + length]
            position = start + length
    raise AssertionError(f"no close frame in {data!r}")


def code(value: int) -> bytes:
    return struct.pack("!H", value)


@pytest.mark.parametrize(("payload", "answer"), [
    pytest.param(code(1000), NORMAL, id="1000"),
    pytest.param(code(1001), NORMAL, id="1001-going-away"),
    pytest.param(code(1006), NORMAL, id="1006-aiohttp-takes-it"),
    pytest.param(code(1011), NORMAL, id="1011"),
    pytest.param(code(1014), NORMAL, id="1014"),
    pytest.param(code(3000), NORMAL, id="3000"),
    pytest.param(code(4000), NORMAL, id="4000-application"),
    pytest.param(code(4999), NORMAL, id="4999"),
    pytest.param(code(5000), NORMAL, id="5000-aiohttp-takes-it"),
    pytest.param(code(65535), NORMAL, id="65535"),
    pytest.param(b"", NORMAL, id="no-code"),
    pytest.param(code(4000) + b"bye", NORMAL, id="with-reason"),
    pytest.param(code(999), PROTOCOL_ERROR, id="999"),
    pytest.param(code(1004), PROTOCOL_ERROR, id="1004-reserved"),
    pytest.param(code(1005), PROTOCOL_ERROR, id="1005-never-sent"),
    pytest.param(code(1015), PROTOCOL_ERROR, id="1015-never-sent"),
    pytest.param(code(2999), PROTOCOL_ERROR, id="2999"),
    pytest.param(b"\x03", PROTOCOL_ERROR, id="one-byte"),
    pytest.param(code(1000) + b"\xff\xfe", INVALID_DATA, id="reason-not-utf8"),
])
def test_a_client_close_is_answered_with_a_bare_code(target_url: str, payload: bytes, answer: int) -> None:
    assert _close_answer(target_url, payload) == code(answer)


@pytest.mark.parametrize("version", ["8", "7", " 8 "])
def test_older_websocket_versions_upgrade(target_url: str, version: str) -> None:
    sock, head = _handshake(target_url, version)
    sock.close()
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    assert b"Connection: upgrade" in lines
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in lines
