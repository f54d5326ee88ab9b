"""ComfyUI's graph semantics with no execution: which nodes run, in what order, and cache keys.

Order (ComfyUI's ExecutionList): nodes are discovered depth-first from each output, visiting a
node's linked inputs from its last ``inputs`` key to its first, skipping cached producers.
Among the ready nodes the worker picks an output node first, then a node feeding an output,
then a node two links before an output, else the first ready node in discovery order.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fakecomfy import jsontext
from fakecomfy.core.faults import exception_from
from fakecomfy.core.validation.link_types import is_link

Prompt = dict[str, dict[str, Any]]
# One encoder for every signature (json.dumps with these arguments builds a new one per call).
_signature_json = jsontext.make_dumps(sort_keys=True, default=repr)


def slot_key(slot: int | float) -> int | float:
    """A link's slot as Python hashes it: ``false``, ``0`` and ``0.0`` are one cache key."""
    return int(slot) if isinstance(slot, bool) or (isinstance(slot, float) and slot.is_integer()) else slot


def links_of(node: dict[str, Any]) -> list[tuple[str, str, int | float]]:
    """(input name, source node id, source slot) for each linked input, in key order; every
    input counts, declared or not, like real's graph."""
    inputs = node.get("inputs") or {}
    return [(name, v[0], v[1]) for name, v in inputs.items() if is_link(v)]


class ExecutionPlan:
    """The nodes one prompt runs and the order it runs them in (picked one at a time)."""

    def __init__(self, prompt: Prompt, outputs: Iterable[str], is_output: Callable[[str], bool],
                 is_cached: Callable[[str], bool]) -> None:
        self.prompt = prompt
        self.is_output = is_output
        self.is_cached = is_cached
        self.pending: dict[str, bool] = {}
        self.block_count: dict[str, int] = {}
        self.blocking: dict[str, dict[str, bool]] = {}
        for output in outputs:
            self._add(output)

    def _add(self, start: str) -> None:
        stack = [start]
        links: list[tuple[str, str]] = []
        while stack:
            node_id = stack.pop()
            if node_id in self.pending:
                continue
            self.pending[node_id] = True
            self.block_count.setdefault(node_id, 0)
            self.blocking.setdefault(node_id, {})
            for _, source, _slot in links_of(self.prompt[node_id]):
                if not self.is_cached(source):
                    stack.append(source)
                links.append((source, node_id))
        for source, target in links:
            self._link(source, target)

    def _link(self, source: str, target: str) -> None:
        if self.is_cached(source):
            return
        if source not in self.pending:
            self._add(source)
        if target not in self.blocking[source]:
            self.blocking[source][target] = True
            self.block_count[target] += 1

    def next(self) -> str | None:
        ready = [n for n in self.pending if self.block_count[n] == 0]
        if not ready:
            return None
        for node_id in ready:
            if self.is_output(node_id):
                return node_id
        for node_id in ready:
            if any(self.is_output(b) for b in self.blocking[node_id]):
                return node_id
        for node_id in ready:
            for b in self.blocking[node_id]:
                if any(self.is_output(b1) for b1 in self.blocking[b]):
                    return node_id
        return ready[0]

    def complete(self, node_id: str) -> None:
        self.pending.pop(node_id, None)
        for target in self.blocking.pop(node_id, {}):
            self.block_count[target] -= 1

    def has_pending(self) -> bool:
        return bool(self.pending)


def input_signatures(prompt: Prompt, changed: Callable[[str], Any],
                     keyed_by_id: Callable[[str], bool]) -> dict[str, str]:
    """A cache key per node: its class and inputs, with links replaced by their source's key.

    ``changed(node_id)`` is the node's IS_CHANGED value; ``keyed_by_id`` says whether the node
    id itself is part of the key (nodes that are not idempotent or read their own id).
    """
    keys: dict[str, str] = {}
    visiting: set[str] = set()

    def key(node_id: str) -> str:
        if node_id in keys:
            return keys[node_id]
        if node_id in visiting or node_id not in prompt:
            return f"<missing:{node_id}>"
        visiting.add(node_id)
        node = prompt[node_id]
        parts: list[Any] = [node.get("class_type"), changed(node_id)]
        if keyed_by_id(node_id):
            parts.append(node_id)
        inputs = node.get("inputs") or {}
        for name in sorted(inputs):
            value = inputs[name]
            if is_link(value):
                parts.append([name, "link", key(value[0]), slot_key(value[1])])
            else:
                parts.append([name, value])
        visiting.discard(node_id)
        digest = hashlib.blake2b(_signature_json(parts).encode(), digest_size=16)
        keys[node_id] = digest.hexdigest()
        return keys[node_id]

    for node_id in prompt:
        key(node_id)
    return keys


@dataclass
class GraphBreak:
    """Where real ComfyUI's worker fails to build a validated prompt's graph, and the Python
    error it dies of: ``node_id`` is the node to blame (the one with unusable ``inputs``, or the
    one linking to a node the prompt lacks). ``planned``: the failure comes while the run is
    planned, after ``execution_cached`` went out; otherwise while cache keys are computed,
    before it."""

    node_id: str
    error: Exception
    planned: bool


def unusable_inputs(prompt: Prompt) -> GraphBreak | None:
    """The first node whose ``inputs`` real's cache keys cannot read (``null``, a list, a string,
    absent), found the way real walks them: each node in prompt order, then what it links to.
    Validation only reads the nodes outputs depend on, so such a node can get through it."""
    seen: set[str] = set()
    for top in prompt:
        stack = [top]
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id not in prompt:
                continue
            seen.add(node_id)
            try:
                inputs = prompt[node_id]["inputs"]
                names = sorted(inputs.keys())
            except (KeyError, AttributeError, TypeError) as exc:
                return GraphBreak(node_id, exc, planned=False)
            stack.extend(reversed([inputs[n][0] for n in names if is_link(inputs[n])]))
    return None


def missing_source(prompt: Prompt, outputs: Iterable[str], is_cached: Callable[[str], bool]) -> GraphBreak | None:
    """A link, reached from the outputs, to a node the prompt lacks. Validation follows only
    declared inputs; a link on an input the node does not declare is followed by the graph alone."""
    for output in outputs:
        stack = [output]
        seen: set[str] = set()
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            for _, source, _slot in links_of(prompt[node_id]):
                if source not in prompt:
                    error = exception_from(NODE_NOT_FOUND, f"Node {source} not found")
                    return GraphBreak(node_id, error, planned=True)
                if not is_cached(source):
                    stack.append(source)
    return None


# The error real's graph raises for a node id the prompt lacks.
NODE_NOT_FOUND = "comfy_execution.graph.NodeNotFoundError"
