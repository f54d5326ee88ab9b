"""How to test a client's handling of an ``execution_error``: make a node raise.

A ``raise`` fault makes a node (by class or id) raise the exception type and message you name
when it runs: the client gets the ``execution_error`` real ComfyUI sends for that exception,
and the history entry and ``/api/jobs`` say the same. A fault fires once unless ``times`` says
otherwise (``times=None``: every time).
"""
from __future__ import annotations

import pytest

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient, ExecutionFailed, OutOfMemory
from tests.examples.workflows import txt2img


def test_a_failing_node_raises_execution_failed(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="raise", node_class="VAEDecode", exception_type="RuntimeError",
                        message="VAE decoding failed")
    client = ComfyClient(fakecomfy.url)

    with pytest.raises(ExecutionFailed) as failed:
        client.generate(txt2img())

    assert not isinstance(failed.value, OutOfMemory)
    assert (failed.value.node_id, failed.value.node_type) == ("8", "VAEDecode")
    assert failed.value.exception_type == "RuntimeError"
    assert failed.value.exception_message == "VAE decoding failed\n"  # ComfyUI appends a line break


def test_the_fault_fires_once_then_the_workflow_runs(fakecomfy: FakeComfy) -> None:
    fakecomfy.add_fault(kind="raise", node_id="9", exception_type="OSError", message="disk full")
    client = ComfyClient(fakecomfy.url)

    with pytest.raises(ExecutionFailed, match=r"SaveImage \(node 9\) failed: OSError: disk full"):
        client.generate(txt2img())
    assert len(client.generate(txt2img())) == 1
    [fault] = fakecomfy.faults
    assert fault.fired == 1
