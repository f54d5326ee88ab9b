"""How to test a client's handling of an out-of-memory error, without a GPU to fill.

An ``oom`` fault raises what a CUDA run raises when memory runs out: the ``execution_error``
names ``torch.OutOfMemoryError``, its message is torch's allocator message followed by
ComfyUI's tips. ``at_step`` makes it strike mid-sampler, after that many progress updates.
"""
from __future__ import annotations

import pytest

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient, OutOfMemory
from tests.examples.workflows import txt2img

COMFYUI_TIPS = ("This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you "
                "might have accidentally set the batch_size to a large number.")


def test_an_oom_in_the_sampler_is_out_of_memory(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="oom", node_class="KSampler", at_step=5)
    client = ComfyClient(fakecomfy.url)

    with pytest.raises(OutOfMemory) as oom:
        client.generate(txt2img(steps=20))

    assert oom.value.exception_type == "torch.OutOfMemoryError"
    assert oom.value.exception_message.startswith("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 ")
    assert oom.value.exception_message.endswith("\n" + COMFYUI_TIPS)
    progress = fakecomfy.messages("progress", sid=client.client_id)
    assert [m["data"]["value"] for m in progress] == [1, 2, 3, 4, 5]


def test_the_client_retries_with_a_smaller_batch(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="oom", node_class="KSampler", times=2)
    client = ComfyClient(fakecomfy.url)

    images = client.generate_fitting(txt2img(size=64, batch_size=4), latent_node="5")

    assert len(images) == 1
    sent = fakecomfy.requests("POST", "/prompt")
    assert [r["body"]["prompt"]["5"]["inputs"]["batch_size"] for r in sent] == [4, 2, 1]
