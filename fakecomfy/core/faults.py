"""Faults a test injects into the server, each shaped like a real GPU server's failure.

A :class:`Fault` says where it strikes (a node by class or id, a route, a WebSocket client),
what it does, and how often: ``times`` firings at most (None: every time), each with
``probability`` drawn from the fault set's own seeded generator, so a chaos run repeats
exactly. The engine, the validator, the router and the hub ask :meth:`Faults.take` at their
points; the control plane adds, lists and clears them.
"""
from __future__ import annotations

import builtins
import enum
import fnmatch
import itertools
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class FaultKind(str, enum.Enum):
    """What a fault does, and so where it is looked for."""

    RAISE = "raise"  # a node raises an exception (an execution_error)
    OOM = "oom"  # a node raises torch's CUDA out-of-memory error
    HANG = "hang"  # a node waits until the prompt is interrupted
    SLOW = "slow"  # a node (a sampler: each step) takes this many more seconds
    VALIDATION = "validation"  # POST /prompt finds an error in a node
    HTTP = "http"  # a route answers this status and body instead
    DROP = "drop"  # a request's connection is dropped without an answer
    WS_CLOSE = "ws_close"  # a WebSocket is closed (or dropped) after N messages or at an event
    WS_SILENCE = "ws_silence"  # messages to a WebSocket are not sent
    WORKER_DEATH = "worker_death"  # the prompt worker dies on a prompt, as real's does on a broken graph

    def __str__(self) -> str:
        return str(self.value)


NODE_KINDS = frozenset({FaultKind.RAISE, FaultKind.OOM, FaultKind.HANG, FaultKind.SLOW})
WS_KINDS = frozenset({FaultKind.WS_CLOSE, FaultKind.WS_SILENCE})
ROUTE_KINDS = frozenset({FaultKind.HTTP, FaultKind.DROP})

# torch's CUDA allocator message, with its sizes: what ComfyUI shows as exception_message.
OOM_TYPE = "torch.OutOfMemoryError"
OOM_MESSAGE = ("CUDA out of memory. Tried to allocate {allocate}. GPU {device} has a total capacity of {total} "
               "of which {free} is free. Including non-PyTorch memory, this process has {used} memory in use. "
               "Of the allocated memory {allocated} is allocated by PyTorch, and {reserved} is reserved by "
               "PyTorch but unallocated. If reserved but unallocated memory is large try setting "
               "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation "
               "for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


class FaultSpecError(ValueError):
    """A fault description that cannot be used (says which field and why)."""


@dataclass
class Fault:
    """One injected fault. Fields that do not apply to its kind stay at their defaults."""

    kind: FaultKind
    id: str = ""
    # where: a node (node faults, validation); a route; a WebSocket client (None: every one)
    node_class: str | None = None
    node_id: str | None = None
    method: str | None = None
    path: str | None = None  # a path or a glob ("/api/jobs*"); bare and /api paths both match it
    client_id: str | None = None
    event: str | None = None  # WS_CLOSE: close when this event type is about to be sent
    after_messages: int | None = None  # WS_CLOSE: close after this many messages to the socket
    # what
    exception_type: str = "RuntimeError"  # RAISE: builtin name or module-qualified
    message: str = "fault injected by fakecomfy"
    at_step: int = 0  # node faults: strike at this progress update of the node (0: at its start)
    seconds: float = 0.0  # SLOW
    status: int = 500  # HTTP
    body: Any = None  # HTTP: a str is sent as text, anything else as JSON; None: empty
    headers: dict[str, str] = field(default_factory=dict)  # HTTP
    error: dict[str, Any] = field(default_factory=dict)  # VALIDATION: the node error's type/message/details
    oom: dict[str, Any] = field(default_factory=dict)  # OOM: allocate/total/free/... sizes in bytes, device
    drop: bool = False  # WS_CLOSE: drop the TCP connection instead of a close frame
    close_code: int = 1001  # WS_CLOSE: the close frame's code (going away, as a restarting server)
    broken_only: bool = False  # WORKER_DEATH: strike only a prompt real's worker dies on
    # how often
    times: int | None = 1
    probability: float = 1.0
    fired: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind.value, "times": self.times,
                               "probability": self.probability, "fired": self.fired}
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value != default and name not in out:
                out[name] = value
        return out

    def matches_node(self, node_id: str, class_type: str) -> bool:
        return (self.node_id is None or self.node_id == node_id) and \
            (self.node_class is None or self.node_class == class_type)

    def matches_route(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        bare = path[4:] if path.startswith("/api/") else path
        return any(fnmatch.fnmatchcase(p, self.path) for p in (path, bare))


_DEFAULTS = {name: (f.default_factory() if callable(f.default_factory) else f.default)
             for name, f in Fault.__dataclass_fields__.items()
             if name not in ("kind", "id", "times", "probability", "fired")}


def fault_from(spec: Mapping[str, Any]) -> Fault:
    """A :class:`Fault` from its JSON description; :class:`FaultSpecError` names what is wrong."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError("a fault is a JSON object")
    try:
        kind = FaultKind(spec.get("kind"))
    except ValueError:
        raise FaultSpecError(f"kind must be one of {[k.value for k in FaultKind]}, "
                             f"got {spec.get('kind')!r}") from None
    unknown = set(spec) - set(Fault.__dataclass_fields__) - {"kind"}
    if unknown:
        raise FaultSpecError(f"unknown fields {sorted(unknown)}")
    values = {k: v for k, v in spec.items() if k not in ("kind", "fired")}
    fault = Fault(kind, **values)
    _check(fault)
    return fault


def _check(fault: Fault) -> None:
    if fault.times is not None and (not isinstance(fault.times, int) or fault.times < 1):
        raise FaultSpecError("times must be a positive integer or null (every time)")
    if not isinstance(fault.probability, (int, float)) or not 0 <= fault.probability <= 1:
        raise FaultSpecError("probability must be a number from 0 to 1")
    if fault.kind is FaultKind.SLOW and (not isinstance(fault.seconds, (int, float)) or fault.seconds <= 0):
        raise FaultSpecError("a slow fault needs seconds > 0")
    if fault.kind is FaultKind.HTTP and (not isinstance(fault.status, int) or not 100 <= fault.status <= 599):
        raise FaultSpecError("status must be an HTTP status code")
    if fault.kind in ROUTE_KINDS and fault.path is not None and not fault.path.startswith("/"):
        raise FaultSpecError("path must start with /")
    if fault.kind is FaultKind.WS_CLOSE and fault.after_messages is None and fault.event is None:
        raise FaultSpecError("a ws_close fault needs after_messages or event")
    if not isinstance(fault.broken_only, bool):
        raise FaultSpecError("broken_only must be true or false")
    if not isinstance(fault.at_step, int) or fault.at_step < 0:
        raise FaultSpecError("at_step must be an integer >= 0")


def format_size(size: int) -> str:
    """A byte count the way torch's allocator writes it (``20.00 MiB``, ``0 bytes``)."""
    if size <= 1024:
        return f"{size} bytes"
    if size <= 1024 ** 2:
        return f"{size / 1024:.2f} KiB"
    if size <= 1024 ** 3:
        return f"{size / 1024 ** 2:.2f} MiB"
    return f"{size / 1024 ** 3:.2f} GiB"


def oom_message(sizes: Mapping[str, Any]) -> str:
    """torch's out-of-memory message; sizes in bytes, defaults those of a full 24 GB card."""
    gib = 1024 ** 3
    values = {"allocate": 2 * gib, "total": 24 * gib - 431 * 1024 ** 2, "free": 37 * 1024 ** 2,
              "used": int(23.2 * gib), "allocated": int(22.6 * gib), "reserved": 412 * 1024 ** 2}
    values.update({k: v for k, v in sizes.items() if k in values})
    text = {k: format_size(int(v)) for k, v in values.items()}
    return OOM_MESSAGE.format(device=int(sizes.get("device", 0)), **text)


# ComfyUI's own words under an out-of-memory exception_message (its OOM_EXCEPTION is torch's).
OOM_TIPS = ("This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you "
            "might have accidentally set the batch_size to a large number.")
OOM_TYPES = frozenset({OOM_TYPE, "torch.cuda.OutOfMemoryError"})


def exception_from(type_name: str, message: str) -> Exception:
    """An exception whose module-qualified type name is ``type_name``: a builtin as itself,
    anything else (``torch.OutOfMemoryError``, ``comfy.model_management.Whatever``) as a
    stand-in class carrying that module and name, so execution_error names it as real would."""
    module, _, name = type_name.rpartition(".")
    if not module:
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, Exception):
            return builtin(message)
        module = "builtins"
    cls = _STAND_INS.get(type_name)
    if cls is None:
        cls = _STAND_INS[type_name] = type(name or "Exception", (Exception,), {"__module__": module,
                                                                               "__qualname__": name})
    return cls(message)


_STAND_INS: dict[str, type[Exception]] = {}


def fault_exception(fault: Fault) -> Exception:
    """What a RAISE or OOM fault raises inside its node."""
    if fault.kind is FaultKind.OOM:
        return exception_from(OOM_TYPE, oom_message(fault.oom))
    return exception_from(fault.exception_type, fault.message)


class Faults:
    """The server's injected faults, thread-safe (the worker and the event loop both ask)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        self._rng = random.Random()
        # cheap checks on hot paths: is any fault of these kinds there at all?
        self.any_node = self.any_route = self.any_ws = self.any_validation = self.any_worker = False

    def seed(self, seed: int | None) -> None:
        """Probabilities draw from this seed from now on (None: fresh entropy)."""
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = fault.id or f"fault-{next(self._ids)}"
            self._faults[fault.id] = fault
            self._refresh()
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            found = self._faults.pop(fault_id, None) is not None
            self._refresh()
        return found

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._ids = itertools.count(1)
            self._refresh()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def _refresh(self) -> None:
        kinds = {f.kind for f in self._faults.values() if not f.spent}
        self.any_node = bool(kinds & NODE_KINDS)
        self.any_route = bool(kinds & ROUTE_KINDS)
        self.any_ws = bool(kinds & WS_KINDS)
        self.any_validation = FaultKind.VALIDATION in kinds
        self.any_worker = FaultKind.WORKER_DEATH in kinds

    def take_node(self, node_id: str, class_type: str, step: int) -> Fault | None:
        """The node fault that strikes ``node_id`` now (at its start: step 0), if one does."""
        return self._take(lambda f: f.kind in NODE_KINDS and f.at_step == step and f.matches_node(node_id, class_type))

    def node_faults_with_steps(self, node_id: str, class_type: str) -> bool:
        """Whether a node fault waits for one of this node's progress updates."""
        with self._lock:
            return any(f.kind in NODE_KINDS and f.at_step > 0 and not f.spent and f.matches_node(node_id, class_type)
                       for f in self._faults.values())

    def take_validation(self, node_id: str, class_type: str) -> Fault | None:
        return self._take(lambda f: f.kind is FaultKind.VALIDATION and f.matches_node(node_id, class_type))

    def take_worker_death(self, prompt: Mapping[str, Any], broken: bool) -> Fault | None:
        """The ``worker_death`` fault that strikes this prompt, if one does: with ``node_class``
        or ``node_id`` only a prompt holding such a node, with ``broken_only`` only a prompt
        real's worker dies on (``broken``)."""
        def applies(f: Fault) -> bool:
            if f.kind is not FaultKind.WORKER_DEATH or (f.broken_only and not broken):
                return False
            if f.node_id is None and f.node_class is None:
                return True
            return any(isinstance(node, Mapping) and f.matches_node(node_id, str(node.get("class_type", "")))
                       for node_id, node in prompt.items())
        return self._take(applies)

    def take_route(self, method: str, path: str) -> Fault | None:
        return self._take(lambda f: f.kind in ROUTE_KINDS and f.matches_route(method, path))

    def take_ws(self, client_id: str, event: str | None, sent: int) -> Fault | None:
        """The WebSocket fault for a message about to go to ``client_id``, which has had
        ``sent`` messages so far; ``event`` is its type (None for a binary frame)."""
        def applies(f: Fault) -> bool:
            if f.kind not in WS_KINDS or (f.client_id is not None and f.client_id != client_id):
                return False
            if f.kind is FaultKind.WS_SILENCE:
                return f.event is None or f.event == event
            return (f.event is not None and f.event == event) or \
                (f.after_messages is not None and sent >= f.after_messages)
        return self._take(applies)

    def _take(self, applies: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults.values():
                if fault.spent or not applies(fault):
                    continue
                if fault.probability < 1 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.spent:
                    self._refresh()
                return fault
        return None


__all__ = ["NODE_KINDS", "OOM_MESSAGE", "OOM_TIPS", "OOM_TYPE", "OOM_TYPES", "ROUTE_KINDS", "WS_KINDS", "Fault",
           "FaultKind", "FaultSpecError", "Faults", "exception_from", "fault_exception", "fault_from", "format_size",
           "oom_message"]
