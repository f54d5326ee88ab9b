"""LATENT nodes on tensors: empty latents, upscaling, noise masks, and the stand-in VAE's nodes
(with the inpainting encoders of :mod:`.inpaint`)."""
from __future__ import annotations

from typing import Any

import torch

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy.latent_nodes import check_decodable
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import PRIVATE_KEYS, Vae
from fakecomfy.executors.torch import inpaint
from fakecomfy.executors.torch import vae as standin_vae
from fakecomfy.executors.torch.resize import upscale

Latent = dict[str, Any]
MIN_UPSCALE_SIZE = 64  # LatentUpscale never goes below 64 pixels a side


def empty_latent_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1, **_: Any) -> NodeResult:
    """Four channels whatever the model: the sampler gives an all-zero latent the model's count."""
    return single({"samples": torch.zeros([batch_size, 4, height // 8, width // 8])})


def empty_sd3_latent_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1, **_: Any) -> NodeResult:
    """The 16-channel latent of SD3 and Flux."""
    return single({"samples": torch.zeros([batch_size, 16, height // 8, width // 8])})


def _with_samples(latent: Latent, samples: Any) -> Latent:
    """A copy of ``latent`` (its other keys kept, like real's ``dict.copy``) with new samples."""
    out = {k: v for k, v in latent.items() if k not in PRIVATE_KEYS}
    out["samples"] = samples
    return out


def latent_upscale(ctx: NodeContext, samples: Latent, upscale_method: str, width: int, height: int,
                   crop: str = "disabled", **_: Any) -> NodeResult:
    if width == 0 and height == 0:
        return single(samples)
    cells = samples["samples"]
    if width == 0:
        height = max(MIN_UPSCALE_SIZE, height)
        width = max(MIN_UPSCALE_SIZE, round(cells.shape[-1] * height / cells.shape[-2]))
    elif height == 0:
        width = max(MIN_UPSCALE_SIZE, width)
        height = max(MIN_UPSCALE_SIZE, round(cells.shape[-2] * width / cells.shape[-1]))
    else:
        width, height = max(MIN_UPSCALE_SIZE, width), max(MIN_UPSCALE_SIZE, height)
    return single(_with_samples(samples, upscale(cells, width // 8, height // 8, upscale_method, crop)))


def latent_upscale_by(ctx: NodeContext, samples: Latent, upscale_method: str, scale_by: float,
                      **_: Any) -> NodeResult:
    cells = samples["samples"]
    width, height = round(cells.shape[-1] * scale_by), round(cells.shape[-2] * scale_by)
    return single(_with_samples(samples, upscale(cells, width, height, upscale_method)))


def set_latent_noise_mask(ctx: NodeContext, samples: Latent, mask: Any, **_: Any) -> NodeResult:
    out = dict(samples)
    out["noise_mask"] = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    return single(out)


def vae_decode(ctx: NodeContext, vae: Vae, samples: Latent, **_: Any) -> NodeResult:
    cells = samples["samples"]
    check_decodable(vae, cells)
    return single(standin_vae.decode(cells))


def vae_encode(ctx: NodeContext, vae: Vae, pixels: Any, **_: Any) -> NodeResult:
    return single({"samples": standin_vae.encode(pixels, vae.latent_channels)})


NODES: dict[str, NodeFunction] = {
    "EmptyLatentImage": timed(empty_latent_image),
    "EmptySD3LatentImage": timed(empty_sd3_latent_image),
    "LatentUpscale": timed(latent_upscale),
    "LatentUpscaleBy": timed(latent_upscale_by),
    "SetLatentNoiseMask": timed(set_latent_noise_mask),
    "VAEDecode": timed(vae_decode),
    "VAEDecodeTiled": timed(vae_decode),
    "VAEEncode": timed(vae_encode),
    "VAEEncodeTiled": timed(vae_encode),
    **inpaint.NODES,
}
