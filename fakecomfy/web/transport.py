"""The connection as real ComfyUI's aiohttp server handles it, on uvicorn.

Every value below is aiohttp 3.14's (ComfyUI 0.8.0 configures none of them), and each was
checked by sending the same bytes to a bare aiohttp app set up like ComfyUI's ``server.py``
(``tests/test_transport.py`` keeps doing so). :func:`fakecomfy.web.protocols.server_config` turns them into
uvicorn's settings; what uvicorn has no setting for is done by the two protocol mixins here,
which ``fakecomfy.web.protocols`` layers under the coalescing protocols of
``fakecomfy.web.coalesce``:

* :class:`AiohttpHTTP` (uvicorn's httptools protocol): aiohttp's parser limits and its
  ``HTTP/1.0 400`` answer with the parser's message, the missing-Host and duplicate-header
  checks, ``Expect`` handled before the route runs, answers in the request's HTTP version;
* :class:`AiohttpWebSocket` (uvicorn's websockets sans-I/O protocol): the handshake versions and
  keys aiohttp takes (its refusals left to the route, after the Origin check, as aiohttp's
  handler refuses them), close frames with a code and no reason, every close code aiohttp takes
  answered with 1000, permessage-deflate negotiated like aiohttp.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import ctypes
import dataclasses
import functools
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httptools
from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import EXTERNAL_CLOSE_CODES, Close, CloseCode, Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter, Origin
from websockets.utils import accept_key

from fakecomfy import protocol

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

# ---- aiohttp's values ---------------------------------------------------------------------------
AIOHTTP_VERSION = "3.14.5"  # the aiohttp the reference answers were taken from (real ComfyUI 0.8.0 ran 3.14)
# aiohttp.http.SERVER_SOFTWARE
SERVER_SOFTWARE = f"Python/{sys.version_info[0]}.{sys.version_info[1]} aiohttp/{AIOHTTP_VERSION}"
KEEPALIVE_TIMEOUT = 3630  # aiohttp web_protocol.RequestHandler keepalive_timeout (75 before aiohttp 3.10.6)
# aiohttp's TCPSite listens with a backlog of 128. Not kept on purpose: 1 000 clients connecting
# at once overflow it while the loop broadcasts, and the kernel then retries SYNs for up to 100 s
# and resets connections whose SYN cookie fails (prompts lost; seen on the 2-core machine). A
# burst up to this many waits in the queue instead (uvicorn's default; Linux caps it at somaxconn).
BACKLOG = 2048
WS_HEARTBEAT = None  # aiohttp web_ws.WebSocketResponse heartbeat: no pings, no pong deadline
WS_MAX_MSG_SIZE = 4 * 1024 * 1024  # WebSocketResponse max_msg_size: a message of this many bytes or more is refused
WS_MESSAGE_TOO_BIG = CloseCode.MESSAGE_TOO_BIG  # 1009, the close code past max_msg_size (aiohttp WSCloseCode)
WS_CLOSE_ANSWER = CloseCode.NORMAL_CLOSURE  # WebSocketResponse(autoclose=True) answers any close with 1000
# aiohttp's WSCloseCode: the close codes under 3000 its reader takes (any from 3000 on, 5000+ too)
WS_ALLOWED_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
WS_VERSIONS = ("13", "8", "7")  # the Sec-WebSocket-Version values WebSocketResponse takes, as written
TEXT_WS_VERSION = "Unsupported version: {version}"  # its HTTPBadRequest texts
TEXT_WS_KEY = "Handshake error: {key!r}"
# The scope extension under which the server hands the route aiohttp's refusal of a handshake:
# (status, text), set only where aiohttp's WebSocketResponse would refuse it.
HANDSHAKE_REFUSAL_EXTENSION = "fakecomfy.handshake_refusal"
WS_DEFLATE_BITS = 15  # WebSocketResponse(compress=True): permessage-deflate, window 15 unless the client asks less
MAX_LINE_SIZE = 8190  # aiohttp HttpRequestParser max_line_size: the request target
MAX_FIELD_SIZE = 8190  # HttpRequestParser max_field_size: a header's name, and its name and value together
MAX_HEADERS = 128  # HttpRequestParser max_headers
# aiohttp's http_parser.SINGLETON_HEADERS: a second one is a 400, named as aiohttp.hdrs spells it
SINGLETON_HEADERS = {name.lower().encode(): name for name in (
    "Content-Length", "Content-Location", "Content-Range", "Content-Type", "Etag", "Host",
    "Max-Forwards", "Server", "Transfer-Encoding", "User-Agent")}
# the text bodies of aiohttp's HTTPException answers (web_exceptions: "<status>: <reason>")
TEXT_403 = "403: Forbidden"
TEXT_404 = "404: Not Found"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # aiohttp's default expect handler writes exactly this
REPLAY_LIMIT = 64 * 1024  # bytes kept to place the ^ of a parser error; past it the pointer is approximate


# ---- HTTP ---------------------------------------------------------------------------------------
class BadRequest(Exception):
    """Raised in a parser callback: the request gets aiohttp's 400 with this text."""


def line_too_long(line: bytes | bytearray, limit: int) -> BadRequest:
    return BadRequest(f"Got more than {limit} bytes when reading: {line!r}.")  # aiohttp's LineTooLong


def bad_request(text: str, default_headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """aiohttp's answer to a request it cannot parse: HTTP/1.0 (no request version is known), the
    message as text, no Connection header, and the connection closed after it."""
    body = text.encode("utf-8", "backslashreplace")
    head = [b"HTTP/1.0 400 Bad Request\r\n", b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body)]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    return b"".join(head) + b"\r\n" + body


# llhttp's error numbers (llhttp.h) that aiohttp's _http_parser.pyx words differently
HPE_INVALID_METHOD, HPE_INVALID_CONSTANT, HPE_INVALID_VERSION, HPE_INVALID_STATUS = 6, 8, 9, 13
HPE_PAUSED_UPGRADE = 22
_HTTP_REQUEST = 1  # llhttp_type_t


@functools.cache
def _llhttp() -> ctypes.CDLL | None:
    """llhttp's C API from the httptools extension uvicorn's parser already loaded: it says where
    and why parsing failed, which httptools keeps to itself (None where it is not exported)."""
    try:
        lib = ctypes.CDLL(httptools.parser.parser.__file__)
        lib.llhttp_execute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.llhttp_get_error_pos.restype = ctypes.c_void_p
        lib.llhttp_get_error_reason.restype = ctypes.c_char_p
        return lib
    except (OSError, AttributeError):  # pragma: no cover - a build that hides the symbols
        return None


def llhttp_error(data: bytes) -> tuple[int, int, str] | None:
    """(errno, offset, reason) where llhttp, parsing ``data`` as a connection's requests from its
    start, fails; None when it does not (or cannot be asked)."""
    lib = _llhttp()
    if lib is None:  # pragma: no cover
        return None
    parser, settings = ctypes.create_string_buffer(512), ctypes.create_string_buffer(1024)  # > both structs
    lib.llhttp_settings_init(settings)  # no callbacks: llhttp alone
    lib.llhttp_init(parser, _HTTP_REQUEST, settings)
    lib.llhttp_set_lenient_data_after_close(parser, 1)  # as uvicorn sets its parser
    buffer = ctypes.create_string_buffer(data, len(data))
    errno = lib.llhttp_execute(parser, buffer, len(data))
    if errno in (0, HPE_PAUSED_UPGRADE):
        return None
    offset = lib.llhttp_get_error_pos(parser) - ctypes.addressof(buffer)
    return errno, offset, lib.llhttp_get_error_reason(parser).decode("latin-1")


def parser_error_text(errno: int, reason: str, chunk: bytes, offset: int) -> str:
    """aiohttp's message for an llhttp error at ``offset`` of the bytes it was parsing: the
    reason, the offending line and a ^ under the byte."""
    before = chunk[:offset].rsplit(b"\r\n", 1)[-1]
    line = before + chunk[offset:].split(b"\r\n", 1)[0]
    if errno == HPE_INVALID_METHOD and line.startswith(b"\x16\x03"):
        return "Received HTTPS traffic on an HTTP port"
    text = f"{reason}:\n\n  {line!r}\n  {' ' * (len(repr(before)) - 1)}^"
    if errno in (HPE_INVALID_CONSTANT, HPE_INVALID_VERSION, HPE_INVALID_STATUS):
        return f"Bad status line:\n  {text}"
    return text


def expectation_failed(expect: bytes) -> ASGIApp:
    """The answer aiohttp's default expect handler raises for an Expect other than 100-continue."""
    body = b"Unknown Expect: " + expect

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 417, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def not_found_text() -> ASGIApp:
    """aiohttp's raised 404 for a request no resource matches, the connection closed after it."""
    body = TEXT_404.encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body)),
                   (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


CHUNKED_HEADER = b"transfer-encoding: chunked\r\n"
LAST_CHUNK = b"0\r\n\r\n"


class VersionedWrites:
    """A cycle's transport whose response head changes: for a request that is not HTTP/1.1,
    aiohttp answers in the request's version and says ``Connection: keep-alive`` to HTTP/1.0 only
    (uvicorn writes HTTP/1.1 and ``connection: close``); a route may also give the status line a
    reason phrase of its own (:func:`set_reason`). Only the response head, the first write, changes."""

    def __init__(self, transport: Any, version: str, keep_alive: bool) -> None:
        self._transport = transport
        self._version = version.encode("ascii")
        self._connection = b"connection: keep-alive\r\n" if keep_alive and version == "1.0" else b""
        self._head_written = False
        self._unchunk = False
        self.reason: bytes | None = None

    def write(self, data: bytes) -> None:
        if not self._head_written:
            self._head_written = True
            line, rest = bytes(data).split(b"\r\n", 1)
            status, _, reason = line[len(b"HTTP/1.1 "):].partition(b" ")
            if self.reason is not None:
                reason = self.reason
            if self._version != b"1.1":
                rest = rest[:-2].replace(b"connection: close\r\n", b"")
                if self._version == b"1.0" and CHUNKED_HEADER in rest:
                    # HTTP/1.0 has no chunks: aiohttp sends a body of unknown length as it is,
                    # without a Connection header, and the end of the connection ends the body
                    rest, self._unchunk = rest.replace(CHUNKED_HEADER, b""), True
                else:
                    rest += self._connection
                rest += b"\r\n"
            data = b"HTTP/" + self._version + b" " + status + b" " + reason + b"\r\n" + rest
        elif self._unchunk:
            self._write_unchunked(bytes(data))
            return
        self._transport.write(data)

    def _write_unchunked(self, data: bytes) -> None:
        """One of uvicorn's chunked writes (``size CRLF body CRLF``, the last ending with
        ``0 CRLF CRLF``) as plain body bytes; after the last the connection is closed."""
        if not data.startswith(LAST_CHUNK):
            size, _, data = data.partition(b"\r\n")
            end = int(size, 16)
            self._transport.write(data[:end])
            data = data[end + 2:]
        if data == LAST_CHUNK:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


# The scope extension under which an HTTP request's route may set its answer's reason phrase
# (ASGI has no place for one): a callable taking the phrase. Use :func:`set_reason`.
REASON_EXTENSION = "fakecomfy.reason"


def set_reason(scope: Any, reason: str) -> None:
    """Give the response of the request with ``scope`` the reason phrase ``reason`` (aiohttp's
    ``web.Response(reason=...)``); without fakecomfy's protocol, the server's phrase stays."""
    setter = scope.get("extensions", {}).get(REASON_EXTENSION) if isinstance(scope, dict) else None
    if setter is not None:
        setter(reason)


def _offer_reason(scope: dict[str, Any], cycle: Any) -> None:
    def set_cycle_reason(reason: str) -> None:
        writes = cycle.transport
        if not isinstance(writes, VersionedWrites):
            writes = cycle.transport = VersionedWrites(writes, "1.1", cycle.keep_alive)
        writes.reason = reason.encode("latin-1")

    scope.setdefault("extensions", {})[REASON_EXTENSION] = set_cycle_reason


class AiohttpHTTP:
    """Mixed in before uvicorn's ``HttpToolsProtocol``; the parser callbacks raise
    :class:`BadRequest` and ``send_400_response`` writes aiohttp's answer."""

    _in_message = False
    _history: bytes | None = b""  # the bytes since the parser was last between messages
    _chunk = b""  # what the parser is being fed

    def on_message_begin(self) -> None:
        super().on_message_begin()  # type: ignore[misc]
        self._in_message = True
        self._singletons: set[bytes] = set()
        self._previous_name: bytes | None = None

    def on_message_complete(self) -> None:
        self._in_message = False
        super().on_message_complete()  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        self._chunk = data
        super().data_received(data)  # type: ignore[misc]
        if not self._in_message:
            self._history = b""
        elif self._history is not None:
            self._history += data
            if len(self._history) > REPLAY_LIMIT:  # an upload: too long to replay
                self._history = None

    def on_url(self, url: bytes) -> None:
        super().on_url(url)  # type: ignore[misc]
        target: bytes = self.url  # type: ignore[attr-defined]
        if len(target) > MAX_LINE_SIZE:
            raise line_too_long(bytearray(target[:100]) + b"...", MAX_LINE_SIZE)

    def on_header(self, name: bytes, value: bytes) -> None:
        # aiohttp's arithmetic: a name is measured with the previous header's name in front of
        # it, a value with its own name only in the first header
        previous = self._previous_name
        self._previous_name = name
        measured = name if previous is None else previous + name
        if len(measured) > MAX_FIELD_SIZE:
            raise line_too_long(measured[:100] + b"...", MAX_FIELD_SIZE)
        if (len(name) if previous is None else 0) + len(value) > MAX_FIELD_SIZE:
            raise line_too_long(value[:100] + b"...", MAX_FIELD_SIZE)
        lower = name.lower()
        if lower in SINGLETON_HEADERS:
            if lower in self._singletons:
                raise BadRequest(f"Duplicate '{SINGLETON_HEADERS[lower]}' header found.")
            self._singletons.add(lower)
        super().on_header(name, value)  # type: ignore[misc]
        if len(self.headers) > MAX_HEADERS:  # type: ignore[attr-defined]
            raise BadRequest("Too many headers received")

    def on_headers_complete(self) -> None:
        p: Any = self
        version: str = p.parser.get_http_version()
        headers: list[tuple[bytes, bytes]] = p.headers
        if version == "1.1" and not any(name == b"host" for name, _ in headers):
            raise BadRequest("Missing 'Host' header in request.")
        expect = next((value for name, value in headers if name == b"expect"), b"")
        app, previous = p.app, p.cycle
        method: bytes = p.parser.get_method()
        target: bytes = p.url
        if method == b"CONNECT":  # authority-form: real routes it as a path no resource has
            p.url, p.app = b"/", not_found_text()
        elif not target.startswith(b"/") and not (target == b"*" and method == b"OPTIONS") \
                and b"//" not in target:  # neither origin-, asterisk- nor absolute-form
            raise BadRequest(target.decode("latin-1"))  # aiohttp's InvalidURLError: the target
        if version == "1.1" and expect and expect.lower() != b"100-continue":
            p.app = expectation_failed(expect)  # before the route and its middleware, like aiohttp
        try:
            super().on_headers_complete()  # type: ignore[misc]
        finally:
            p.app = app
        cycle = p.cycle
        if cycle is previous:  # a WebSocket upgrade: no HTTP cycle
            return
        if version != "1.1":
            cycle.keep_alive = p.parser.should_keep_alive()  # HTTP/1.0 too, when it asks (uvicorn: never)
            cycle.transport = VersionedWrites(cycle.transport, version, cycle.keep_alive)
        _offer_reason(cycle.scope, cycle)

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # aiohttp sends 100 Continue as the route starts, read or not; uvicorn on the first read
        if cycle.waiting_for_100_continue:
            cycle.waiting_for_100_continue = False
            transport: Any = self.transport  # type: ignore[attr-defined]
            if cycle.scope["http_version"] == "1.1" and not transport.is_closing():
                transport.write(CONTINUE)
        super()._start_asgi_task(cycle, app)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        error = sys.exc_info()[1]  # uvicorn calls this from its `except httptools.HttpParserError`
        p: Any = self
        p.transport.write(bad_request(self._error_text(error, msg), p.server_state.default_headers))
        p.transport.close()

    def _error_text(self, error: BaseException | None, fallback: str) -> str:
        if error is None:
            return fallback
        if isinstance(error.__context__, BadRequest):
            return str(error.__context__)
        if isinstance(error, httptools.HttpParserCallbackError):  # uvicorn's own callback failed
            return fallback
        history, chunk = self._history, self._chunk
        found = None if history is None else llhttp_error(history + chunk)
        if history is None or found is None:  # an upload too long to replay: the ^ at the start
            return parser_error_text(0, str(error), chunk, 0)
        errno, offset, reason = found
        return parser_error_text(errno, reason, chunk, offset - len(history))


def like_aiohttp_http(protocol_class: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``protocol_class`` (uvicorn's httptools protocol) with :class:`AiohttpHTTP` mixed in."""
    mixed = type(f"Aiohttp{protocol_class.__name__}", (AiohttpHTTP, protocol_class), {})
    mixed.__qualname__ = mixed.__name__
    return mixed


# ---- WebSocket ----------------------------------------------------------------------------------
class AiohttpDeflateFactory(ServerPerMessageDeflateFactory):
    """permessage-deflate as aiohttp's server negotiates it: the first offer it can parse wins;
    it honours server_max_window_bits (9–15) and server_no_context_takeover, echoes only those,
    and lets the client compress with its full window and context."""

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        if any(other.name == self.name for other in accepted_extensions):
            raise NegotiationError(f"skipped duplicate {self.name}")
        bits, no_takeover = WS_DEFLATE_BITS, False
        for name, value in params:
            if name in ("server_no_context_takeover", "client_no_context_takeover") and value is None:
                no_takeover = no_takeover or name.startswith("server")
            elif name in ("server_max_window_bits", "client_max_window_bits") and (value is None or value.isdigit()):
                if name.startswith("server") and value is not None:
                    if not 9 <= int(value) <= 15:  # zlib cannot: aiohttp tries the next offer
                        raise NegotiationError(f"unsupported {name}={value}")
                    bits = int(value)
            else:  # aiohttp's pattern does not match this offer
                raise NegotiationError(f"unsupported parameter {name}={value}")
        response: list[ExtensionParameter] = []
        if bits < WS_DEFLATE_BITS:
            response.append(("server_max_window_bits", str(bits)))
        if no_takeover:
            response.append(("server_no_context_takeover", None))
        return response, PerMessageDeflate(False, no_takeover, WS_DEFLATE_BITS, bits)


def _first(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    return values[0] if values else None


def handshake_refusal(headers: Headers) -> tuple[int, str] | None:
    """How aiohttp's WebSocketResponse refuses a handshake's version or key, as (status, text);
    None where it takes them. It reads the first of repeated headers, takes versions 7 and 8
    besides 13, and decodes the key leniently (characters outside base64 are dropped)."""
    version = _first(headers, "Sec-WebSocket-Version") or ""
    if version not in WS_VERSIONS:
        return 400, TEXT_WS_VERSION.format(version=version)
    key = _first(headers, "Sec-WebSocket-Key")
    try:
        if not key or len(base64.b64decode(key)) != 16:
            return 400, TEXT_WS_KEY.format(key=key)
    except binascii.Error:
        return 400, TEXT_WS_KEY.format(key=key)
    except ValueError:  # a key that is not ASCII: the handler fails, aiohttp answers its 500
        return 500, protocol.TEXT_500
    return None


# a key websockets' own checks take, standing in for the client's while they run
_STAND_IN_KEY = "AAAAAAAAAAAAAAAAAAAAAA=="


class AiohttpServerProtocol(ServerProtocol):
    """websockets' server side with aiohttp's handshake and close frames: versions and keys
    checked as aiohttp does (a refusal is kept in :attr:`refusal` for the route to send, the
    Origin check going first); close frames with a code and no reason, every close code aiohttp
    takes answered with 1000; any number of Origin headers (the app's Origin check reads the
    first, as aiohttp does); an upgrade refused with HTTP has a Content-Type only where the app
    gave one (uvicorn would add text/plain)."""

    bare_refusal = False
    refusal: tuple[int, str] | None = None

    def process_request(self, request: WsRequest) -> tuple[str, str | None, str | None]:
        headers = request.headers
        self.refusal = handshake_refusal(headers)
        stand_in = Headers(headers.raw_items())
        for name, value in (("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", _STAND_IN_KEY)):
            if name in stand_in:
                del stand_in[name]
            stand_in[name] = value
        checked = WsRequest(request.path, stand_in, request.method, request.protocol)
        _, extensions, subprotocol = super().process_request(checked)
        key = _first(headers, "Sec-WebSocket-Key") or ""
        return accept_key(key) if self.refusal is None else "", extensions, subprotocol

    def recv_frame(self, frame: Frame) -> None:
        code = int.from_bytes(frame.data[:2], "big") if frame.opcode is Opcode.CLOSE and len(frame.data) >= 2 else 0
        aiohttp_takes = code >= 3000 or code in WS_ALLOWED_CLOSE_CODES
        websockets_takes = code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000
        if not code or websockets_takes or not aiohttp_takes:
            super().recv_frame(frame)
            return
        # a code aiohttp takes and websockets refuses (1006, 5000 and up): websockets checks a
        # stand-in, and the close received keeps the client's code
        stand_in = WS_CLOSE_ANSWER.to_bytes(2, "big") + bytes(frame.data[2:])
        super().recv_frame(dataclasses.replace(frame, data=stand_in))
        if self.close_rcvd is not None:
            received = Close(code, self.close_rcvd.reason)
            if self.close_sent is self.close_rcvd:
                self.close_sent = received
            self.close_rcvd = received

    def fail(self, code: CloseCode | int, reason: str = "") -> None:
        super().fail(code)

    def process_origin(self, headers: Headers) -> Origin | None:
        values = headers.get_all("Origin")
        return Origin(values[0]) if values else None

    def send_response(self, response: WsResponse) -> None:
        if response.status_code == 101:  # aiohttp writes the token in lower case
            response.headers = Headers([(name, "upgrade" if name.lower() == "connection" else value)
                                        for name, value in response.headers.raw_items()])
        elif self.bare_refusal:
            del response.headers["Content-Type"]
        super().send_response(response)

    def send_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE and self.close_rcvd is not None and self.close_sent is None:
            frame = Frame(Opcode.CLOSE, Close(WS_CLOSE_ANSWER, "").serialize())  # not an echo
        super().send_frame(frame)


class AiohttpWebSocket:
    """Mixed in before uvicorn's websockets sans-I/O protocol: its websockets connection is
    :class:`AiohttpServerProtocol` with :class:`AiohttpDeflateFactory`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p: Any = self
        extensions = [AiohttpDeflateFactory()] if p.config.ws_per_message_deflate else []
        p.conn = AiohttpServerProtocol(extensions=extensions, max_size=p.config.ws_max_size,
                                       logger=logging.getLogger("uvicorn.error"))

    def handle_connect(self, event: Any) -> None:
        """Hand aiohttp's refusal of the handshake, if any, to the route through the scope's
        extensions (the app's task has not started yet)."""
        super().handle_connect(event)  # type: ignore[misc]
        p: Any = self
        refusal = p.conn.refusal
        scope = getattr(self, "scope", None)
        if refusal is not None and scope is not None:
            scope.setdefault("extensions", {})[HANDSHAKE_REFUSAL_EXTENSION] = refusal

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.http.response.start":
            p: Any = self
            p.conn.bare_refusal = not any(name.lower() == b"content-type" for name, _ in message.get("headers", []))
        await super().send(message)  # type: ignore[misc]


def like_aiohttp_websocket(protocol_class: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``protocol_class`` (uvicorn's websockets sans-I/O protocol) with :class:`AiohttpWebSocket`."""
    mixed = type(f"Aiohttp{protocol_class.__name__}", (AiohttpWebSocket, protocol_class), {})
    mixed.__qualname__ = mixed.__name__
    return mixed
