"""Model loaders of the torch family: the numpy family's stand-ins.

The MODEL a loader gives is the numpy family's stand-in (its file name, architecture and latent
channels); the sampler nodes build the stand-in denoiser from it
(:func:`fakecomfy.executors.torch.denoiser.load_model`), so every loader and model patch node of
the catalog keeps working unchanged."""
from __future__ import annotations

from fakecomfy.executors.base import NodeFunction
from fakecomfy.executors.numpy import model_nodes as numpy_model_nodes
from fakecomfy.executors.torch.adapted import adapt

NODES: dict[str, NodeFunction] = {
    "CheckpointLoaderSimple": adapt(numpy_model_nodes.NODES["CheckpointLoaderSimple"]),
}

__all__ = ["NODES"]
