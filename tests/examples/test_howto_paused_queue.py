"""How to observe a prompt step by step: pause the worker, then let it run one node, or one
sampler step, at a time.

``pause()`` stops the worker at its next checkpoint: before it takes the next prompt, before
each node, after each sampler step. ``step("node")`` / ``step("step")`` let it run on to the
next one and say where it waits; meanwhile ``/queue`` and the messages sent so far are exactly
those of that moment, so a test asserts on intermediate states without sleeping.
"""
from __future__ import annotations

import httpx

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient
from tests.examples.workflows import txt2img


def running_and_pending(url: str) -> tuple[list[str], list[str]]:
    queue = httpx.get(url + "/queue").json()
    return [item[1] for item in queue["queue_running"]], [item[1] for item in queue["queue_pending"]]


def test_a_prompt_observed_node_by_node_and_step_by_step(fakecomfy: FakeComfy) -> None:
    fakecomfy.pause()
    client = ComfyClient(fakecomfy.url)
    ws = client.connect()
    prompt_id = client.queue(txt2img(steps=3))

    # queued, not started: the worker waits before taking it
    assert fakecomfy.wait_paused() == {"at": "prompt", "prompt_id": prompt_id}
    assert running_and_pending(fakecomfy.url) == ([], [prompt_id])

    # node by node, in ComfyUI's order, up to the sampler
    started = []
    while (position := fakecomfy.step("node")) is not None and position["node"] != "3":
        started.append(position["node"])
    assert started == ["4", "5", "7", "6"]
    assert running_and_pending(fakecomfy.url) == ([prompt_id], [])
    assert fakecomfy.messages("progress", sid=client.client_id) == []

    # step by step inside the sampler: one progress message each
    for step in (1, 2, 3):
        assert fakecomfy.step("step") == {"at": "step", "prompt_id": prompt_id, "node": "3", "step": step, "of": 3}
        progress = fakecomfy.messages("progress", sid=client.client_id)
        assert [(m["data"]["value"], m["data"]["max"]) for m in progress] == [(n, 3) for n in range(1, step + 1)]

    # then the decoder; and once resumed the client sees the prompt through
    assert fakecomfy.step("node") == {"at": "node", "prompt_id": prompt_id, "node": "8", "class_type": "VAEDecode"}
    assert fakecomfy.messages("executed", prompt_id=prompt_id) == []
    fakecomfy.resume()
    client.follow(ws, prompt_id).close()
    assert len(client.images(prompt_id)) == 1
    assert running_and_pending(fakecomfy.url) == ([], [])
