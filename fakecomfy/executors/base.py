"""The executor contract: what runs a prompt, and what it may report.

An :class:`Executor` receives one validated prompt and a :class:`Reporter`, runs the graph in
ComfyUI's order and reports every event a client would see. The shared engine
(``fakecomfy.executors.engine.GraphExecutor``) implements ordering, caching and the event
sequence; an executor family (numpy, torch, ...) supplies only node implementations:
functions ``fn(ctx: NodeContext, **inputs) -> NodeResult``.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PIL import Image

    from fakecomfy.core.catalog import NodeCatalog
    from fakecomfy.core.files import FileStore
    from fakecomfy.core.queue import Completion, QueueItem
    from fakecomfy.settings import Settings


class Interrupted(Exception):
    """The user interrupted the prompt; raised inside a node at its next check."""


@dataclass
class Preview:
    """An image a node shows while it runs (sampler previews, SaveImageWebsocket frames).

    ``max_size``: the image is fitted inside a square of this size (ComfyUI's ImageOps.contain),
    None keeps it as is.
    """

    image: Image.Image
    format: str = "JPEG"  # "JPEG" or "PNG"
    max_size: int | None = 512


@dataclass
class NodeResult:
    """Output values in slot order, and the UI dict output nodes report (``executed.output``)."""

    outputs: tuple[Any, ...] = ()
    ui: dict[str, Any] | None = None


class Reporter(Protocol):
    """Where events go (the WebSocket hub in the server, a list in tests)."""

    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        """A JSON message to one client (``sid``) or to every client (``None``)."""

    def send_preview(self, preview: Preview, metadata: dict[str, Any], sid: str | None) -> None:
        """A binary preview frame; the hub picks type 1 or 4 per client."""

    def supports_preview_metadata(self, sid: str | None) -> bool:
        """Whether ``sid`` negotiated ``supports_preview_metadata`` (False for broadcasts)."""

    def flush(self) -> None:
        """Deliver what was sent so far now (the worker calls it when a prompt ends)."""


class InterruptFlag:
    """ComfyUI's global 'processing interrupted' flag."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass
class ExecutionEnv:
    """What every node may use: server settings, file stores, the catalog, the interrupt flag."""

    settings: Settings
    files: FileStore
    catalog: NodeCatalog
    interrupt: InterruptFlag


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

    @property
    def node_time(self) -> float:
        """Configured seconds for this class (``--node-time``); per step for samplers."""
        return float(self.env.settings.node_times.get(self.class_type, 0.0))

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


class Executor(Protocol):
    """Runs one validated prompt, reporting its events; returns what history records."""

    name: str

    def execute(self, item: QueueItem, reporter: Reporter) -> Completion:
        ...

    def free(self, unload_models: bool, free_memory: bool) -> None:
        """POST /free: drop cached outputs (and models)."""
