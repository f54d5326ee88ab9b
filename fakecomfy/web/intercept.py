"""Between the client and the routes: the control plane's route faults and the request journal.

It runs first, before the Origin check: the journal records every request the server received,
refused ones too, and a route fault answers instead of the server (a status and body of the
test's choosing) or drops the connection without an answer, as a crashed or overloaded server
does. The control plane's own routes (``/_fakecomfy/``) are neither recorded nor faulted.
"""
from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakecomfy import protocol
from fakecomfy.core.faults import Fault, FaultKind, Faults
from fakecomfy.core.journal import Journal
from fakecomfy.web.coalesce import ABORT_EXTENSION
from fakecomfy.web.routing import reject_handshake

JOURNAL_BODY_LIMIT = 1024 * 1024  # bodies past this are recorded by size only
# True in a request's scope when a route fault answered it: the test's chosen status and body,
# which no API document describes (the contract check leaves such answers alone).
FAULT_ANSWER_KEY = "fakecomfy.fault_answer"


class InterceptMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults, journal: Journal) -> None:
        self.app = app
        self.faults = faults
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope["path"].startswith(protocol.CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if self.faults.any_route:
            fault = self.faults.take_route(method, scope["path"])
            if fault is not None:
                self._record(scope, b"", None if fault.kind is FaultKind.DROP else fault.status)
                scope[FAULT_ANSWER_KEY] = True
                await _strike(fault, scope, receive, send)
                return
        if kind == "websocket":
            self._record(scope, b"", 101)
            await self.app(scope, receive, send)
            return
        body = bytearray()
        status: list[int] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= JOURNAL_BODY_LIMIT:
                body.extend(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        finally:
            self._record(scope, bytes(body[:JOURNAL_BODY_LIMIT]), status[0] if status else None)

    def _record(self, scope: Scope, body: bytes, status: int | None) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        self.journal.request(scope.get("method", "GET"), scope["path"], query, headers, body, status)


async def _strike(fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
    if fault.kind is FaultKind.DROP:
        abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
        if abort is not None:
            abort()
            if scope["type"] == "http":  # returns once the server saw the connection go
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        # no way to drop it (another server than fakecomfy's own protocols): the nearest answer
        fault = Fault(FaultKind.HTTP, status=500, body=protocol.TEXT_500)
    body, media = _body(fault.body)
    headers = [(b"content-length", str(len(body)).encode())]
    if media:
        headers.append((b"content-type", media.encode()))
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in fault.headers.items()]
    if scope["type"] == "websocket":
        await reject_handshake(send, fault.status, headers[1:])
        return
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _body(value: Any) -> tuple[bytes, str | None]:
    if value is None:
        return b"", None
    if isinstance(value, str):
        return value.encode("utf-8"), protocol.TEXT_MEDIA
    return json.dumps(value).encode("utf-8"), protocol.JSON_MEDIA


__all__ = ["FAULT_ANSWER_KEY", "JOURNAL_BODY_LIMIT", "InterceptMiddleware"]
