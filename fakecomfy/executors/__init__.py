"""Executors run validated prompts. ``create_executor(name, env)`` picks one (``--executor NAME``)."""
from __future__ import annotations

import importlib.util

from fakecomfy.core.execution import ExecutionEnv, Executor

EXECUTORS = ("numpy", "torch")


def create_executor(name: str, env: ExecutionEnv) -> Executor:
    """The executor called ``name``: ``numpy`` (default, CPU, always available) or ``torch``
    (real tensor work; needs the ``fakecomfy[torch]`` extra)."""
    from fakecomfy.executors.engine import GraphExecutor

    if name == "numpy":
        from fakecomfy.executors.numpy import IS_CHANGED, NODES, describe, fallback

        return GraphExecutor("numpy", env, NODES, fallback, IS_CHANGED, describe)
    if name == "torch":
        if importlib.util.find_spec("torch") is None:  # looked up, not imported: the core never imports torch
            raise ValueError("executor 'torch' needs PyTorch: pip install 'fakecomfy[torch]'")
        from fakecomfy.executors.torch.executor import TorchExecutor

        return TorchExecutor(env)
    raise ValueError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "create_executor"]
