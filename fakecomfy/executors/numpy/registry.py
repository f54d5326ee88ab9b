"""How node functions are registered: the configured node time, and single-output results."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult


def timed(fn: Callable[..., NodeResult]) -> NodeFunction:
    """Spend the class's configured ``--node-time`` once (not interruptible), then run ``fn``.

    Samplers are registered without it: they spend their time per step, interruptibly.
    """

    @functools.wraps(fn)
    def run(ctx: NodeContext, **inputs: Any) -> NodeResult:
        ctx.sleep(ctx.node_time)
        return fn(ctx, **inputs)

    return run


def single(value: Any) -> NodeResult:
    """The result of a node with one output."""
    return NodeResult((value,))
