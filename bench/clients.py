"""The clients the bench drives its servers with; each is the same for the fake and the floor.

All hold one keep-alive HTTP connection and one WebSocket per client, read every message and
decode it (text as UTF-8), and report a prompt done only on ``executing`` with ``node: null``
for its own prompt id:

* ``lean``: keep-alive HTTP/1.1 and the WebSocket written and read by hand on blocking sockets
  (the handshake checked, every frame decoded), as little client work per message as Python
  allows, so that the figure measures the server; it spots the done message by its text;
* ``wsclient``: websocket-client's ``create_connection`` and ``http.client.HTTPConnection``,
  the plain client a script author writes, parsing every text message with ``json.loads``
  (the loop of ComfyUI's websocket API example);
* ``aiohttp``: one ``ClientSession`` with ``ws_connect``, as async tools use it, ``json.loads``
  on every text message;
* ``simple``: ``http.client`` and websockets' threaded sync client, ``json.loads`` likewise.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import http.client
import json
import os
import re
import socket
import struct
from collections.abc import Callable

import aiohttp
import websocket
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 4.2.2
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def is_done_json(message: str | bytes, prompt_id: str) -> bool:
    """Whether ``message`` is the last one of ``prompt_id``, decoded the way a script does it."""
    if isinstance(message, bytes):
        return False
    data = json.loads(message)
    return (data["type"] == "executing" and data["data"]["node"] is None
            and data["data"]["prompt_id"] == prompt_id)


class PlainClient:
    """``http.client`` for HTTP and a library's blocking WebSocket, each used the plain way."""

    is_done = staticmethod(is_done_json)
    http: http.client.HTTPConnection
    ws: websocket.WebSocket | ClientConnection

    def post(self, path: str, body: bytes) -> bytes:
        self.http.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.http.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:200]!r}")
        return data

    def recv(self) -> str | bytes:
        return self.ws.recv()

    def close(self) -> None:
        self.http.close()
        self.ws.close()


class WsClient(PlainClient):
    """websocket-client + ``http.client``, with their defaults (no timeouts). Without ``wsaccel``
    websocket-client checks the UTF-8 of every text frame in pure Python, about two thirds of its
    time per message: its floor for a 57-message prompt is about 200/s on a 2-core machine."""

    def __init__(self, port: int, cid: str) -> None:
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws?clientId={cid}")
        self.http = http.client.HTTPConnection("127.0.0.1", port)


class SimpleClient(PlainClient):
    """websockets' sync client (a reader thread) for the WebSocket."""

    def __init__(self, port: int, cid: str) -> None:
        # max_queue=None: status broadcasts of other clients' prompts keep arriving after a client
        # stops reading; with a bounded queue its reader thread stalls and close() waits 10 s.
        self.ws = connect(f"ws://127.0.0.1:{port}/ws?clientId={cid}", compression=None, max_size=None,
                          max_queue=None)
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


class LeanClient:
    """Keep-alive HTTP/1.1 requests and a WebSocket, both on blocking sockets and written and read
    directly: the handshake is checked (101 and ``Sec-WebSocket-Accept``) and every frame the
    server sends is decoded (text as UTF-8), but with a few lines per frame instead of a
    general-purpose protocol stack, so that the loop's time is the server's."""

    @staticmethod
    def is_done(message: str | bytes, prompt_id: str) -> bool:
        """The done message spotted by its text: both servers write ``json.dumps``' separators."""
        return isinstance(message, str) and '"node": null' in message and prompt_id in message

    def __init__(self, port: int, cid: str) -> None:
        # One receive buffer for every read: recv(n) allocates n bytes per call, which for a
        # large n is an mmap, an mremap and a munmap (and page faults) per message burst.
        self.buffer = bytearray(1 << 20)
        self.http = self._connect(port)
        self.http_buffer = b""
        self.sock = self._connect(port)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET /ws?clientId=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          % (cid.encode(), port, key))
        head, rest = self._head(self.sock, b"")
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])}
        if not head.startswith(b"HTTP/1.1 101 ") or headers.get(b"sec-websocket-accept") != accept:
            raise ConnectionError(f"WebSocket handshake refused: {head!r}")
        self.messages: collections.deque[str | bytes] = collections.deque()
        self._decode(rest)  # the greeting may come in the handshake's segment

    @staticmethod
    def _connect(port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Blocking, with the 30 s limit kept by the kernel: a Python-level timeout polls before
        # every read and write.
        sock.settimeout(None)
        limit = struct.pack("ll", 30, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        return sock

    def _head(self, sock: socket.socket, buffer: bytes) -> tuple[bytes, bytes]:
        """An HTTP response head read from ``sock`` after ``buffer``, and the bytes after it."""
        while b"\r\n\r\n" not in buffer:
            buffer += self._recv(sock)
        head, _, rest = buffer.partition(b"\r\n\r\n")
        return head, rest

    def _recv(self, sock: socket.socket) -> bytes:
        size = sock.recv_into(self.buffer)
        if not size:
            raise ConnectionError("the server closed the connection")
        return bytes(memoryview(self.buffer)[:size])

    def _read(self) -> None:
        self._decode(self.ws_buffer + self._recv(self.sock) if self.ws_buffer else self._recv(self.sock))

    def _decode(self, buf: bytes) -> None:
        """Decode the whole frames of ``buf``, keeping the rest (RFC 6455 5.2: a server's are unmasked)."""
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, start = second & 0x7F, pos + 2
            if second & 0x80 or not first & 0x80:
                raise ConnectionError("a masked or fragmented frame from the server")
            if length == 126:
                length, start = int.from_bytes(buf[start:start + 2], "big"), start + 2
            elif length == 127:
                length, start = int.from_bytes(buf[start:start + 8], "big"), start + 8
            if start + length > end:
                break
            opcode, payload = first & 0x0F, buf[start:start + length]
            if opcode == 1:
                self.messages.append(payload.decode("utf-8"))
            elif opcode == 2:
                self.messages.append(payload)
            elif opcode == 9:  # ping: a masked pong with the same data
                self.sock.sendall(Frame(Opcode.PONG, payload).serialize(mask=True, extensions=[]))
            elif opcode == 8:
                raise ConnectionError("the server closed the WebSocket")
            pos = start + length
        self.ws_buffer = buf[pos:]

    def recv(self) -> str | bytes:
        while not self.messages:
            self._read()
        return self.messages.popleft()

    def post(self, path: str, body: bytes) -> bytes:
        self.http.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        head, rest = self._head(self.http, self.http_buffer)
        found = CONTENT_LENGTH.search(head)
        if found is None:
            raise RuntimeError(f"POST {path}: no Content-Length in {head!r}")
        length = int(found.group(1))
        while len(rest) < length:
            rest += self._recv(self.http)
        self.http_buffer = rest[length:]
        if head[9:12] != b"200":
            raise RuntimeError(f"POST {path}: {head[:40]!r} {rest[:200]!r}")
        return rest[:length]

    def close(self) -> None:
        self.http.close()
        self.sock.close()




class AiohttpClient:
    """One ``aiohttp.ClientSession`` (keep-alive) and its ``ws_connect``, with their defaults."""

    is_done = staticmethod(is_done_json)

    def __init__(self, port: int, cid: str) -> None:
        self.url, self.cid = f"http://127.0.0.1:{port}", cid

    async def open(self) -> None:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(f"{self.url}/ws?clientId={self.cid}")

    async def post(self, path: str, body: bytes) -> bytes:
        async with self.session.post(self.url + path, data=body,
                                     headers={"Content-Type": "application/json"}) as response:
            data = await response.read()
            if response.status != 200:
                raise RuntimeError(f"POST {path}: {response.status} {data[:200]!r}")
            return data

    async def recv(self) -> str | bytes:
        message = await self.ws.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            return str(message.data)
        if message.type == aiohttp.WSMsgType.BINARY:
            return bytes(message.data)
        raise ConnectionError(f"WebSocket: {message.type!r}")

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


SyncClient = PlainClient | LeanClient
SYNC_CLIENTS: dict[str, Callable[[int, str], SyncClient]] = {"lean": LeanClient, "wsclient": WsClient,
                                                              "simple": SimpleClient}
ASYNC_CLIENTS = {"aiohttp": AiohttpClient}
