"""The torch executor family: ComfyUI's values as torch tensors, with real tensor arithmetic.

``NODES`` maps a class_type to its implementation. The image, mask and latent nodes compute on
tensors as real ComfyUI does (so model-free graphs save the same pixels); the samplers come from
:mod:`~fakecomfy.executors.torch.sampler_nodes`; every other node of the numpy family runs on
tensors through :mod:`~fakecomfy.executors.torch.adapted`, and :func:`fallback` runs any other
catalog node from its definition. ``IS_CHANGED`` is the numpy family's (file hashes do not
depend on value types).
"""
from __future__ import annotations

import importlib

from fakecomfy.executors.base import NodeFunction
from fakecomfy.executors.numpy import IS_CHANGED
from fakecomfy.executors.torch import adapted, custom_sampler_nodes, image_nodes, latent_nodes, mask_nodes, model_nodes
from fakecomfy.executors.torch.adapted import fallback
from fakecomfy.executors.torch.values import describe

_SAMPLER_MODULE = "fakecomfy.executors.torch.sampler_nodes"


def _sampler_nodes() -> dict[str, NodeFunction]:
    """The sampling layer's nodes (KSampler...), while it is being built possibly none yet."""
    try:
        module = importlib.import_module(_SAMPLER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != _SAMPLER_MODULE:
            raise
        return {}
    return dict(module.NODES)


_OWN: dict[str, NodeFunction] = {
    **image_nodes.NODES,
    **mask_nodes.NODES,
    **latent_nodes.NODES,
    **model_nodes.NODES,
    **_sampler_nodes(),
    **custom_sampler_nodes.NODES,
}
NODES: dict[str, NodeFunction] = {**adapted.adapted_nodes(_OWN), **_OWN}

__all__ = ["IS_CHANGED", "NODES", "describe", "fallback"]
