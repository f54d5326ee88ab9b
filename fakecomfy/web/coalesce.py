"""Fewer socket writes: what one event-loop turn writes to a connection leaves in one write.

A prompt produces a dozen small WebSocket messages at once, and uvicorn writes an HTTP
response's head and body separately; each write is a system call on the server and a wake-up
on the client. Wrapping the connection's transport keeps the bytes (and their order) as they
are, only the TCP segments change. An HTTP response leaves as soon as it is complete; an HTTP
connection upgraded to a WebSocket keeps its one wrapper.
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any


class CoalescingTransport:
    """Looks like the transport it wraps; ``write`` collects until the loop's next turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

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

        def on_response_complete(self, *args: Any) -> None:
            # uvicorn's HTTP protocols call this once a response is written: send it now, do not
            # wait for the loop's next turn (a prompt may run before that turn).
            transport = getattr(self, "transport", None)
            if isinstance(transport, CoalescingTransport):
                transport.flush()
            super().on_response_complete(*args)

    if not hasattr(protocol_class, "on_response_complete"):
        del Coalescing.on_response_complete

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{protocol_class.__name__}"
    return Coalescing


@functools.cache
def websocket_protocol() -> type[asyncio.Protocol] | str:
    """What to pass as uvicorn's ``ws``: its default implementation, coalescing ("auto" if none)."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    if not isinstance(AutoWebSocketsProtocol, type):
        return "auto"
    return coalescing(AutoWebSocketsProtocol)


@functools.cache
def http_protocol() -> type[asyncio.Protocol]:
    """What to pass as uvicorn's ``http``: its default implementation, coalescing."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return coalescing(AutoHTTPProtocol)
