"""What node implementations work with: the context of one node's run and its result.

An executor (see :class:`fakecomfy.core.execution.Executor`) receives one validated prompt and
a reporter, runs the graph in ComfyUI's order and reports every event a client would see. The
shared engine (``fakecomfy.executors.engine.GraphExecutor``) implements ordering, caching and
the event sequence; an executor family (numpy, torch, ...) supplies only node implementations:
functions ``fn(ctx: NodeContext, **inputs) -> NodeResult``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakecomfy.core.execution import ExecutionEnv, Preview


class Interrupted(Exception):
    """The user interrupted the prompt; raised inside a node at its next check."""


@dataclass
class NodeResult:
    """Output values in slot order, and the UI dict output nodes report (``executed.output``)."""

    outputs: tuple[Any, ...] = ()
    ui: dict[str, Any] | None = None


@dataclass
class NodeContext:
    """One node's view of the run. Created by the engine for every node execution."""

    env: ExecutionEnv
    node_id: str
    class_type: str
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    # Persists across prompts for the same node id and class (ComfyUI keeps node instances).
    state: dict[str, Any] = field(default_factory=dict)
    # Called by progress(): (value, max, preview or None). Set by the engine.
    on_progress: Callable[[int | float, int | float, Preview | None], None] = lambda v, m, p: None
    # Set once the node spent its configured time; otherwise the engine spends it afterwards.
    time_spent: bool = False
    # Seconds a slow fault adds to this run of the node (per step for samplers, like node_time).
    extra_time: float = 0.0
    # Seconds a simulated GPU says this node's work takes (per step for samplers).
    device_time: float = 0.0

    @property
    def node_time(self) -> float:
        """Configured seconds for this class (``--node-time``); per step for samplers."""
        return float(self.env.settings.node_times.get(self.class_type, 0.0)) + self.extra_time + self.device_time

    @property
    def sampler_previews(self) -> bool:
        """ComfyUI sends sampler previews only when ``extra_data.preview_method`` asks for them."""
        method = self.extra_data.get("preview_method", "none")
        return isinstance(method, str) and method not in ("none", "")

    def check_interrupt(self) -> None:
        if self.env.interrupt.is_set():
            raise Interrupted()

    def progress(self, value: int | float, total: int | float, preview: Preview | None = None) -> None:
        """A ProgressBar update: stops the node first if an interrupt is pending (like real)."""
        self.check_interrupt()
        self.on_progress(value, total, preview)

    def sleep(self, seconds: float, interruptible: bool = False) -> None:
        """Spend configured time. Samplers are interruptible mid-step; other nodes are not."""
        self.time_spent = True
        if seconds <= 0:
            return
        if not interruptible:
            time.sleep(seconds)
            return
        if self.env.interrupt.wait(seconds):
            raise Interrupted()


NodeFunction = Callable[..., NodeResult]
