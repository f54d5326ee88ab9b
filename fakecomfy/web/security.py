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

from fakecomfy import protocol
from fakecomfy.web import transport
from fakecomfy.web.routing import reject_handshake


@functools.lru_cache(maxsize=256)
def is_loopback(hostname: str | None) -> bool:
    """Real's loopback test of the Host's name: an IP literal is judged by itself; a name by its
    IPv4 then IPv6 addresses, in order, until the first that is not loopback (a name resolving to
    loopback before anything else counts as loopback). A name that does not resolve is not
    loopback; one the IDNA codec refuses (an empty or over-long label) raises ``UnicodeError``."""
    if hostname is None:
        return False
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        pass
    seen_loopback = False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            infos = socket.getaddrinfo(hostname, None, family, socket.SOCK_STREAM)
        except socket.gaierror:
            continue
        for info in infos:
            if not ipaddress.ip_address(info[4][0]).is_loopback:
                return seen_loopback
            seen_loopback = True
    return seen_loopback


def origin_allowed(host: str | None, origin: str | None) -> bool:
    """False when a loopback Host meets an Origin naming another host or port.

    Compared as real compares them: the lower-cased Host against the Origin's network location;
    when the Origin has no port the Host's is left out, and when the Host has none the Origin's
    is; an empty side on either hand lets the request pass. A port that is not a number in
    0-65535, or an unclosed IPv6 bracket, on either side raises ``ValueError`` (real's 500).
    """
    if host is None or origin is None:
        return True
    parsed_origin = urllib.parse.urlparse(origin)
    parsed_host = urllib.parse.urlsplit("//" + host.lower())
    loopback = is_loopback(parsed_host.hostname)
    host_side: str | None = host.lower()
    origin_side: str | None = parsed_origin.netloc.lower()
    if parsed_origin.port is None:
        host_side = parsed_host.hostname
    if parsed_host.port is None:
        origin_side = parsed_origin.hostname
    if not (loopback and host_side and origin_side):
        return True
    return host_side == origin_side


class OriginCheckMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = origin = None
            for key, value in scope["headers"]:  # ASGI servers give lower-case names
                if key == b"host" and host is None:  # aiohttp's headers[name]: the first one
                    host = value.decode("latin-1")
                elif key == b"origin" and origin is None:
                    origin = value.decode("latin-1")
            try:
                allowed = origin_allowed(host, origin)
            except Exception:  # noqa: BLE001 - an exception in real's middleware: aiohttp's 500
                await _refuse(scope, receive, send, 500, protocol.TEXT_500.encode("utf-8"))
                return
            if not allowed:
                await _refuse(scope, receive, send, 403, b"")
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, body: bytes) -> None:
    """A refusal before routing: empty (``web.Response(status=403)``) or aiohttp's text 500,
    which closes the connection; a WebSocket upgrade gets the same answer."""
    headers = [(b"content-length", b"%d" % len(body))]
    if body:
        headers += [(b"content-type", protocol.TEXT_MEDIA.encode("ascii")), (b"connection", b"close")]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif body:  # uvicorn adds no Server header to an upgrade answered with HTTP
        headers.append((b"server", transport.SERVER_SOFTWARE.encode("ascii")))
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await reject_handshake(send, status)
