"""The stand-in VAE: a fixed linear map between 8x8 cells of RGB pixels and latent channels.

Encoding takes the mean colour of each 8x8 cell, centres it (``2 * rgb - 1``) and multiplies
it by :data:`ENCODE_BASIS` (one row per latent channel; channel ``k`` uses row ``k % 4``, so
16-channel latents work too). Decoding multiplies by the pseudo-inverse of that matrix and
spreads each cell's colour over its 8x8 pixels. The basis has rank 3, so ``decode(encode(x))``
is exactly ``x``'s cell means: a picture that is smooth over 8 pixels comes back unchanged up to
float rounding, a detailed one comes back as blocks. An all-zero latent decodes to mid grey.
"""
from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

LATENT_SCALE = 8
# luminance, two colour differences and a mean, loosely like SD 1.5's latent channels
ENCODE_BASIS = (
    (0.299, 0.587, 0.114),
    (0.5, -0.419, -0.081),
    (-0.169, -0.331, 0.5),
    (0.333, 0.333, 0.334),
)


@functools.lru_cache(maxsize=8)
def _matrices(channels: int) -> tuple[Any, Any]:
    encode = torch.tensor([ENCODE_BASIS[k % 4] for k in range(channels)], dtype=torch.float64)
    decode = torch.linalg.pinv(encode)
    return encode.to(torch.float32), decode.to(torch.float32)


def crop_to_cells(pixels: Any) -> Any:
    """``[B, H, W, C]`` cut to whole latent cells, keeping the middle (as ComfyUI's VAE does)."""
    h, w = pixels.shape[1:3]
    top, left = (h % LATENT_SCALE) // 2, (w % LATENT_SCALE) // 2
    return pixels[:, top:top + h - h % LATENT_SCALE, left:left + w - w % LATENT_SCALE]


def encode(pixels: Any, channels: int = 4) -> Any:
    """IMAGE ``[B, H, W, 3+]`` to latent samples ``[B, channels, H/8, W/8]``."""
    planes = crop_to_cells(pixels[..., :3]).movedim(-1, 1).to(torch.float32)
    means = F.avg_pool2d(planes, LATENT_SCALE)
    basis, _ = _matrices(channels)
    return torch.einsum("kc,bchw->bkhw", basis.to(means.device), 2 * means - 1)


def decode(samples: Any) -> Any:
    """Latent samples ``[B, C, h, w]`` to an IMAGE ``[B, 8h, 8w, 3]`` in 0..1."""
    _, inverse = _matrices(samples.shape[1])
    centred = torch.einsum("ck,bkhw->bchw", inverse.to(samples.device), samples.to(torch.float32))
    rgb = torch.clamp((centred + 1) / 2, 0, 1)
    pixels = rgb.repeat_interleave(LATENT_SCALE, dim=2).repeat_interleave(LATENT_SCALE, dim=3)
    return pixels.movedim(1, -1).contiguous()
