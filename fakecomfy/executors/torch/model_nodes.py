"""Model loaders and model-sampling nodes of the torch family.

The MODEL a loader gives is the numpy family's stand-in (its file name, architecture and latent
channels); the sampler nodes build the stand-in denoiser from it
(:func:`fakecomfy.executors.torch.denoiser.load_model`), so every loader and model patch node of
the catalog keeps working unchanged. ModelSamplingSD3, ModelSamplingAuraFlow and
ModelSamplingFlux give the model a flow sampling of their shift
(:mod:`~fakecomfy.executors.torch.model_sampling`), which the samplers then use."""
from __future__ import annotations

from typing import Any

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import model_nodes as numpy_model_nodes
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import Model
from fakecomfy.executors.torch.adapted import adapt
from fakecomfy.executors.torch.model_sampling import FlowSampling, FluxSampling, flux_shift, with_sampling


def model_sampling_sd3(ctx: NodeContext, model: Model, shift: float, **_: Any) -> NodeResult:
    return single(with_sampling(model, FlowSampling(shift=shift, multiplier=1000)))


def model_sampling_aura_flow(ctx: NodeContext, model: Model, shift: float, **_: Any) -> NodeResult:
    return single(with_sampling(model, FlowSampling(shift=shift, multiplier=1.0)))


def model_sampling_flux(ctx: NodeContext, model: Model, max_shift: float, base_shift: float, width: int,
                        height: int, **_: Any) -> NodeResult:
    return single(with_sampling(model, FluxSampling(shift=flux_shift(max_shift, base_shift, width, height))))


NODES: dict[str, NodeFunction] = {
    "CheckpointLoaderSimple": adapt(numpy_model_nodes.NODES["CheckpointLoaderSimple"]),
    "ModelSamplingSD3": timed(model_sampling_sd3),
    "ModelSamplingAuraFlow": timed(model_sampling_aura_flow),
    "ModelSamplingFlux": timed(model_sampling_flux),
}

__all__ = ["NODES", "model_sampling_aura_flow", "model_sampling_flux", "model_sampling_sd3"]
