"""How to test a client's timeout: a node that never finishes, and the interrupt that ends it.

A ``hang`` fault makes a node wait until the prompt is interrupted, as a stuck GPU job does. The
client gives up after its timeout and sends ``POST /interrupt``; the journal shows that request,
and the prompt ends as real ComfyUI ends an interrupted one.
"""
from __future__ import annotations

import pytest

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient, GenerationTimeout
from tests.examples.workflows import txt2img


def test_a_hung_node_times_out_and_is_interrupted(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="hang", node_class="KSampler")
    client = ComfyClient(fakecomfy.url, timeout=0.3)

    with pytest.raises(GenerationTimeout):
        client.generate(txt2img())

    [interrupt] = fakecomfy.requests("POST", "/interrupt")
    prompt_id = interrupt["body"]["prompt_id"]
    entry = fakecomfy.wait(prompt_id, timeout=5)
    assert entry["status"]["status_str"] == "error"
    assert [event for event, _ in entry["status"]["messages"]][-1] == "execution_interrupted"
    [interrupted] = fakecomfy.messages("execution_interrupted", prompt_id=prompt_id)
    assert interrupted["data"]["node_type"] == "KSampler"
