"""Connections like real ComfyUI's aiohttp server: the same raw bytes go to a reference aiohttp
app configured the way ComfyUI's ``server.py`` configures its own and to the fake, and both must
answer alike (status line, the headers that matter, body, whether the connection survives)."""
from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from fakecomfy import Settings, create_app
from fakecomfy.testing import ServerThread
from fakecomfy.web import transport

LIMIT_MB = 1  # both servers run with a 1 MiB body limit (ComfyUI's --max-upload-size 1)
LIMIT = round(LIMIT_MB * 1024 * 1024)
QUEUE = b"GET /queue HTTP/1.1\r\nHost: x\r\n\r\n"


# ---- the reference: a bare aiohttp app set up like ComfyUI's server.py -----------------------------
def reference_app(root: Path) -> web.Application:
    """What the probes need of ComfyUI's routes, on its aiohttp configuration."""

    @web.middleware
    async def passthrough(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(client_max_size=LIMIT, middlewares=[passthrough])
    routes = web.RouteTableDef()

    @routes.get("/ws")
    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "status", "data": {}}))
        async for _ in ws:
            pass
        return ws

    @routes.get("/queue")
    async def queue(request: web.Request) -> web.Response:
        return web.json_response({"queue_running": [], "queue_pending": []})

    @routes.post("/prompt")
    async def prompt(request: web.Request) -> web.Response:
        return web.json_response(await request.json())  # malformed JSON: the handler raises

    @routes.post("/upload/image")
    async def upload(request: web.Request) -> web.Response:
        try:
            image = (await request.post()).get("image")
        except BaseException as error:
            close_abandoned_files(error)
            raise
        if not isinstance(image, web.FileField):
            return web.Response(status=400)
        with image.file:
            (root / image.filename).write_bytes(image.file.read())
        return web.json_response({"name": image.filename, "subfolder": "", "type": "input"})

    @routes.get("/view")
    async def view(request: web.Request) -> web.StreamResponse:
        path = root / request.rel_url.query.get("filename", "")
        return web.FileResponse(path) if path.is_file() else web.Response(status=404)

    app.add_routes(routes)
    app.add_routes([web.static("/", root / "web")])
    return app


def close_abandoned_files(error: BaseException) -> None:
    """aiohttp's post() leaves the temporary file of a part it could not finish (client gone,
    body too large) to the garbage collector: close it, so a ResourceWarning means the fake."""
    frame = error.__traceback__
    while frame is not None:
        for value in frame.tb_frame.f_locals.values():
            if isinstance(value, tempfile.SpooledTemporaryFile):
                value.close()
        frame = frame.tb_next


@dataclass
class Reference:
    root: Path
    port: int = 0

    def start(self) -> Reference:
        (self.root / "web").mkdir(parents=True)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(reference_app(self.root), access_log=None)

        async def serve() -> None:
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            self.port = self.runner.addresses[0][1]

        self.thread = threading.Thread(target=self.loop.run_forever, name="aiohttp-reference", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.runner.cleanup()
            left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in left:  # handlers of connections still open
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass(frozen=True)
class Target:
    """A server under comparison: where it listens, where its uploads land."""

    name: str
    port: int
    input_dir: Path
    server: ServerThread | None = None


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Target]]:
    """(aiohttp reference, fake), both with a 1 MiB body limit, for the whole module."""
    ref = Reference(tmp_path_factory.mktemp("aiohttp")).start()
    base = tmp_path_factory.mktemp("fake")
    fake = ServerThread(create_app(Settings(base_directory=base, max_upload_size=LIMIT_MB, log_requests=False)))
    fake.start()
    try:
        yield Target("aiohttp", ref.port, ref.root), Target("fake", fake.port, base / "input", fake)
    finally:
        fake.stop()
        ref.stop()


# ---- what a client observes -------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: bytes  # the status line
    headers: tuple[tuple[bytes, bytes], ...]  # lower-cased names, sorted; no Date; aiohttp's version hidden
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return dict(self.headers).get(name)


@dataclass(frozen=True)
class Answer:
    replies: tuple[Reply, ...]
    closed: bool  # did the connection end after them (a follow-up request got no answer)


class Client:
    """One raw connection, reading HTTP/1.x replies byte by byte as a client would."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        self.buffer += data
        return bool(data)

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size and self._more():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._more():
                raise EOFError("the connection closed")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self, head: bool = False) -> Reply:
        status, fields = self._line(), []
        while line := self._line():
            name, _, value = line.partition(b":")
            fields.append((name.strip().lower(), value.strip()))
        headers = dict(fields)
        if head or status.split(b" ")[1].startswith(b"1"):
            body = b""
        elif b"content-length" in headers:
            body = self._take(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            body = b""
            while size := int(self._line().split(b";")[0], 16):
                body += self._take(size + 2)[:-2]
            self._line()
        else:  # no length: the body runs to the end of the connection
            while self._more():
                pass
            body, self.buffer = self.buffer, b""
        kept = tuple(sorted((n, re.sub(rb"aiohttp/[\d.]+", b"aiohttp/V", v)) for n, v in fields if n != b"date"))
        return Reply(status, kept, body)

    def is_closed(self) -> bool:
        """Whether the server ended the connection: a follow-up request gets no answer."""
        try:
            self.send(QUEUE)
            self.reply()
        except (EOFError, OSError):
            return True
        return False

    def close(self) -> None:
        self.sock.close()


def exchange(port: int, data: bytes, replies: int = 1, head: bool = False) -> Answer:
    client = Client(port)
    try:
        client.send(data)
        got = []
        for _ in range(replies):
            try:
                got.append(client.reply(head))
            except EOFError:
                break
        return Answer(tuple(got), client.is_closed())
    finally:
        client.close()


def both(targets: tuple[Target, Target], probe: Callable[[Target], Any]) -> tuple[Any, Any]:
    """The probe's observation of each server, run side by side."""
    with ThreadPoolExecutor(2) as pool:
        ref, fake = pool.map(probe, targets)
    return ref, fake


def multipart(filename: str, data: bytes) -> tuple[bytes, bytes]:
    boundary = uuid.uuid4().hex.encode()
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="' + filename.encode()
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n--" + boundary + b"--\r\n")
    return b"multipart/form-data; boundary=" + boundary, body


def chunked(body: bytes, size: int = 4096) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def view_status(target: Target, filename: str) -> int:
    request = b"GET /view?filename=%s&type=input HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % filename.encode()
    return int(exchange(target.port, request).replies[0].status.split(b" ")[1])


# ---- the request line, headers and HTTP versions ------------------------------------------------------
def headers(count: int) -> bytes:
    return b"".join(b"X-%d: 1\r\n" % i for i in range(count))


RAW_REQUESTS = {
    # aiohttp's parser limits: 8190 bytes of request target, of header name, of name and value; 128 headers
    "target-8190": b"GET /queue?" + b"a" * (8190 - 7) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "target-8191": b"GET /queue?" + b"a" * (8190 - 6) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "first-header-8190": b"GET /queue HTTP/1.1\r\nHost: " + b"x" * (8190 - 4) + b"\r\n\r\n",
    "first-header-8191": b"GET /queue HTTP/1.1\r\nHost: " + b"x" * (8190 - 3) + b"\r\n\r\n",
    "later-value-8190": b"GET /queue HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 8190 + b"\r\n\r\n",
    "later-value-8191": b"GET /queue HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 8191 + b"\r\n\r\n",
    "long-name": b"GET /queue HTTP/1.1\r\nHost: x\r\nX-" + b"a" * 8190 + b": 1\r\n\r\n",
    "128-headers": b"GET /queue HTTP/1.1\r\nHost: x\r\n" + headers(127) + b"\r\n",
    "129-headers": b"GET /queue HTTP/1.1\r\nHost: x\r\n" + headers(128) + b"\r\n",
    # aiohttp's own checks
    "duplicate-host": b"GET /queue HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",
    "duplicate-etag": b"GET /queue HTTP/1.1\r\nHost: x\r\nETag: a\r\netag: b\r\n\r\n",
    "duplicate-accept": b"GET /queue HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\n\r\n",
    "no-host": b"GET /queue HTTP/1.1\r\n\r\n",
    # llhttp's errors, worded by aiohttp with a ^ under the byte
    "not-http": b"HELLO\r\n\r\n",
    "tls": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    "lowercase-method": b"get /queue HTTP/1.1\r\nHost: x\r\n\r\n",
    "space-in-target": b"GET /qu eue HTTP/1.1\r\nHost: x\r\n\r\n",
    "control-in-target": b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "http-3": b"GET /queue HTTP/3.0\r\nHost: x\r\n\r\n",
    "bad-minor": b"GET /queue HTTP/1.x\r\nHost: x\r\n\r\n",
    "lf-only": b"GET /queue HTTP/1.1\nHost: x\n\n",
    "cr-without-lf": b"GET /queue HTTP/1.1\rX",
    "space-before-header": b"GET /queue HTTP/1.1\r\n Host: x\r\n\r\n",
    "header-token": b"GET /queue HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
    "nul-in-value": b"GET /queue HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad-content-length": b"POST /prompt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "length-and-chunked": b"POST /prompt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-chunk-size": b"POST /prompt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "error-after-a-request": QUEUE + b"GET /queue HTTP/1.1\r\nHost x\r\n\r\n",
    # versions and keep-alive
    "http-1.0": b"GET /queue HTTP/1.0\r\n\r\n",
    "http-1.0-keep-alive": b"GET /queue HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "http-0.9": b"GET /queue\r\n\r\n",
    "http-2.0-line": b"GET /queue HTTP/2.0\r\nHost: x\r\n\r\n",
    "connection-close": b"GET /queue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "pipelined": QUEUE + QUEUE + QUEUE,
    # Expect, answered before the route runs
    "expect-100-no-body": b"GET /queue HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
    "expect-other": b"GET /queue HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n",
    "expect-other-unknown-route": b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: x\r\n\r\nab",
    "expect-other-http-1.0": b"GET /queue HTTP/1.0\r\nExpect: something\r\n\r\n",
    # a handler's exception: 500, and aiohttp closes the connection
    "handler-error": b"POST /prompt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{{{",
}


@pytest.mark.parametrize("raw", RAW_REQUESTS.values(), ids=RAW_REQUESTS.keys())
def test_a_raw_request_gets_aiohttps_answer(targets: tuple[Target, Target], raw: bytes) -> None:
    replies = 3 if raw.count(b"HTTP/1.") > 1 else 2 if b"100-continue" in raw else 1
    ref, fake = both(targets, lambda target: exchange(target.port, raw, replies))
    assert fake == ref


def test_a_head_request_gets_the_head_only(targets: tuple[Target, Target]) -> None:
    ref, fake = both(targets, lambda t: exchange(t.port, b"HEAD /queue HTTP/1.1\r\nHost: x\r\n\r\n", head=True))
    assert fake == ref and fake.replies[0].body == b""


def test_a_request_split_across_packets_is_one_request(targets: tuple[Target, Target]) -> None:
    pieces = [b"GET /queue HT", b"TP/1.1\r\nHo", b"st: x\r\n\r\n"]

    def probe(target: Target) -> Answer:
        client = Client(target.port)
        for piece in pieces:
            client.send(piece)
            time.sleep(0.05)
        answer = Answer((client.reply(),), client.is_closed())
        client.close()
        return answer

    ref, fake = both(targets, probe)
    assert fake == ref and fake.replies[0].status == b"HTTP/1.1 200 OK"


def test_the_server_header_names_python_and_aiohttp(targets: tuple[Target, Target]) -> None:
    def probe(target: Target) -> list[bytes | None]:
        ok = exchange(target.port, QUEUE).replies[0]
        bad = exchange(target.port, b"HELLO\r\n\r\n").replies[0]
        return [ok.header(b"server"), bad.header(b"server")]

    ref, fake = both(targets, probe)
    assert fake == ref == [b"Python/%d.%d aiohttp/V" % sys.version_info[:2]] * 2


# ---- keep-alive -----------------------------------------------------------------------------------
def test_an_idle_connection_is_kept_past_uvicorns_five_seconds(targets: tuple[Target, Target]) -> None:
    """uvicorn closes idle connections after 5 s, aiohttp after an hour: a pooled client's next
    request on a connection idle for 6 s must be answered."""

    def probe(target: Target) -> list[bytes]:
        client = Client(target.port)
        client.send(QUEUE)
        first = client.reply().status
        time.sleep(6)
        client.send(QUEUE)
        second = client.reply().status
        client.close()
        return [first, second]

    ref, fake = both(targets, probe)
    assert fake == ref == [b"HTTP/1.1 200 OK"] * 2


@pytest.mark.fake_only
def test_the_keep_alive_timer_is_aiohttps(targets: tuple[Target, Target]) -> None:
    server = targets[1].server
    assert server is not None
    client = Client(targets[1].port)
    try:
        client.send(QUEUE)
        client.reply()
        time.sleep(0.1)
        timers = [cast(Any, p).timeout_keep_alive_task for p in server.server.server_state.connections]
        left = [timer.when() - time.monotonic() for timer in timers if timer]  # the loop's clock is monotonic
    finally:
        client.close()
    assert left and all(transport.KEEPALIVE_TIMEOUT - 60 < seconds <= transport.KEEPALIVE_TIMEOUT for seconds in left)


# ---- request bodies ------------------------------------------------------------------------------------
def upload_request(ctype: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /upload/image HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype
            + b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body)


def test_expect_100_continue_is_answered_before_the_body_is_sent(targets: tuple[Target, Target]) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    ctype, body = multipart(name, b"expected")

    def probe(target: Target) -> list[Any]:
        client = Client(target.port)
        head = upload_request(ctype, b"", b"Expect: 100-continue\r\n")
        client.send(head.replace(b"Length: 0", b"Length: %d" % len(body)))
        interim = client.reply().status  # before any byte of the body
        client.send(body)
        final = client.reply()
        client.close()
        return [interim, final.status, json.loads(final.body), view_status(target, name)]

    ref, fake = both(targets, probe)
    assert fake == ref
    assert fake[:2] == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 200 OK"] and fake[3] == 200


def test_a_chunked_upload_is_stored(targets: tuple[Target, Target]) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    ctype, body = multipart(name, b"chunked bytes " * 1000)
    request = upload_request(ctype, b"", b"Transfer-Encoding: chunked\r\n").replace(b"Content-Length: 0\r\n", b"")

    def probe(target: Target) -> tuple[Answer, int, bytes]:
        answer = exchange(target.port, request + chunked(body, 1000))
        return answer, view_status(target, name), (target.input_dir / name).read_bytes()

    ref, fake = both(targets, probe)
    assert fake == ref and fake[1] == 200 and fake[2] == b"chunked bytes " * 1000


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_over_the_limit_is_refused_and_nothing_stored(targets: tuple[Target, Target], framing: str) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    ctype, body = multipart(name, b"x" * LIMIT)
    request = upload_request(ctype, body)
    if framing == "chunked":
        request = upload_request(ctype, b"", b"Transfer-Encoding: chunked\r\n").replace(b"Content-Length: 0\r\n", b"")
        request += chunked(body)
    ref, fake = both(targets, lambda target: (exchange(target.port, request), view_status(target, name)))
    assert fake == ref
    answer, stored = fake
    assert answer.replies[0].body == b"Maximum request body size %d exceeded." % LIMIT
    assert not answer.closed and stored == 404  # the connection goes on, the file is not written


def test_a_client_that_leaves_mid_body_stores_nothing(targets: tuple[Target, Target]) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    ctype, body = multipart(name, b"y" * (LIMIT // 2))

    def probe(target: Target) -> tuple[int, bytes]:
        client = Client(target.port)
        client.send(upload_request(ctype, body)[: len(body) // 2])
        time.sleep(0.2)
        client.close()
        time.sleep(0.2)
        return view_status(target, name), exchange(target.port, QUEUE).replies[0].status

    ref, fake = both(targets, probe)
    assert fake == ref == (404, b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_body_is_decompressed(targets: tuple[Target, Target], encoding: str) -> None:
    import zlib

    name = f"{uuid.uuid4().hex}.bin"
    ctype, body = multipart(name, b"compressed " * 500)
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    request = upload_request(ctype, packed, b"Content-Encoding: %s\r\n" % encoding.encode())
    ref, fake = both(targets, lambda target: (exchange(target.port, request), view_status(target, name)))
    assert fake == ref and fake[0].replies[0].status == b"HTTP/1.1 200 OK" and fake[1] == 200


def test_a_body_that_does_not_decompress_is_a_500_that_closes(targets: tuple[Target, Target]) -> None:
    ctype, _ = multipart("x.bin", b"")
    request = upload_request(ctype, b"not gzip at all", b"Content-Encoding: gzip\r\n")
    ref, fake = both(targets, lambda target: exchange(target.port, request))
    assert fake == ref and fake.closed and fake.replies[0].status == b"HTTP/1.1 500 Internal Server Error"


def test_an_upload_that_is_not_a_form_is_answered_without_reading_it(targets: tuple[Target, Target]) -> None:
    """aiohttp's request.post() reads no body that is not a form: the 400 comes at once."""
    request = b"POST /upload/image HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"

    def probe(target: Target) -> bytes:
        client = Client(target.port)
        client.send(request)  # and never the body
        status = client.reply().status
        client.close()
        return status

    ref, fake = both(targets, probe)
    assert fake == ref == b"HTTP/1.1 400 Bad Request"


# ---- responses to slow readers ----------------------------------------------------------------------
BIG = 16 * 1024 * 1024


def test_a_slow_reader_of_a_large_view_holds_up_nobody(targets: tuple[Target, Target]) -> None:
    name = f"{uuid.uuid4().hex}.bin"

    def probe(target: Target) -> tuple[bytes, float, int]:
        (target.input_dir / name).write_bytes(b"\x00" * BIG)
        slow = Client(target.port)
        slow.send(b"GET /view?filename=%s&type=input HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode())
        head = slow._line()
        started = time.monotonic()
        other = exchange(target.port, QUEUE).replies[0].status
        waited = time.monotonic() - started
        buffered = buffered_bytes(target)
        slow.close()
        return head + other, waited, buffered

    ref, fake = both(targets, probe)
    assert fake[0] == ref[0] == b"HTTP/1.1 200 OKHTTP/1.1 200 OK"
    assert fake[1] < 2 and ref[1] < 2
    assert fake[2] < 1024 * 1024  # the fake holds at most about a chunk of the file for the reader


def buffered_bytes(target: Target) -> int:
    """Bytes the fake holds for its connections (0 for the reference, which sends with sendfile)."""
    if target.server is None:
        return 0
    time.sleep(0.5)  # let the file response run into the reader's full socket
    total = 0
    for protocol in list(target.server.server.server_state.connections):
        held = protocol.transport
        total += held.get_write_buffer_size() + sum(len(data) for data in getattr(held, "_pending", []))
    return total


# ---- WebSocket ------------------------------------------------------------------------------------------
def ws_connect(target: Target, extensions: bytes | None = None) -> tuple[Client, Reply]:
    offer = b"" if extensions is None else b"Sec-WebSocket-Extensions: " + extensions + b"\r\n"
    client = Client(target.port)
    client.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + offer + b"\r\n")
    reply = client.reply(head=True)
    ws_frame(client)  # the greeting
    return client, reply


def ws_head(opcode: int, length: int, fin: bool = True) -> bytes:
    """A client frame's head with a zero mask (the payload goes as it is)."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return bytes((first, 0x80 | length)) + b"\0" * 4
    if length < 1 << 16:
        return struct.pack("!BBH", first, 0x80 | 126, length) + b"\0" * 4
    return struct.pack("!BBQ", first, 0x80 | 127, length) + b"\0" * 4


def ws_frame(client: Client) -> tuple[int, bytes] | None:
    """(opcode, payload) of the next server frame, None once the connection is closed."""
    head = client._take(2)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length >= 126:
        size = 2 if length == 126 else 8
        length = int.from_bytes(client._take(size), "big")
    return head[0] & 0x0F, client._take(length)


def ws_until_closed(client: Client) -> list[tuple[int, bytes]]:
    frames = []
    while (frame := ws_frame(client)) is not None:
        frames.append(frame)
    return frames


CLOSE, PING, PONG = 0x8, 0x9, 0xA


@pytest.mark.parametrize("size", [transport.WS_MAX_MSG_SIZE - 1, transport.WS_MAX_MSG_SIZE], ids=["below", "at"])
def test_a_message_of_4_mib_is_refused_with_1009(targets: tuple[Target, Target], size: int) -> None:
    def probe(target: Target) -> list[tuple[int, bytes]]:
        client, _ = ws_connect(target)
        client.send(ws_head(0x2, size))  # the limit is checked on the frame's head
        if size < transport.WS_MAX_MSG_SIZE:
            client.send(b"\0" * size + ws_head(PING, 2) + b"hi" + ws_head(CLOSE, 0))
        frames = ws_until_closed(client)
        client.close()
        return frames

    ref, fake = both(targets, probe)
    assert fake == ref
    too_big = (CLOSE, struct.pack("!H", transport.WS_MESSAGE_TOO_BIG))
    assert fake[0] == ((PONG, b"hi") if size < transport.WS_MAX_MSG_SIZE else too_big)


def test_fragments_count_together_towards_the_limit(targets: tuple[Target, Target]) -> None:
    part = 3 * 1024 * 1024

    def probe(target: Target) -> list[tuple[int, bytes]]:
        client, _ = ws_connect(target)
        client.send(ws_head(0x2, part, fin=False) + b"\0" * part + ws_head(0x0, part))
        frames = ws_until_closed(client)
        client.close()
        return frames

    ref, fake = both(targets, probe)
    assert fake == ref == [(CLOSE, struct.pack("!H", transport.WS_MESSAGE_TOO_BIG))]


CLOSE_CASES = {
    "normal-with-reason": ws_head(CLOSE, 5) + struct.pack("!H", 1000) + b"bye",
    "empty": ws_head(CLOSE, 0),
    "application-code": ws_head(CLOSE, 2) + struct.pack("!H", 4000),
    "going-away": ws_head(CLOSE, 2) + struct.pack("!H", 1001),
    "invalid-code": ws_head(CLOSE, 2) + struct.pack("!H", 999),
    "invalid-utf-8": ws_head(0x1, 2) + b"\xff\xfe",
    "reserved-bits": bytes((0xC1, 0x82)) + b"\0" * 4 + b"hi",
    "ping": ws_head(PING, 3) + b"abc" + ws_head(CLOSE, 0),
}


@pytest.mark.parametrize("frame", CLOSE_CASES.values(), ids=CLOSE_CASES.keys())
def test_the_server_closes_with_a_code_and_no_reason(targets: tuple[Target, Target], frame: bytes) -> None:
    def probe(target: Target) -> list[tuple[int, bytes]]:
        client, _ = ws_connect(target)
        client.send(frame)
        frames = ws_until_closed(client)
        client.close()
        return frames

    ref, fake = both(targets, probe)
    assert fake == ref and fake[-1][0] == CLOSE and len(fake[-1][1]) == 2


OFFERS = ["permessage-deflate", "permessage-deflate; client_max_window_bits",
          "permessage-deflate; client_max_window_bits=10", "permessage-deflate; server_max_window_bits=10",
          "permessage-deflate; server_max_window_bits=8, permessage-deflate",
          "permessage-deflate; server_no_context_takeover",
          "permessage-deflate; client_no_context_takeover", "permessage-deflate; unknown=1", "x-webkit-deflate-frame"]


@pytest.mark.parametrize("offer", OFFERS)
def test_permessage_deflate_is_negotiated_like_aiohttp(targets: tuple[Target, Target], offer: str) -> None:
    def probe(target: Target) -> tuple[bytes | None, bytes | None, bytes]:
        client, reply = ws_connect(target, offer.encode())
        client.close()
        return reply.status, reply.header(b"sec-websocket-extensions"), reply.header(b"server") or b""

    ref, fake = both(targets, probe)
    assert fake == ref and fake[0] == b"HTTP/1.1 101 Switching Protocols"


@pytest.mark.fake_only
def test_no_heartbeat_pings_a_websocket(targets: tuple[Target, Target]) -> None:
    """uvicorn pings every 20 s and drops a socket whose pong is late; aiohttp's
    WebSocketResponse() has no heartbeat. The fake arms no ping timer, and sends no ping."""
    target = targets[1]
    assert target.server is not None
    config = target.server.server.config
    assert config.ws_ping_interval is transport.WS_HEARTBEAT is None and config.ws_ping_timeout is None
    client, _ = ws_connect(target)
    try:
        time.sleep(0.2)
        sockets = [p for p in target.server.server.server_state.connections if hasattr(p, "ping_timer")]
        assert sockets and all(cast(Any, p).ping_timer is None and cast(Any, p).pong_timer is None for p in sockets)
        client.sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            ws_frame(client)
    finally:
        client.close()


def test_an_upgrade_of_a_plain_route_is_answered_as_a_get(targets: tuple[Target, Target]) -> None:
    """aiohttp only upgrades where a handler prepares a WebSocketResponse (uvicorn then closes)."""
    request = (b"GET /queue HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def probe(target: Target) -> tuple[bytes, bytes | None, bytes | None, bytes]:
        reply = exchange(target.port, request).replies[0]
        return reply.status, reply.header(b"content-type"), reply.header(b"server"), reply.body

    ref, fake = both(targets, probe)
    assert fake == ref and fake[0] == b"HTTP/1.1 200 OK"


class _Written:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)


@pytest.mark.parametrize(("version", "head"), [
    ("1.1", b"HTTP/1.1 400 Invalid filename\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
    ("1.0", b"HTTP/1.0 400 Invalid filename\r\ncontent-length: 0\r\n\r\n"),
])
def test_a_route_sets_the_reason_phrase_of_its_status_line(version: str, head: bytes) -> None:
    from fakecomfy.web.transport import VersionedWrites

    written = _Written()
    writes = VersionedWrites(written, version, keep_alive=False)
    writes.reason = b"Invalid filename"
    writes.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    writes.write(b"body")
    assert written.data == [head, b"body"]


AIOHTTP_500 = "500 Internal Server Error\n\nServer got itself in trouble"


@pytest.mark.parametrize(("headers", "refusal"), [
    ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "8")], None),
    ([("Sec-WebSocket-Key", "dGhlIHNhbXBs!ZSBub25jZQ=="), ("Sec-WebSocket-Version", "7")], None),
    ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "12"),
      ("Sec-WebSocket-Version", "13")], (400, "Unsupported version: 12")),
    ([("Sec-WebSocket-Version", "13")], (400, "Handshake error: None")),
    ([("Sec-WebSocket-Key", "YWJj"), ("Sec-WebSocket-Version", "13")], (400, "Handshake error: 'YWJj'")),
    ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQé="), ("Sec-WebSocket-Version", "13")], (500, AIOHTTP_500)),
], ids=["version-8", "stray-key-characters", "first-version-counts", "no-key", "short-key", "non-ascii-key"])
def test_handshake_versions_and_keys_are_checked_like_aiohttp(headers: list[tuple[str, str]],
                                                             refusal: tuple[int, str] | None) -> None:
    from websockets.datastructures import Headers

    from fakecomfy.web.transport import handshake_refusal

    assert handshake_refusal(Headers(headers)) == refusal


def test_an_http_1_0_answer_of_unknown_length_is_sent_unchunked_and_ends_with_the_connection() -> None:
    from fakecomfy.web.transport import VersionedWrites

    class Closable(_Written):
        closed = False

        def close(self) -> None:
            self.closed = True

    written = Closable()
    writes = VersionedWrites(written, "1.0", keep_alive=True)
    writes.write(b"HTTP/1.1 416 Range Not Satisfiable\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
    writes.write(b"4\r\nx0\r\n\r\n")  # a chunk whose body ends like the last chunk
    assert not written.closed
    writes.write(b"3\r\nabc\r\n0\r\n\r\n")
    assert written.data == [b"HTTP/1.0 416 Range Not Satisfiable\r\n\r\n", b"x0\r\n", b"abc"]
    assert written.closed
