"""Recording every answer of an app against the contract (``FAKECOMFY_SPEC_CHECK=1``).

``install(app)`` wraps the app's middleware stack in ``SpecCheckMiddleware``; ``create_app``
hands :func:`check_ws_frame` to the WebSocket hub, which calls it with every JSON frame.
Problems go to ``PROBLEMS`` and, when ``FAKECOMFY_SPEC_CHECK_FILE`` names a file, are appended
to it (one a line), so servers run in a subprocess report to the test session too. Responses
pass through unchanged; the static route's (the frontend's files, marked in the scope by the
router) are not checked: the API document does not describe them.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakecomfy import protocol
from fakecomfy.contract import spec
from fakecomfy.web.intercept import FAULT_ANSWER_KEY
from fakecomfy.web.routing import STATIC_ANSWER_KEY

ENV_FLAG = "FAKECOMFY_SPEC_CHECK"
ENV_FILE = "FAKECOMFY_SPEC_CHECK_FILE"
PROBLEMS: list[str] = []
CHECKED = {"http": 0, "ws": 0}
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


def record(kind: str, where: str, problems: list[str]) -> None:
    with _lock:
        CHECKED[kind] += 1
        if not problems:
            return
        lines = [f"{where}: {p}" for p in problems]
        PROBLEMS.extend(lines)
        target = os.environ.get(ENV_FILE)
        if target:
            with open(target, "a", encoding="utf-8") as f:
                f.writelines(line.replace("\n", "\\n") + "\n" for line in lines)


def check_ws_frame(text: str) -> None:
    """A frame the fake builds: its schema, and that it is json.dumps' text of its content (as
    real ComfyUI's are): parts the fake assembles from pre-encoded pieces must not drift."""
    problems = spec.check_ws_message(text)
    if not problems and json.dumps(json.loads(text)) != text:
        problems = [f"not json.dumps' text of its content: {text[:200]}"]
    record("ws", "WS", problems)


class SpecCheckMiddleware:
    """Pure ASGI: copies each HTTP response's start and body, checks them when it is complete."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(protocol.CONTROL_PREFIX):
            # fakecomfy's own control plane has its own document (openapi/control.yaml, tested there)
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path")
        path = raw.decode("latin-1").split("?")[0] if raw else scope["path"]
        method = scope["method"]
        status: list[int] = []
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def spy(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and not scope.get(STATIC_ANSWER_KEY) \
                        and not scope.get(FAULT_ANSWER_KEY):
                    # the static route's answers are the frontend's files and a route fault's the
                    # test's own: both outside the API document
                    _check(method, path, status, headers, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, spy)


def _check(method: str, path: str, status: list[int], headers: list[tuple[str, str]], body: bytes) -> None:
    if not status:
        return
    try:
        problems = spec.check_response(method, path, status[0], headers, body)
    except Exception as exc:  # noqa: BLE001 - a bug of the checker must not break the answer
        problems = [f"checker failed: {exc!r}"]
    record("http", f"{method} {path} {status[0]}", problems)


def install(app: Any) -> None:
    """Check every HTTP answer of ``app`` (a ``create_app`` Starlette); its WebSocket hub gets
    :func:`check_ws_frame` from ``create_app`` itself."""
    app.middleware_stack = SpecCheckMiddleware(app.middleware_stack)
