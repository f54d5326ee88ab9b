"""Executors run validated prompts. ``create_executor(name, env)`` picks one (``--executor NAME``)."""
from __future__ import annotations

from fakecomfy.executors.base import ExecutionEnv, Executor


def create_executor(name: str, env: ExecutionEnv) -> Executor:
    """The executor called ``name``: ``numpy`` (default, CPU, always available)."""
    if name == "numpy":
        from fakecomfy.executors.engine import GraphExecutor

        try:  # TEMPORARY while the numpy family is being written
            from fakecomfy.executors.numpy import NODES, fallback
        except ImportError:
            from fakecomfy.executors.base import NodeResult

            NODES, fallback = {}, (lambda ctx, d, i: NodeResult((None,) * len(d.get("output", [])), None))  # type: ignore[assignment]
        return GraphExecutor("numpy", env, NODES, fallback)
    raise ValueError(f"unknown executor {name!r}; available: numpy")


__all__ = ["create_executor"]
