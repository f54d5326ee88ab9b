"""The torch executor under a simulated GPU (--device-profile): the simulated card replaces
torch's own devices in /system_stats, and runs cost its time and memory, as with numpy."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core import gpu_profiles  # noqa: E402
from fakecomfy.settings import Settings  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.torch.test_serve import workflow  # noqa: E402


def test_the_simulated_card_runs_the_torch_family() -> None:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    settings = Settings(executor="torch", cpu=True, device_profile="rtx4090", device_time_scale=0.1,
                        log_requests=False)
    with FakeComfy.start(settings) as fc:
        with urllib.request.urlopen(fc.url + "/system_stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats["devices"][0]["name"] == "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync"
        assert stats["devices"][0]["vram_total"] == gpu_profiles.load("rtx4090").vram_total
        started = time.monotonic()
        prompt_id = fc.submit(workflow(latent, 1.0))
        assert fc.wait(prompt_id)["status"]["status_str"] == "success"
        took = time.monotonic() - started
        assert [image.size for image in fc.images(prompt_id)] == [(64, 64)]
        parts = {m["part"] for m in fc.device()["models"]}
    assert parts == {"unet", "clip", "vae"}
    assert took > 0.1 * 2.133e9 / 2e9  # the checkpoint's read from disk, at a tenth of the card's time
