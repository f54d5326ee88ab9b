"""Fewer socket writes: what one event-loop turn writes to a connection leaves in one write.

A prompt produces a dozen small WebSocket messages at once, and uvicorn writes an HTTP
response's head and body separately; each write is a system call on the server and a wake-up
on the client. Wrapping the connection's transport keeps the bytes (and their order) as they
are, only the TCP segments change. An HTTP response leaves as soon as it is complete; an HTTP
connection upgraded to a WebSocket keeps its one wrapper.
"""
from __future__ import annotations

import asyncio
import struct
import weakref
from typing import Any


class _TurnFlusher:
    """Flushes, in one callback at the loop's next turn, every connection written to in this
    one: a status broadcast writes to every socket, and a callback each would cost more than
    the write itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[CoalescingTransport] = []

    def add(self, transport: CoalescingTransport) -> None:
        if not self._dirty:
            self._loop.call_soon(self._flush_all)
        self._dirty.append(transport)

    def _flush_all(self) -> None:
        dirty, self._dirty = self._dirty, []
        for transport in dirty:
            transport.flush()


_FLUSHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TurnFlusher] = weakref.WeakKeyDictionary()


def _flusher(loop: asyncio.AbstractEventLoop) -> _TurnFlusher:
    flusher = _FLUSHERS.get(loop)
    if flusher is None:
        flusher = _FLUSHERS[loop] = _TurnFlusher(loop)
    return flusher


class CoalescingTransport:
    """Looks like the transport it wraps; ``write`` collects until the loop's next turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._flusher = _flusher(loop)
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._flusher.add(self)
        self._pending.append(data if type(data) is bytes else bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


def coalescing(protocol_class: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A subclass of a uvicorn protocol whose writes go through :class:`CoalescingTransport`."""

    class Coalescing(protocol_class):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            wrapped: Any = transport  # an upgraded HTTP connection is wrapped already
            if not isinstance(transport, CoalescingTransport):
                wrapped = CoalescingTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
            super().connection_made(wrapped)

        def on_headers_complete(self) -> None:
            # The request's task has not started yet: offer it a way to drop the connection
            # (a control-plane fault), through the scope's extensions.
            super().on_headers_complete()
            offer_abort(getattr(self, "scope", None), getattr(self, "transport", None))

        def on_response_complete(self, *args: Any) -> None:
            # uvicorn's HTTP protocols call this once a response is written: send it now, do not
            # wait for the loop's next turn (a prompt may run before that turn).
            transport = getattr(self, "transport", None)
            if isinstance(transport, CoalescingTransport):
                transport.flush()
            super().on_response_complete(*args)

    if not hasattr(protocol_class, "on_response_complete"):
        del Coalescing.on_response_complete
    if not hasattr(protocol_class, "on_headers_complete"):
        del Coalescing.on_headers_complete

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{protocol_class.__name__}"
    return Coalescing


def frame_header(opcode: int, length: int) -> bytes:
    """The head of one unfragmented, unmasked (server-to-client) WebSocket frame (RFC 6455 5.2)."""
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 0x10000:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def frame(message: str | bytes) -> bytes:
    """A whole server-to-client frame: a text frame for ``str``, a binary one for ``bytes``.
    Unmasked and uncompressed, so one frame serves every connection a broadcast goes to."""
    if isinstance(message, str):
        payload, opcode = message.encode(), 0x1
    else:
        payload, opcode = message, 0x2
    length = len(payload)
    return (bytes((0x80 | opcode, length)) if length < 126 else frame_header(opcode, length)) + payload


# The scope extension under which a WebSocket connection offers DirectMessages.write_frame.
WRITE_FRAME_EXTENSION = "fakecomfy.write_frame"
# ... and under which a connection offers to be dropped at once (its transport's abort).
ABORT_EXTENSION = "fakecomfy.abort"


def offer_abort(scope: Any, transport: Any) -> None:
    if isinstance(scope, dict) and transport is not None:
        scope.setdefault("extensions", {})[ABORT_EXTENSION] = transport.abort


class DirectMessages:
    """For uvicorn's websockets (sans-I/O) protocol: a message framed here and written to the
    transport in one call, skipping the ASGI ``send`` and websockets' framing layers.

    Only while that gives the same bytes and the same behaviour: the handshake is done, no close
    was sent or received, writing is not paused, and no extension (permessage-deflate) was
    negotiated. Otherwise :meth:`write_frame` returns False and the caller uses ``send``.
    """

    _writes_paused = False

    def handle_connect(self, event: Any) -> None:
        """Hand :meth:`write_frame` to the app through the scope's extensions (the ASGI place
        for what a server offers beyond the spec); the app's task has not started yet."""
        super().handle_connect(event)  # type: ignore[misc]
        scope = getattr(self, "scope", None)
        if scope is not None and not getattr(self, "close_sent", False):
            scope.setdefault("extensions", {})[WRITE_FRAME_EXTENSION] = self.write_frame
            offer_abort(scope, getattr(self, "transport", None))

    def pause_writing(self) -> None:
        self._writes_paused = True
        super().pause_writing()  # type: ignore[misc]

    def resume_writing(self) -> None:
        self._writes_paused = False
        super().resume_writing()  # type: ignore[misc]

    def write_message(self, message: str | bytes) -> bool:
        return self.write_frame(frame(message))

    def write_frame(self, wire: bytes) -> bool:
        """Write a frame built by :func:`frame`, or return False when the connection's state
        needs websockets' own path."""
        p: Any = self
        conn = p.conn
        if (not p.handshake_complete or p.close_sent or p.disconnected or p.initial_response is not None
                or self._writes_paused or conn.close_sent is not None or conn.close_rcvd is not None
                or conn.extensions):
            return False
        p.transport.write(wire)
        return True
