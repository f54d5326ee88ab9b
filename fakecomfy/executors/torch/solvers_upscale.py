"""SamplerLCMUpscale's sampler: LCM steps that upscale the latent between them.

As real's: the scale grows linearly from 1 to ``total_upscale`` over the first ``upscale_steps``
steps (about half the steps by default), each step's prediction is resized from the latent's
original size, and the re-noising draws ``randn_like`` from torch's global generator. Real
seeds that generator in prepare_noise (``torch.manual_seed(seed)``, then the initial noise is
drawn from it on the CPU), so on the CPU the steps' noise continues that stream after the
latent's own noise, and on another device it is that device's generator freshly seeded with
the seed (manual_seed seeds every device). We draw from a private generator in the same state.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fakecomfy.executors.torch.resize import upscale
from fakecomfy.executors.torch.solvers_base import Callback, Denoiser, batch_sigma


def global_stream(x: Any, seed: int) -> Any:
    """The global generator as real leaves it after prepare_noise drew the noise for ``x``."""
    generator = torch.Generator(device=x.device).manual_seed(int(seed))
    if x.device.type == "cpu":
        torch.randn(list(x.shape), generator=generator, dtype=torch.float32)
    return generator


def lcm_upscale(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, total_upscale: float = 2.0,
                upscale_method: str = "bislerp", upscale_steps: int | None = None) -> Any:
    count = max(len(sigmas) // 2 + 1, 2) if upscale_steps is None else min(upscale_steps + 1, len(sigmas) + 1)
    scales = np.linspace(1.0, total_upscale, count)[1:]
    height, width = x.shape[-2], x.shape[-1]
    generator = global_stream(x, seed)
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        x = denoised
        if i < len(scales):
            x = upscale(x, round(width * scales[i]), round(height * scales[i]), upscale_method)
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    return x
