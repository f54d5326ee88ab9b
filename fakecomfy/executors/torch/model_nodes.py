"""Model loaders of the torch family: the numpy family's stand-ins, with the stand-in denoiser
as the MODEL once the sampling layer provides one (``fakecomfy.executors.torch.denoiser``)."""
from __future__ import annotations

import importlib
from typing import Any

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import model_nodes as numpy_model_nodes
from fakecomfy.executors.torch.adapted import adapt

DENOISER_MODULE = "fakecomfy.executors.torch.denoiser"
_load_checkpoint = adapt(numpy_model_nodes.NODES["CheckpointLoaderSimple"])


def _denoiser_loader() -> Any:
    """The sampling layer's ``load_model(ckpt_name)``, or None while it has none."""
    try:
        module = importlib.import_module(DENOISER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DENOISER_MODULE:
            raise
        return None
    return getattr(module, "load_model", None)


def checkpoint_loader_simple(ctx: NodeContext, ckpt_name: str, **kwargs: Any) -> NodeResult:
    """The checkpoint's MODEL, CLIP and VAE; the file is checked as the numpy family does."""
    result = _load_checkpoint(ctx, ckpt_name=ckpt_name, **kwargs)
    load_model = _denoiser_loader()
    if load_model is None:
        return result
    return NodeResult((load_model(ckpt_name), *result.outputs[1:]), result.ui)


NODES: dict[str, NodeFunction] = {
    "CheckpointLoaderSimple": checkpoint_loader_simple,
}
