"""The numpy family's nodes on torch values: what the torch family does not compute itself.

Each adapted node gets its tensors as numpy arrays and hands back tensors (see
:mod:`fakecomfy.executors.torch.values`), so a graph mixing both kinds of node only ever passes
tensors between nodes. Errors the numpy node raises reach the client unchanged.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import NODES as NUMPY_NODES
from fakecomfy.executors.numpy import fallback as numpy_fallback
from fakecomfy.executors.torch.values import to_numpy, to_torch


def adapt(fn: NodeFunction) -> NodeFunction:
    """``fn`` (a numpy node) taking and giving tensors."""

    @functools.wraps(fn)
    def run(ctx: NodeContext, **inputs: Any) -> NodeResult:
        result = fn(ctx, **to_numpy(inputs))
        return NodeResult(to_torch(result.outputs), result.ui)

    return run


def fallback(ctx: NodeContext, definition: dict[str, Any], inputs: dict[str, Any]) -> NodeResult:
    """Any other catalog node, from its definition: the numpy fallback's values, as tensors."""
    result = numpy_fallback(ctx, definition, to_numpy(inputs))
    return NodeResult(to_torch(result.outputs), result.ui)


def adapted_nodes(skip: Mapping[str, object]) -> dict[str, NodeFunction]:
    """Every numpy node not in ``skip``, adapted."""
    return {name: adapt(fn) for name, fn in NUMPY_NODES.items() if name not in skip}
