"""``/ws``: the greeting, feature-flag negotiation and the event stream (facts 1–4)."""
from __future__ import annotations

import asyncio
import json
import uuid

from starlette.websockets import WebSocket, WebSocketDisconnect

from fakecomfy import protocol
from fakecomfy.core import system
from fakecomfy.core.model import ComfyModel
from fakecomfy.web.hub import Client, WebSocketHub, json_frame
from fakecomfy.web.routing import Router


def register(router: Router, model: ComfyModel, hub: WebSocketHub) -> None:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        sid = websocket.query_params.get("clientId") or uuid.uuid4().hex
        client = Client(sid, websocket)
        hub.register(client)
        greeting = {"status": {"exec_info": {"queue_remaining": model.queue.remaining()}}, "sid": sid}
        client.outbox.put_nowait(json_frame(protocol.EV_STATUS, greeting))
        writer = asyncio.ensure_future(hub.deliver(client))
        first = True
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if first:
                    first = False
                    _negotiate(client, message.get("text"), model)
        except WebSocketDisconnect:
            pass
        finally:
            hub.unregister(sid)  # like real, even when a newer socket holds the sid
            client.outbox.put_nowait(None)
            await writer

    router.websocket("/ws", websocket_endpoint)


def _negotiate(client: Client, text: str | None, model: ComfyModel) -> None:
    """Only a client's first message counts, and only if it is ``feature_flags``."""
    if not text:
        return
    try:
        message = json.loads(text)
    except ValueError:
        return
    if not isinstance(message, dict) or message.get("type") != protocol.EV_FEATURE_FLAGS:
        return
    data = message.get("data")
    client.feature_flags = data if isinstance(data, dict) else {}
    flags = system.features(model.settings.reported_max_upload_size)
    client.outbox.put_nowait(json_frame(protocol.EV_FEATURE_FLAGS, flags))
