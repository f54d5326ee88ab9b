"""The torch family's device layer: where models and sampling run, and what ``/system_stats``
reports of it, from torch's own numbers as real ComfyUI does.

Like real: CUDA's current device when torch sees one, the CPU otherwise or with ``--cpu``;
values passed between nodes stay on the intermediate device (the CPU, as real's without
``--gpu-only``). Nodes ask :func:`torch_device`; they never pick a device themselves, so a later
layer (simulated GPUs) can replace this one.
"""
from __future__ import annotations

import threading
from typing import Any

import torch

from fakecomfy.core.system import cpu_device, memory

_lock = threading.Lock()
_selected: Any = None  # the torch.device in use; None until chosen


def choose(cpu: bool) -> Any:
    """The device real ComfyUI would pick: CUDA's current device, or the CPU (``--cpu`` or no CUDA)."""
    if not cpu and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def use(cpu: bool) -> Any:
    """Select the process's device (models are process-wide, as in real ComfyUI)."""
    global _selected
    with _lock:
        _selected = choose(cpu)
        return _selected


def torch_device() -> Any:
    """The device models load onto and sampling runs on."""
    return _selected if _selected is not None else use(cpu=False)


def intermediate_device() -> Any:
    """Where values between nodes live: the CPU, as in real ComfyUI."""
    return torch.device("cpu")


def device_name(device: Any) -> str:
    """Real's name for a device: ``cuda:0 NVIDIA H200 : cudaMallocAsync``, or its type (``cpu``)."""
    if device.type == "cuda":
        try:
            backend = torch.cuda.get_allocator_backend()
        except (AttributeError, RuntimeError):  # a torch without it: real leaves the backend empty
            backend = ""
        return f"{device} {torch.cuda.get_device_name(device)} : {backend}"
    return str(device.type)


def device_stats(device: Any) -> dict[str, Any]:
    """One ``devices`` entry of /system_stats for ``device``."""
    if device.type != "cuda":
        total, free = memory()
        return {**cpu_device(total, free), "name": device_name(device), "type": device.type}
    stats = torch.cuda.memory_stats(device)
    reserved = int(stats.get("reserved_bytes.all.current", 0))
    active = int(stats.get("active_bytes.all.current", 0))
    free_cuda, total_cuda = torch.cuda.mem_get_info(device)
    return {
        "name": device_name(device),
        "type": device.type,
        "index": device.index,
        "vram_total": int(total_cuda),
        "vram_free": int(free_cuda) + reserved - active,  # torch's cached-but-unused bytes count as free
        "torch_vram_total": reserved,
        "torch_vram_free": reserved - active,
    }


def release_memory() -> None:
    """Hand torch's cached blocks back to the driver (real's soft_empty_cache after /free)."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class TorchDevices:
    """The :class:`~fakecomfy.core.execution.DeviceReport` of the torch executor."""

    def __init__(self, cpu: bool = False) -> None:
        self.device = use(cpu)

    def torch_version(self) -> str:
        return str(torch.__version__)

    def devices(self) -> list[dict[str, Any]]:
        return [device_stats(self.device)]
