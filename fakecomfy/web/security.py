"""ComfyUI's Origin check: a loopback server refuses requests whose Origin is not its Host.

It runs before routing for every request, WebSocket upgrades and OPTIONS included, and is
replaced (not complemented) by ``--enable-cors-header``.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
import urllib.parse

from starlette.types import ASGIApp, Receive, Scope, Send

from fakecomfy.web.routing import reject_handshake


@functools.lru_cache(maxsize=256)
def is_loopback(hostname: str) -> bool:
    """A loopback IP literal, or a name whose first resolved address is loopback."""
    if not hostname:
        return False
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(hostname, None)
    except (OSError, UnicodeError):
        return False  # a name that does not resolve is not loopback
    if not infos:
        return False
    try:
        return ipaddress.ip_address(str(infos[0][4][0])).is_loopback
    except ValueError:
        return False


def origin_allowed(host: str | None, origin: str | None) -> bool:
    """False when a loopback Host meets an Origin naming another host or port."""
    if not host or origin is None:
        return True
    parsed_origin = urllib.parse.urlsplit(origin.lower())
    origin_netloc = parsed_origin.netloc
    if not origin_netloc:  # "null", "" and the like pass
        return True
    parsed_host = urllib.parse.urlsplit("//" + host.lower())
    try:
        host_port, origin_port = parsed_host.port, parsed_origin.port
    except ValueError:
        return False
    if not is_loopback(parsed_host.hostname or ""):
        return True
    host_side = host.lower()
    origin_side = origin_netloc
    if origin_port is None:
        host_side = parsed_host.hostname or ""
    if host_port is None:
        origin_side = parsed_origin.hostname or ""
    return host_side == origin_side


class OriginCheckMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = origin = None
            for key, value in scope["headers"]:  # ASGI servers give lower-case names
                if key == b"host":
                    host = value.decode("latin-1")
                elif key == b"origin":
                    origin = value.decode("latin-1")
            if not origin_allowed(host, origin):
                if scope["type"] == "http":
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-length", b"0")]})
                    await send({"type": "http.response.body", "body": b""})
                else:
                    await reject_handshake(send, 403)
                return
        await self.app(scope, receive, send)
