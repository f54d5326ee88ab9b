"""What the engine keeps while it runs prompts: the output cache, one prompt's run (the events
it sent, what it executed, its outputs) and its cumulative ``progress_state`` map."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.execution import QueueItem, Reporter
from fakecomfy.protocol import NodeState

# Events recorded in the history entry's status.messages.
_HISTORY_EVENTS = frozenset({protocol.EV_EXECUTION_START, protocol.EV_EXECUTION_CACHED,
                             protocol.EV_EXECUTION_SUCCESS, protocol.EV_EXECUTION_ERROR,
                             protocol.EV_EXECUTION_INTERRUPTED})
# Sent even when the prompt has no client_id (as broadcasts), like real.
_BROADCAST_WITHOUT_CLIENT = frozenset({protocol.EV_PROGRESS, protocol.EV_PROGRESS_STATE,
                                       protocol.EV_EXECUTION_INTERRUPTED})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CacheEntry:
    outputs: tuple[Any, ...]
    ui: dict[str, Any] | None


class OutputCache:
    """Outputs by input signature; a prompt keeps only the entries it uses itself."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}
        self.keys: dict[str, str] = {}

    def set_prompt(self, keys: dict[str, str]) -> None:
        self.keys = keys
        wanted = set(keys.values())
        self.entries = {k: v for k, v in self.entries.items() if k in wanted}

    def get(self, node_id: str) -> CacheEntry | None:
        key = self.keys.get(node_id)
        return self.entries.get(key) if key is not None else None

    def put(self, node_id: str, entry: CacheEntry) -> None:
        self.entries[self.keys[node_id]] = entry

    def clear(self) -> None:
        self.entries.clear()


class Progress:
    """The cumulative ``progress_state`` map of one prompt.

    A node's entry is replaced, never changed in place, whenever its state changes, so messages
    may share entries (and the wire layer encodes an entry once).
    """

    def __init__(self, prompt_id: str, emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.prompt_id = prompt_id
        self.emit = emit
        self.nodes: dict[str, dict[str, Any]] = {}

    def _set(self, node_id: str, value: Any, maximum: Any, state: NodeState) -> None:
        self.nodes[node_id] = {"value": value, "max": maximum, "state": state.value, "node_id": node_id,
                               "prompt_id": self.prompt_id, "display_node_id": node_id,
                               "parent_node_id": None, "real_node_id": node_id}

    def _send(self) -> None:
        self.emit(protocol.EV_PROGRESS_STATE, {"prompt_id": self.prompt_id, "nodes": dict(self.nodes)})

    def start(self, node_id: str) -> None:
        self._set(node_id, 0.0, 1.0, NodeState.RUNNING)
        self._send()

    def update(self, node_id: str, value: Any, maximum: Any) -> None:
        self._set(node_id, value, maximum, NodeState.RUNNING)
        self._send()

    def finish(self, node_id: str) -> None:
        entry = self.nodes.get(node_id)
        if entry is None:  # a cached node never started: ComfyUI reports 1/1 as ints
            self._set(node_id, 1, 1, NodeState.FINISHED)
        else:
            self._set(node_id, entry["max"], entry["max"], NodeState.FINISHED)
        self._send()


class Run:
    """One prompt's execution state (events recorded, nodes executed, outputs)."""

    def __init__(self, item: QueueItem, reporter: Reporter) -> None:
        self.item = item
        self.reporter = reporter
        self.sid = item.client_id
        self.broadcasts = item.broadcasts
        self.messages: list[list[Any]] = []
        self.executed: list[str] = []
        self.values: dict[str, tuple[Any, ...]] = {}
        self.ui_outputs: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.progress = Progress(item.prompt_id, self.send)

    def send(self, event: str, data: dict[str, Any]) -> None:
        if event in _HISTORY_EVENTS:
            self.messages.append([event, data])
        if self.sid is not None:
            self.reporter.send(event, data, self.sid)
        elif self.broadcasts and event in _BROADCAST_WITHOUT_CLIENT:
            self.reporter.send(event, data, None)

    def executing(self, node_id: str) -> dict[str, Any]:
        """The data of ``executing`` for a node."""
        return {"node": node_id, "display_node": node_id, "prompt_id": self.item.prompt_id}

    def record_ui(self, node_id: str, ui: dict[str, Any]) -> None:
        self.ui_outputs[node_id] = ui
        self.meta[node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                              "real_node_id": node_id}


__all__ = ["CacheEntry", "OutputCache", "Progress", "Run", "now_ms"]
