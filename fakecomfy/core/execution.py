"""The contract between the server's core and an executor.

The queue holds :class:`QueueItem`s; the worker hands each to an :class:`Executor` with a
:class:`Reporter` for its events and records the :class:`Completion` it returns in history.
An executor gets the core's services it may use as an :class:`ExecutionEnv`. Executors live in
``fakecomfy.executors`` and import this module; nothing here knows them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fakecomfy.core.faults import Faults
from fakecomfy.core.gate import Gate
from fakecomfy.core.ids import IdSource
from fakecomfy.protocol import HistoryStatus, PreviewFormat

if TYPE_CHECKING:
    from PIL import Image

    from fakecomfy.core.catalog import NodeCatalog
    from fakecomfy.core.files import FileStore
    from fakecomfy.core.gpu import SimulatedDevice
    from fakecomfy.settings import Settings


@dataclass
class QueueItem:
    """One queued prompt. ``as_list()`` is the 5-element wire form of /queue and /history."""

    number: int | float
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs_to_execute: list[str]
    sensitive: dict[str, Any] = field(default_factory=dict)

    def as_list(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs_to_execute]

    def __lt__(self, other: QueueItem) -> bool:
        # The real queue heaps tuples: number first, then prompt_id.
        return (self.number, self.prompt_id) < (other.number, other.prompt_id)

    @property
    def client_id(self) -> str | None:
        """The socket id events go to; None also for a non-string client_id (it names no socket)."""
        cid = self.extra_data.get("client_id")
        return cid if isinstance(cid, str) else None

    @property
    def broadcasts(self) -> bool:
        """Real routes by ``client_id is not None``: only a prompt without one broadcasts its
        progress (a client_id that is no string reaches nobody, and nothing is broadcast)."""
        return self.extra_data.get("client_id") is None


@dataclass
class Completion:
    """What the worker reports when a prompt ends (the history entry's parts)."""

    status: HistoryStatus
    completed: bool
    messages: list[list[Any]]
    outputs: dict[str, Any]
    meta: dict[str, Any]


@dataclass
class Preview:
    """An image a node shows while it runs (sampler previews, SaveImageWebsocket frames).

    ``max_size``: the image is fitted inside a square of this size (ComfyUI's ImageOps.contain),
    None keeps it as is.
    """

    image: Image.Image
    format: PreviewFormat = PreviewFormat.JPEG
    max_size: int | None = 512


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


class Executor(Protocol):
    """Runs one validated prompt, reporting its events; returns what history records."""

    name: str

    def execute(self, item: QueueItem, reporter: Reporter) -> Completion:
        ...

    def free(self, unload_models: bool, free_memory: bool) -> None:
        """POST /free: drop cached outputs (and models)."""


class DeviceReport(Protocol):
    """What an executor that runs on real devices tells ``/system_stats`` (the torch family
    offers one as :attr:`ExecutionEnv.devices`; without it the core reports this machine's CPU)."""

    def torch_version(self) -> str:
        """The ``pytorch_version`` to report."""

    def devices(self) -> list[dict[str, Any]]:
        """The ``devices`` entries: name, type, index, vram_total/free, torch_vram_total/free."""


class WorkerDied(Exception):
    """Raised by an executor for a ``worker_death`` fault: the worker stops taking prompts, the
    way real ComfyUI's prompt worker thread dies of an error outside any node (the prompt it
    was running stays running, later ones stay pending) until the control plane resets it."""


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
    """What every node may use: server settings, file stores, the catalog, the interrupt flag;
    and what the control plane steers a run with: injected faults, the worker's gate, the
    source of random names."""

    settings: Settings
    files: FileStore
    catalog: NodeCatalog
    interrupt: InterruptFlag
    faults: Faults = field(default_factory=Faults)
    gate: Gate = field(default_factory=Gate)
    ids: IdSource = field(default_factory=IdSource)
    # Set by an executor that runs on real devices (the torch family); None: the CPU as today.
    devices: DeviceReport | None = None
    # A simulated GPU (--device-profile): what nodes cost in time and memory; None: instant.
    gpu: SimulatedDevice | None = None
