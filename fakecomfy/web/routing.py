"""A router that resolves requests the way ComfyUI's aiohttp application does.

What clients can observe and Starlette's own router does differently:

* every route also exists under ``/api`` (ComfyUI registers each route twice);
* path parameters match URL-encoded segments, so ``/userdata/dir%2Fa.json`` gives ``dir/a.json``;
* a static route for ``/`` sits behind everything: an unknown path, and a GET on a POST-only
  path, is a 404 with an empty body; any other wrong method is a 405 whose ``Allow`` header
  joins the route's methods with the static route's ``GET,HEAD``;
* handler errors are 500 ``Server got itself in trouble`` and close the connection (aiohttp's
  handle_error forces that); raised errors skip the CORS headers;
* a WebSocket upgrade of a path without a WebSocket handler is an ordinary GET of that path.
"""
from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from fakecomfy import protocol
from fakecomfy.web import transport
from fakecomfy.web.caching import apply_cache_control
from fakecomfy.web.requests import MAX_BODY_KEY, ComfyRequest
from fakecomfy.web.responses import HTTPError, method_not_allowed, text

log = logging.getLogger("fakecomfy")

class RoutedWebSocket(WebSocket):
    """Starlette's WebSocket that also keeps the connection's raw ASGI ``send``: a writer that
    sends many frames after ``accept`` can skip the per-message state checks."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self.asgi_send = send


Handler = Callable[[Request], Awaitable[Response]]
WebSocketHandler = Callable[[RoutedWebSocket], Awaitable[None]]
StaticHandler = Callable[[Request], Awaitable[Response | None]]

# True in a request's scope once the static handler answers it (a file of the web root or its
# refusal): files, not answers of the API the contract check holds to the spec.
STATIC_ANSWER_KEY = "fakecomfy.static_answer"

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]+))?\}")
_STATIC_METHODS = frozenset({"GET", "HEAD"})


def _compile(path: str) -> re.Pattern[str]:
    pattern, pos = "", 0
    for m in _PARAM.finditer(path):
        pattern += re.escape(path[pos : m.start()])
        pattern += f"(?P<{m.group(1)}>{m.group(2) or '[^{}/]+'})"
        pos = m.end()
    pattern += re.escape(path[pos:])
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    regex: re.Pattern[str]

    def match(self, path: str) -> dict[str, str] | None:
        if "{" not in self.path:
            return {} if path == self.path else None
        m = self.regex.match(path)
        if m is None:
            return None
        return {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}


def safe_path(scope: Scope) -> str:
    """The request path decoded except for ``%2F`` and ``%25`` (aiohttp's ``path_safe``)."""
    raw = scope.get("raw_path")
    if raw is None:
        return str(scope["path"])
    raw_text: str = raw.decode("latin-1").split("?", 1)[0]
    if "%" not in raw_text:  # nothing to decode (the common case)
        return raw_text
    parts = re.split(r"(%2[Ff]|%25)", raw_text)
    return "".join(p if i % 2 else urllib.parse.unquote(p) for i, p in enumerate(parts))


class Router:
    """Holds the routes of the app and dispatches ASGI ``http``, ``websocket`` and ``lifespan``."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        # Resolution index: for each literal path, the routes that match it (its own and any
        # parametrised ones) with their parameters, in registration order (first match wins,
        # as in aiohttp).
        self._matches: dict[str, list[tuple[Route, dict[str, str]]]] = {}
        self._dynamic: list[Route] = []
        self._literal: set[str] = set()
        self.ws_routes: dict[str, WebSocketHandler] = {}
        self.static: StaticHandler | None = None
        # prefixes mounted like aiohttp sub-applications: no static route behind their paths
        self.subapp_prefixes: tuple[str, ...] = ()
        self.cors_headers: dict[str, str] = {}
        self.max_body = 100 * 1024 * 1024
        self.on_startup: list[Callable[[], Awaitable[None]]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []

    # ---- registration ---------------------------------------------------------------------
    def add(self, method: str | Sequence[str], path: str, handler: Handler, api_alias: bool = True) -> None:
        """Register ``path`` (and ``/api`` + path) for the given method(s)."""
        methods = [method] if isinstance(method, str) else list(method)
        for m in methods:
            # ComfyUI registers the /api copies first.
            paths = ["/api" + path, path] if api_alias else [path]
            for p in paths:
                self.routes.append(Route(m.upper(), p, handler, _compile(p)))
        self._matches.clear()
        self._dynamic = [r for r in self.routes if "{" in r.path]
        self._literal = {r.path for r in self.routes if "{" not in r.path}

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self._decorator("GET", path)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self._decorator("POST", path)

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self._decorator("DELETE", path)

    def _decorator(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler)
            return handler

        return register

    def websocket(self, path: str, handler: WebSocketHandler) -> None:
        self.ws_routes[path] = handler
        self.ws_routes["/api" + path] = handler

    # ---- resolution -----------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> tuple[Route | None, dict[str, str], set[str]]:
        """(route, params, allowed methods of routes whose path matched but method did not)."""
        allowed: set[str] = set()
        matches = self._matches.get(path)
        if matches is None:
            literal = path in self._literal
            candidates = [r for r in self.routes if r.path == path or "{" in r.path] if literal else self._dynamic
            found = ((r, r.match(path)) for r in candidates)
            matches = [(r, params) for r, params in found if params is not None]
            if literal:  # a bounded set of paths: remember its answer
                self._matches[path] = matches
        for route, params in matches:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, dict(params), allowed
            allowed.add(route.method)
            if route.method == "GET":
                allowed.add("HEAD")
        return None, {}, allowed

    # ---- ASGI -----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[MAX_BODY_KEY] = self.max_body
        request = ComfyRequest(scope, receive)
        response = await self.respond(request)
        if scope["method"] == "HEAD" and getattr(response, "body", None) == b"":  # aiohttp sends no length
            del response.headers["content-length"]
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        method = request.method
        path = safe_path(request.scope)
        try:
            if method == "OPTIONS":
                return self._with_cors(Response(b"", status_code=200))
            route, params, allowed = self.resolve(method, path)
            if route is not None:
                request.scope["path_params"] = params
                response = await route.handler(request)
                return self._with_cors(apply_cache_control(request.scope["path"], response))
            if self._in_subapp(path):  # a sub-application has no static route to fall back on
                return method_not_allowed(allowed) if allowed else text(transport.TEXT_404, 404)
            if method in _STATIC_METHODS:
                return self._with_cors(await self._static(request))
            return method_not_allowed(allowed | _STATIC_METHODS)
        except HTTPError as err:
            if err.response.status_code == 500:  # a handler's exception in real: handle_error
                err.response.headers[protocol.HEADER_CONNECTION] = protocol.CONNECTION_CLOSE
            return err.response
        except Exception:
            log.exception("Error handling request %s %s", method, path)
            response = text(protocol.TEXT_500, 500)
            response.headers[protocol.HEADER_CONNECTION] = protocol.CONNECTION_CLOSE
            return response

    async def _static(self, request: Request) -> Response:
        if self.static is not None:
            request.scope[STATIC_ANSWER_KEY] = True  # its raised refusals too
            found = await self.static(request)
            if found is not None:
                return found
            request.scope[STATIC_ANSWER_KEY] = False
        return Response(b"", status_code=404, media_type=protocol.OCTET_MEDIA)

    def _in_subapp(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.subapp_prefixes)

    def _with_cors(self, response: Response) -> Response:
        for k, v in self.cors_headers.items():
            response.headers[k] = v
        return response

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.ws_routes.get(safe_path(scope))
        if handler is None:
            await self._answer_upgrade_as_get(scope, send)
            return
        await handler(RoutedWebSocket(scope, receive, send))

    async def _answer_upgrade_as_get(self, scope: Scope, send: Send) -> None:
        """aiohttp upgrades only where a handler prepares a WebSocketResponse; elsewhere the
        upgrade request is answered like the GET it is (uvicorn closes the connection after it)."""

        async def no_body() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        messages: list[dict[str, Any]] = []

        async def collect(message: dict[str, Any]) -> None:
            messages.append(message)

        http_scope = {**scope, "type": "http", "method": "GET"}
        response = await self.respond(ComfyRequest(http_scope, no_body))
        await response(http_scope, no_body, collect)  # type: ignore[arg-type]
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        await send(_refusal_start(start["status"], start["headers"]))
        await send({"type": "websocket.http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for fn in self.on_startup:
                        await fn()
                except Exception as exc:  # noqa: BLE001 - report and let the server stop
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for fn in self.on_shutdown:
                    await fn()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def reject_handshake(send: Send, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Refuse a WebSocket upgrade with an HTTP status and an empty body."""
    await send(_refusal_start(status, (headers or []) + [(b"content-length", b"0")]))
    await send({"type": "websocket.http.response.body", "body": b""})


def _refusal_start(status: int, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    # uvicorn adds no default headers to an upgrade it answers with HTTP: aiohttp's Server one here
    server = (b"server", transport.SERVER_SOFTWARE.encode("ascii"))
    return {"type": "websocket.http.response.start", "status": status, "headers": [*headers, server]}


def path_param(request: Request, name: str) -> str:
    value: Any = request.path_params.get(name, "")
    return str(value)
