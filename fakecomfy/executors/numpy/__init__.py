"""The default executor family: every node computed with numpy and Pillow, no model weights.

``NODES`` maps a class_type to its implementation, ``fn(ctx, **inputs) -> NodeResult``;
:func:`fallback` runs any other node of the catalog from its definition alone.
:data:`IS_CHANGED` holds ComfyUI's "has this node's outside world changed" hooks for the
nodes that have one (file hashes for loaders; SaveImageWebsocket always re-runs).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from fakecomfy.core.execution import ExecutionEnv
from fakecomfy.executors.base import NodeFunction
from fakecomfy.executors.numpy import (
    conditioning_nodes,
    image_nodes,
    latent_nodes,
    mask_nodes,
    model_nodes,
    output_nodes,
    sampler_nodes,
    utility_nodes,
)
from fakecomfy.executors.numpy.fallback import fallback
from fakecomfy.executors.numpy.values import describe

NODES: dict[str, NodeFunction] = {
    **image_nodes.NODES,
    **mask_nodes.NODES,
    **latent_nodes.NODES,
    **model_nodes.NODES,
    **conditioning_nodes.NODES,
    **sampler_nodes.NODES,
    **output_nodes.NODES,
    **utility_nodes.NODES,
}


def _file_hash(input_name: str) -> Callable[[ExecutionEnv, dict[str, Any]], object]:
    """ComfyUI's loaders report the sha256 of the file they read as their change key."""

    def key(env: ExecutionEnv, inputs: dict[str, Any]) -> object:
        name = inputs.get(input_name)
        if not isinstance(name, str):
            return None
        try:
            return hashlib.sha256(env.files.annotated_path(name).read_bytes()).hexdigest()
        except OSError:
            return None

    return key


IS_CHANGED: dict[str, Callable[[ExecutionEnv, dict[str, Any]], object]] = {
    "LoadImage": _file_hash("image"),
    "LoadImageMask": _file_hash("image"),
    "LoadImageOutput": _file_hash("image"),
    "LoadLatent": _file_hash("latent"),
    "SaveImageWebsocket": lambda env, inputs: time.time(),
}

__all__ = ["IS_CHANGED", "NODES", "describe", "fallback"]
