"""Pause, resume and step the worker, so a test sees a run's intermediate states for certain.

The worker passes checkpoints: before it takes the next prompt (PROMPT), before each node
(NODE), after each sampler step has been reported (STEP). While the gate is open they cost one
attribute read. Paused, the worker waits at the next one; ``step(unit)`` lets it run on to the
next checkpoint of that unit or a coarser one (a STEP stops at the next step, node or prompt; a
NODE at the next node or prompt) and returns where it waits then.
"""
from __future__ import annotations

import enum
import threading
import time
from typing import Any


class Unit(enum.IntEnum):
    """Checkpoint kinds, finest first."""

    STEP = 1
    NODE = 2
    PROMPT = 3


class Gate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.paused = False
        self._until: Unit | None = None  # while stepping: where to stop next
        self._arrivals = 0  # checkpoints the worker stopped at, counted
        self.position: dict[str, Any] | None = None  # where the worker waits, while it does

    # ---- the worker's side -----------------------------------------------------------------
    def checkpoint(self, unit: Unit, where: dict[str, Any]) -> None:
        if not self.paused:
            return
        with self._cond:
            if self._until is not None and unit < self._until:
                return  # stepping past finer checkpoints
            self._until = None
            self.position = {"at": unit.name.lower(), **where}
            self._arrivals += 1
            self._cond.notify_all()
            while self.paused and self._until is None:
                self._cond.wait()
            self.position = None

    # ---- the test's side -------------------------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self.paused = True

    def resume(self) -> None:
        with self._cond:
            self.paused = False
            self._until = None
            self._cond.notify_all()

    def step(self, unit: Unit, timeout: float = 10.0) -> dict[str, Any] | None:
        """Let a paused worker run to its next checkpoint of ``unit`` (or coarser); the position
        it then waits at, or None when it did not get there within ``timeout`` (an idle queue)."""
        with self._cond:
            self.paused = True
            arrivals = self._arrivals
            self._until = unit
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while self._arrivals == arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return dict(self.position) if self.position is not None else None

    def wait(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """Wait until a paused worker waits at a checkpoint: its position (None: not within
        ``timeout``, e.g. nothing queued, or the gate is open)."""
        with self._cond:
            deadline = time.monotonic() + timeout
            while self.paused and self.position is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return dict(self.position) if self.position is not None else None

    def state(self) -> dict[str, Any]:
        with self._cond:
            return {"paused": self.paused, "position": dict(self.position) if self.position else None}


__all__ = ["Gate", "Unit"]
