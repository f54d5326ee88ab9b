"""How to test a client's reconnect after its WebSocket drops.

A ``ws_close`` fault closes a client's socket at an event type (``event``) or after a number of
messages (``after_messages``); ``drop=True`` loses the TCP connection without a close frame, as
a crashed proxy does, otherwise the server sends a close frame (1001). The client reconnects
with the same ``clientId`` and the server goes on sending that prompt's events to it.
"""
from __future__ import annotations

import pytest

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient
from tests.examples.workflows import txt2img


@pytest.mark.fakecomfy(node_times={"KSampler": 0.01})  # 10 ms a step: the prompt outlasts the drop
def test_the_client_reconnects_after_a_drop_and_gets_its_image(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="ws_close", event="progress", drop=True)
    client = ComfyClient(fakecomfy.url)

    [png] = client.generate(txt2img(steps=10))

    assert png.startswith(b"\x89PNG")
    assert client.reconnects == 1
    sockets = fakecomfy.requests("GET", "/ws")
    assert [s["query"] for s in sockets] == [f"clientId={client.client_id}"] * 2


@pytest.mark.fakecomfy(node_times={"KSampler": 0.01})
def test_the_client_reconnects_after_a_close_frame(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="ws_close", client_id=None, after_messages=4)
    client = ComfyClient(fakecomfy.url)

    assert len(client.generate(txt2img(steps=10))) == 1
    assert client.reconnects == 1
