"""How to test a client's happy path: it submits the txt2img workflow, waits, and gets the image.

The ``fakecomfy`` fixture is a real server on a free port; the client needs only
``fakecomfy.url``. The test then checks what the client got against what the server saved, and
reads the journal for what the client sent and was sent.
"""
from __future__ import annotations

from fakecomfy.testing import FakeComfy
from tests.examples.comfy_client import ComfyClient
from tests.examples.workflows import txt2img


def test_generate_returns_the_png_the_server_saved(fakecomfy: FakeComfy) -> None:
    client = ComfyClient(fakecomfy.url)

    [png] = client.generate(txt2img())

    [done] = fakecomfy.messages("execution_success", sid=client.client_id)
    prompt_id = done["data"]["prompt_id"]
    assert png == fakecomfy.image_bytes(prompt_id)[0]
    [image] = fakecomfy.images(prompt_id)
    assert image.size == (512, 512)
    assert fakecomfy.requests("POST", "/prompt", body={"client_id": client.client_id})
    assert [r["status"] for r in fakecomfy.requests("GET", "/view")] == [200]


def test_another_seed_gives_another_picture(fakecomfy: FakeComfy) -> None:
    client = ComfyClient(fakecomfy.url)

    first, second = client.generate(txt2img(seed=1)), client.generate(txt2img(seed=2))

    assert first != second
    assert client.generate(txt2img(seed=1)) == first  # deterministic: same seed, same bytes
