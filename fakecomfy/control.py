"""The control plane: what a test does to a running fake, from Python or over HTTP
(``/_fakecomfy/``, see ``routes/control.py`` and ``openapi/control.yaml``).

``reset`` (everything back to a fresh server's state), ``seed`` (prompt ids, sids and temp names
repeat), faults (``add_fault`` with a :class:`~fakecomfy.core.faults.Fault` or its JSON shape),
``pause`` / ``step`` / ``resume`` of the worker, ``set_node_times``, the ``journal`` of requests
and messages, and ``state``. Every operation is thread-safe and may be called from a test while
the server runs in another thread.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakecomfy.core.faults import Fault, fault_from
from fakecomfy.core.gate import Unit
from fakecomfy.core.journal import Journal
from fakecomfy.core.model import ComfyModel
from fakecomfy.web.hub import WebSocketHub


class ControlPlane:
    def __init__(self, model: ComfyModel, hub: WebSocketHub, journal: Journal) -> None:
        self.model = model
        self.hub = hub
        self.journal = journal

    @property
    def faults(self) -> list[Fault]:
        return self.model.env.faults.list()

    # ---- reset and seed ------------------------------------------------------------------------
    def reset(self) -> None:
        """Queue, history, cache, files of input/output/temp/user, faults, seed, pause, node
        times, counters and the journal, as the server started; connected sockets stay."""
        self.model.reset()
        self.journal.clear()

    def seed(self, seed: int | None) -> None:
        """From now on generated prompt ids, sids and temp names, and the draws of faults with
        a probability, follow ``seed`` (None: random again)."""
        self.model.env.ids.seed(seed)
        self.model.env.faults.seed(seed)

    # ---- faults --------------------------------------------------------------------------------
    def add_fault(self, fault: Fault | Mapping[str, Any] | None = None, **spec: Any) -> Fault:
        """Inject a fault: a :class:`Fault`, its JSON shape, or its fields as keywords
        (``add_fault(kind="oom", node_class="KSampler")``)."""
        if not isinstance(fault, Fault):
            fault = fault_from({**(fault or {}), **spec})
        return self.model.env.faults.add(fault)

    def remove_fault(self, fault_id: str) -> bool:
        return self.model.env.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.model.env.faults.clear()

    # ---- the worker ----------------------------------------------------------------------------
    def pause(self) -> None:
        """The worker stops at its next checkpoint: before the next prompt, node or sampler step."""
        self.model.env.gate.pause()

    def resume(self) -> None:
        self.model.env.gate.resume()

    def step(self, unit: str | Unit = Unit.NODE, timeout: float = 10.0) -> dict[str, Any] | None:
        """Let the paused worker run to its next ``prompt``, ``node`` or ``step`` (a sampler
        step; a coarser checkpoint also stops it) and return where it waits then, or None
        when it did not get there within ``timeout`` (nothing queued)."""
        return self.model.env.gate.step(_unit(unit), timeout)

    def wait_paused(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """Wait until the paused worker waits at a checkpoint; where, or None."""
        return self.model.env.gate.wait(timeout)

    def set_node_times(self, times: Mapping[str, float]) -> None:
        """Seconds per node class (per step for samplers), like ``--node-time``; merged."""
        for name, seconds in times.items():
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError(f"node time of {name!r} must be a number >= 0, got {seconds!r}")
        self.model.settings.node_times.update({k: float(v) for k, v in times.items()})

    # ---- the simulated device ------------------------------------------------------------------
    def set_device_profile(self, profile: str | None) -> dict[str, Any]:
        """Simulate this GPU from now on, every model cold (a shipped profile's name or a
        profile file; None: no simulated device). A reset puts back the one the server started with."""
        self.model.set_device_profile(profile)
        return self.device()

    def device(self) -> dict[str, Any]:
        """The simulated device: its profile, ComfyUI's VRAM state, the models on it."""
        gpu = self.model.env.gpu
        if gpu is None:
            return {"profile": None}
        return {"profile": gpu.profile.name, **gpu.describe()}

    # ---- what happened -------------------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None,
                 body: Mapping[str, Any] | None = None, status: int | None = None) -> list[dict[str, Any]]:
        return self.journal.requests(method, path, body, status)

    def messages(self, event: str | None = None, sid: str | None = None,
                 prompt_id: str | None = None) -> list[dict[str, Any]]:
        return self.journal.messages(event, sid, prompt_id)

    def state(self) -> dict[str, Any]:
        model = self.model
        running, pending = model.queue.current()
        return {
            "queue": {"running": [item.prompt_id for item in running],
                      "pending": [item.prompt_id for item in sorted(pending)]},
            "history": len(model.queue.history),
            "worker": model.env.gate.state(),
            "worker_dead": bool(model.worker and model.worker.dead),
            "faults": [fault.as_dict() for fault in self.faults],
            "seed": model.env.ids.seed_value,
            "node_times": dict(model.settings.node_times),
            "device_profile": model.env.gpu.profile.name if model.env.gpu is not None else None,
            "clients": sorted(self.hub.clients),
            "journal": self.journal.counts(),
        }


def _unit(unit: str | Unit) -> Unit:
    if isinstance(unit, Unit):
        return unit
    try:
        return Unit[str(unit).upper()]
    except KeyError:
        raise ValueError(f"unit must be prompt, node or step, got {unit!r}") from None


__all__ = ["ControlPlane"]
