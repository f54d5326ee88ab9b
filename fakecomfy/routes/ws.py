"""``/ws``: the greeting with the sid, feature-flag negotiation on the first message, and the
event stream (one socket per clientId, the newest wins)."""
from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from fakecomfy import protocol
from fakecomfy.core import system
from fakecomfy.core.model import ComfyModel
from fakecomfy.web import transport
from fakecomfy.web.coalesce import ABORT_EXTENSION, WRITE_FRAME_EXTENSION
from fakecomfy.web.hub import Client, WebSocketHub
from fakecomfy.web.requests import first_value_query
from fakecomfy.web.responses import HTTPError, text
from fakecomfy.web.routing import RoutedWebSocket, Router


def register(router: Router, model: ComfyModel, hub: WebSocketHub) -> None:
    async def websocket_endpoint(websocket: RoutedWebSocket) -> None:
        refusal = websocket.scope.get("extensions", {}).get(transport.HANDSHAKE_REFUSAL_EXTENSION)
        if refusal is not None:  # a version or key aiohttp's WebSocketResponse refuses
            await _refuse_handshake(websocket, *refusal)
            return
        await websocket.accept()
        sid = first_value_query(websocket.scope).get("clientId") or model.env.ids.uuid4().hex
        # fakecomfy's uvicorn protocol offers to write frames itself (web/coalesce.py)
        extensions = websocket.scope.get("extensions", {})
        client = Client(sid, websocket, websocket.asgi_send, extensions.get(WRITE_FRAME_EXTENSION),
                        extensions.get(ABORT_EXTENSION))
        hub.register(client)
        greeting = {"status": {"exec_info": {"queue_remaining": model.queue.remaining()}}, "sid": sid}
        hub.greet(client, protocol.EV_STATUS, greeting)
        node = hub.executing_node(sid)
        if node is not None:  # reconnecting while its prompt runs: the node it is at, like real
            hub.greet(client, protocol.EV_EXECUTING, {"node": node})
        writer = asyncio.ensure_future(hub.deliver(client))
        first = True
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if first:
                    first = not _negotiate(hub, sid, message.get("text"), model)
        except WebSocketDisconnect:
            pass
        finally:
            hub.unregister(sid)  # like real, even when a newer socket holds the sid
            client.close()
            await writer

    async def plain_get(request: Request) -> Response:
        """A GET of /ws that is not an upgrade: aiohttp refuses it with a raised 400."""
        raise HTTPError(text(protocol.TEXT_NO_UPGRADE.format(upgrade=request.headers.get("upgrade")), 400))

    router.websocket("/ws", websocket_endpoint)
    router.add("GET", "/ws", plain_get)


async def _refuse_handshake(websocket: RoutedWebSocket, status: int, message: str) -> None:
    """aiohttp's text answer to a handshake its WebSocketResponse refuses; its 500 (a failed
    handler) closes the connection."""
    body = message.encode("utf-8")
    headers = [(b"content-type", protocol.TEXT_MEDIA.encode("ascii")), (b"content-length", b"%d" % len(body))]
    if status == 500:
        headers.append((b"connection", b"close"))
    headers.append((b"server", transport.SERVER_SOFTWARE.encode("ascii")))  # uvicorn adds none here
    await websocket.asgi_send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await websocket.asgi_send({"type": "websocket.http.response.body", "body": body})


def _negotiate(hub: WebSocketHub, sid: str, text: str | None, model: ComfyModel) -> bool:
    """Handle what may be the client's first message; True when it used up that chance.

    Quirks of real ComfyUI: only a text message that parses as a JSON object counts as the
    first message (binary frames, invalid JSON and other JSON values leave the chance open), and
    only if it is ``feature_flags`` are flags stored and answered, for the socket holding the sid.
    """
    if text is None:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    if not isinstance(message, dict):
        return False
    if message.get("type") != protocol.EV_FEATURE_FLAGS:
        return True
    holder = hub.negotiate(sid, message.get("data", {}))
    if holder is None:  # real fails on the missing metadata entry before it marks the message seen
        return False
    flags = system.features(model.settings.reported_max_upload_size)
    hub.greet(holder, protocol.EV_FEATURE_FLAGS, flags)
    return True
