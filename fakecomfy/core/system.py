"""What /system_stats reports (this machine's RAM, Python, ComfyUI's version strings) and the
server log /internal/logs shows."""
from __future__ import annotations

import collections
import datetime
import os
import shutil
import sys
from typing import Any, TypedDict

from fakecomfy import protocol
from fakecomfy.core.execution import DeviceReport


class LogEntry(TypedDict):
    t: str
    m: str


def memory() -> tuple[int, int]:
    """(total, available) bytes of RAM, from /proc/meminfo where there is one."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if ":" in line}
        return info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, KeyError, ValueError, IndexError):
        pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
        return pages * size, pages * size // 2


def torch_version() -> str:
    mod = sys.modules.get("torch")
    return str(getattr(mod, "__version__", protocol.TORCH_VERSION))


def cpu_device(total: int, free: int) -> dict[str, Any]:
    """The device entry real reports when it runs on the CPU (its RAM as the device's memory)."""
    return {"name": "cpu", "type": "cpu", "index": None, "vram_total": total, "vram_free": free,
            "torch_vram_total": total, "torch_vram_free": free}


def system_stats(argv: list[str], report: DeviceReport | None = None,
                 ram: tuple[int, int] | None = None) -> dict[str, Any]:
    """The /system_stats answer; ``report``: the executor's or the simulated devices (else this
    machine's CPU); ``ram``: a simulated machine's (total, free) RAM (else this machine's)."""
    total, free = memory() if ram is None else ram
    return {
        "system": {
            "os": sys.platform,
            "ram_total": total,
            "ram_free": free,
            "comfyui_version": protocol.COMFYUI_VERSION,
            "required_frontend_version": protocol.REQUIRED_FRONTEND_VERSION,
            "installed_templates_version": protocol.TEMPLATES_VERSION,
            "required_templates_version": protocol.TEMPLATES_VERSION,
            "python_version": sys.version,
            "pytorch_version": torch_version() if report is None else report.torch_version(),
            "embedded_python": False,
            "argv": argv,
        },
        "devices": [cpu_device(total, free)] if report is None else report.devices(),
    }


def features(max_upload_size: int | float) -> dict[str, Any]:
    """The server feature flags: /features and the WebSocket feature_flags reply."""
    return {
        "supports_preview_metadata": True,
        "max_upload_size": max_upload_size,
        "extension": {"manager": {"supports_v4": True}},
    }


class ServerLog:
    """The log lines the server keeps for ``/internal/logs``: entries of a time stamp (``t``)
    and a message (``m``), as real's logger records its output; and the clients that asked to
    be sent new lines."""

    def __init__(self, limit: int = 300) -> None:
        self.entries: collections.deque[LogEntry] = collections.deque(maxlen=limit)
        self.subscribers: set[Any] = set()  # the clientIds, as JSON gave them

    def write(self, message: str) -> None:
        stamp = datetime.datetime.now().isoformat()
        self.entries.append({"t": stamp, "m": message if message.endswith("\n") else message + "\n"})

    def text(self) -> str:
        """The whole log as one string, each entry as ``t - m``."""
        return "".join(f"{e['t']} - {e['m']}" for e in self.entries)


def terminal_size() -> dict[str, int]:
    """The size real reports with its raw log: the server's terminal, 80×24 without one."""
    try:
        size = os.get_terminal_size()
    except OSError:
        size = shutil.get_terminal_size()
    return {"cols": size.columns, "rows": size.lines}
