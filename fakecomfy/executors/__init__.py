"""Executors run validated prompts. ``create_executor(name, env)`` picks one (``--executor NAME``)."""
from __future__ import annotations

from fakecomfy.core.execution import ExecutionEnv, Executor


def create_executor(name: str, env: ExecutionEnv) -> Executor:
    """The executor called ``name``: ``numpy`` (default, CPU, always available)."""
    if name == "numpy":
        from fakecomfy.executors.engine import GraphExecutor
        from fakecomfy.executors.numpy import IS_CHANGED, NODES, describe, fallback

        return GraphExecutor("numpy", env, NODES, fallback, IS_CHANGED, describe)
    raise ValueError(f"unknown executor {name!r}; available: numpy")


__all__ = ["create_executor"]
