"""Inpainting nodes on tensors: VAEEncodeForInpaint and InpaintModelConditioning.

Both follow real's arithmetic: the mask stretched (bilinear) over the picture, picture and mask
cut to whole latent cells keeping the middle, the pixels under the rounded mask set to mid grey
before encoding. VAEEncodeForInpaint grows the rounded mask by a box of ``grow_mask_by`` pixels
for the latent's ``noise_mask``; the sampler then samples only there (see
:func:`fakecomfy.executors.torch.sampler_nodes.sample`).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import Vae
from fakecomfy.executors.torch import vae as standin_vae
from fakecomfy.executors.torch.vae import LATENT_SCALE


def _stretched_mask(mask: Any, pixels: Any) -> Any:
    """MASK ``[B, H, W]`` (or ``[H, W]``) as ``[B, 1, h, w]`` over the picture's pixels."""
    planes = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    return F.interpolate(planes, size=(pixels.shape[1], pixels.shape[2]), mode="bilinear")


def _cut_to_cells(pixels: Any, mask: Any) -> tuple[Any, Any]:
    """Pixels ``[B, H, W, C]`` and mask ``[B, 1, H, W]`` cut alike to whole latent cells."""
    h, w = pixels.shape[1:3]
    rows, cols = h - h % LATENT_SCALE, w - w % LATENT_SCALE
    top, left = (h % LATENT_SCALE) // 2, (w % LATENT_SCALE) // 2
    return pixels[:, top:top + rows, left:left + cols], mask[:, :, top:top + rows, left:left + cols]


def _greyed(pixels: Any, mask: Any) -> Any:
    """A copy of the RGB pixels with mid grey wherever the rounded mask is set."""
    keep = (1.0 - mask.round()).squeeze(1).unsqueeze(-1)
    return (pixels[..., :3] - 0.5) * keep + 0.5


def grow(mask: Any, size: int) -> Any:
    """Real's growth of a mask ``[B, 1, H, W]``: the rounded mask convolved with a box of ones
    (padding ``ceil((size - 1) / 2)``), clamped to 0..1, cut back to ``H x W``."""
    if size == 0:
        return mask
    box = torch.ones((1, 1, size, size), dtype=mask.dtype, device=mask.device)
    grown = torch.clamp(F.conv2d(mask.round(), box, padding=math.ceil((size - 1) / 2)), 0, 1)
    return grown[:, :, :mask.shape[-2], :mask.shape[-1]]


def masked_for_encoding(pixels: Any, mask: Any, grow_mask_by: int) -> tuple[Any, Any]:
    """VAEEncodeForInpaint's pixels to encode and its ``noise_mask`` ``[B, 1, h, w]``."""
    pixels, planes = _cut_to_cells(pixels, _stretched_mask(mask, pixels))
    return _greyed(pixels, planes), grow(planes, grow_mask_by).round()


def vae_encode_for_inpaint(ctx: NodeContext, vae: Vae, pixels: Any, mask: Any, grow_mask_by: int = 6,
                           **_: Any) -> NodeResult:
    greyed, noise_mask = masked_for_encoding(pixels, mask, grow_mask_by)
    return single({"samples": standin_vae.encode(greyed, vae.latent_channels), "noise_mask": noise_mask})


def _with_values(conditioning: Any, values: dict[str, Any]) -> list[Any]:
    """Each entry of a CONDITIONING with its options dict copied and ``values`` set in it."""
    return [[entry[0], {**entry[1], **values}] for entry in conditioning]


def inpaint_model_conditioning(ctx: NodeContext, positive: Any, negative: Any, vae: Vae, pixels: Any, mask: Any,
                               noise_mask: bool = True, **_: Any) -> NodeResult:
    cut, planes = _cut_to_cells(pixels, _stretched_mask(mask, pixels))
    concat = standin_vae.encode(_greyed(cut, planes), vae.latent_channels)
    latent: dict[str, Any] = {"samples": standin_vae.encode(pixels, vae.latent_channels)}
    if noise_mask:
        latent["noise_mask"] = planes
    values = {"concat_latent_image": concat, "concat_mask": planes}
    return NodeResult((_with_values(positive, values), _with_values(negative, values), latent))


NODES: dict[str, NodeFunction] = {
    "VAEEncodeForInpaint": timed(vae_encode_for_inpaint),
    "InpaintModelConditioning": timed(inpaint_model_conditioning),
}
