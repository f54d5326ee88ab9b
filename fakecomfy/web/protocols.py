"""The uvicorn protocols and settings fakecomfy serves with.

uvicorn's own protocol classes, with aiohttp's connection behaviour layered under them
(``fakecomfy.web.transport``) and fakecomfy's coalesced writes and directly written WebSocket
frames over them (``fakecomfy.web.coalesce``); :func:`server_config` is what ``fakecomfy serve``
and ``fakecomfy.testing.ServerThread`` both run.
"""
from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from fakecomfy.web.coalesce import DirectMessages, coalescing
from fakecomfy.web.transport import (
    BACKLOG,
    KEEPALIVE_TIMEOUT,
    SERVER_SOFTWARE,
    WS_HEARTBEAT,
    WS_MAX_MSG_SIZE,
    like_aiohttp_http,
    like_aiohttp_websocket,
)

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp


def server_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """uvicorn's Config with aiohttp's connection behaviour and fakecomfy's protocols; ``options``
    are the caller's own (host, port, logging)."""
    import uvicorn

    settings: dict[str, Any] = {
        "timeout_keep_alive": KEEPALIVE_TIMEOUT,
        "backlog": BACKLOG,
        "ws_ping_interval": WS_HEARTBEAT,
        "ws_ping_timeout": WS_HEARTBEAT,
        "ws_max_size": WS_MAX_MSG_SIZE - 1,  # websockets refuses above max_size, aiohttp from max_msg_size on
        "server_header": False,
        "headers": [("Server", SERVER_SOFTWARE)],
        "proxy_headers": False,  # aiohttp reads no X-Forwarded-* headers
        "ws": websocket_protocol(),
        "http": http_protocol(),
    }
    settings.update(options)
    return uvicorn.Config(app, **settings)


@functools.cache
def websocket_protocol() -> type[asyncio.Protocol] | str:
    """What to pass as uvicorn's ``ws``: its default implementation, coalescing ("auto" if none);
    where that implementation is websockets' sans-I/O one, also with aiohttp's close frames and
    deflate negotiation (``fakecomfy.web.transport``) and with :class:`DirectMessages`."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    if not isinstance(AutoWebSocketsProtocol, type):
        return "auto"
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - an older uvicorn
        return coalescing(AutoWebSocketsProtocol)
    sans_io = issubclass(AutoWebSocketsProtocol, WebSocketsSansIOProtocol)
    if not sans_io:
        return coalescing(AutoWebSocketsProtocol)
    protocol_class = coalescing(like_aiohttp_websocket(AutoWebSocketsProtocol))
    direct = type(f"Direct{protocol_class.__name__}", (DirectMessages, protocol_class), {})
    direct.__qualname__ = direct.__name__
    return direct


@functools.cache
def http_protocol() -> type[asyncio.Protocol]:
    """What to pass as uvicorn's ``http``: its default implementation, coalescing; the httptools
    one also with aiohttp's parser limits and answers (``fakecomfy.web.transport``)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    if issubclass(AutoHTTPProtocol, HttpToolsProtocol):
        return coalescing(like_aiohttp_http(AutoHTTPProtocol))
    return coalescing(AutoHTTPProtocol)  # pragma: no cover - h11 (no httptools): uvicorn's own parsing
