"""The torch family's device layer: the device real would pick, /system_stats from torch's own
numbers, and /free unloading the stand-in models."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

import requests  # noqa: E402

from fakecomfy.core import defaults  # noqa: E402
from fakecomfy.executors.torch import denoiser, devices  # noqa: E402
from fakecomfy.settings import Settings, env_defaults  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.test_cli import _parse  # noqa: E402
from tests.torch.test_serve import workflow  # noqa: E402

DEVICE_KEYS = ["name", "type", "index", "vram_total", "vram_free", "torch_vram_total", "torch_vram_free"]


@pytest.fixture(scope="module")
def comfy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeComfy]:
    base = tmp_path_factory.mktemp("torch_devices")
    defaults.populate(base)
    with FakeComfy.start(Settings(base_directory=base, executor="torch", log_requests=False)) as handle:
        yield handle


def test_cpu_flag_and_variable_set_the_setting() -> None:
    assert _parse(["--cpu"]).cpu is True
    assert _parse([], {"FAKECOMFY_CPU": "1"}).cpu is True
    assert env_defaults({}).get("cpu") is None
    assert Settings().cpu is False


def test_cpu_is_chosen_with_the_flag_or_without_cuda() -> None:
    assert devices.choose(cpu=True) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.choose(cpu=False).type == expected


def test_cpu_device_reports_the_machines_memory_as_real_does() -> None:
    [entry] = devices.TorchDevices(cpu=True).devices()
    assert list(entry) == DEVICE_KEYS
    assert (entry["name"], entry["type"], entry["index"]) == ("cpu", "cpu", None)
    assert entry["vram_total"] == entry["torch_vram_total"] > 0
    assert entry["vram_free"] == entry["torch_vram_free"] > 0


def test_system_stats_reports_torchs_version_and_device(comfy: FakeComfy) -> None:
    stats = requests.get(comfy.url + "/system_stats", timeout=10).json()
    assert stats["system"]["pytorch_version"] == torch.__version__
    [entry] = stats["devices"]
    assert list(entry) == DEVICE_KEYS
    assert entry["type"] == devices.torch_device().type


def test_the_stand_in_model_lives_on_the_torch_device() -> None:
    model = denoiser.load_model("devices-test.safetensors")
    assert model.inp.weight.device.type == devices.torch_device().type
    x = torch.zeros(1, 4, 8, 8)
    assert model(x, torch.ones(1), torch.ones(1, 8)).device == x.device  # answers on the caller's device


def test_free_unloads_the_stand_in_models(comfy: FakeComfy) -> None:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    comfy.wait(comfy.submit(workflow(latent, 1.0)))
    assert denoiser._loaded.cache_info().currsize > 0
    assert requests.post(comfy.url + "/free", json={"unload_models": True}, timeout=10).status_code == 200
    deadline = time.monotonic() + 10  # the worker frees between prompts
    while denoiser._loaded.cache_info().currsize and time.monotonic() < deadline:
        time.sleep(0.05)
    assert denoiser._loaded.cache_info().currsize == 0


def test_cuda_device_is_reported_from_torchs_allocator_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    gib = 1024 ** 3
    monkeypatch.setattr(torch.cuda, "memory_stats", lambda device: {"reserved_bytes.all.current": 3 * gib,
                                                                    "active_bytes.all.current": 2 * gib})
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (100 * gib, 140 * gib))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "get_allocator_backend", lambda: "native")
    entry = devices.device_stats(torch.device("cuda", 0))
    assert entry == {"name": "cuda:0 NVIDIA H200 : native", "type": "cuda", "index": 0,
                     "vram_total": 140 * gib, "vram_free": 101 * gib,
                     "torch_vram_total": 3 * gib, "torch_vram_free": 1 * gib}
