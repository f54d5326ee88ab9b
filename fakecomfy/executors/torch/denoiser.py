"""A deterministic stand-in for a diffusion model's UNet: no weights to download.

The model is seen through k-diffusion's denoiser convention: ``denoise(x, sigma, cond) ->
denoised``. It "knows" one clean latent per conditioning (a smooth pattern projected from the
text embedding) and predicts what separates ``x`` from it, corrected by a small convolutional
network whose weights come from a fixed seed derived from the checkpoint name. Under an eps
model's sampling (the SD family) that is the noise, under a flow model's (SD3, Flux: CONST) the
velocity ``noise - latent``; both give ``denoised = x - prediction * sigma``, and the model
sampling also sets what the network sees (the input's scaling, the timestep). So sampling
really converges, the same seed and prompt give the same latent, and the cost of each model call
grows with batch and resolution (a few 3x3 convolutions over every latent pixel), as a UNet's
does.
"""
from __future__ import annotations

import functools
import gc
import hashlib
import math
from typing import Any

import torch
import torch.nn.functional as F

from fakecomfy.executors.torch import devices
from fakecomfy.executors.torch.model_sampling import SD15, ModelSampling

HIDDEN = 32  # channels of the stand-in's convolutions: sets the cost of a model call
GRID = 8  # the clean latent's pattern is drawn on a GRID x GRID grid, then upsampled
EMBED = 32  # width of the timestep embedding
CORRECTION = 0.1  # how much the network bends the ideal noise prediction
# The clean latent is the checkpoint's own pattern plus a smaller prompt-dependent part, so
# cond and uncond predictions differ moderately and cfg 7 stays in range, as with real models.
PROMPT_SHARE = 0.2


def _seed_of(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"standin|{name}".encode()).digest()[:8], "little")


class StandInModel(torch.nn.Module):  # type: ignore[misc,unused-ignore]  # torch is Any without it
    """A small conditioned conv net over latents of ``channels`` channels."""

    def __init__(self, name: str, channels: int = 4) -> None:
        super().__init__()
        self.name = name
        self.channels = channels
        generator = torch.Generator().manual_seed(_seed_of(name))
        self.inp = torch.nn.Conv2d(channels, HIDDEN, 3, padding=1)
        self.mid = torch.nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)
        self.out = torch.nn.Conv2d(HIDDEN, channels, 3, padding=1)
        self.time = torch.nn.Linear(EMBED, HIDDEN)
        with torch.no_grad():
            for parameter in self.parameters():
                fan_in = max(1, parameter[0].numel())
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / math.sqrt(fan_in))
        self._generator_seed = _seed_of(name)
        self.register_buffer("_base", torch.tanh(torch.randn(1, channels, GRID, GRID, generator=generator)))
        self._projections: dict[tuple[int, int, str], Any] = {}
        self.requires_grad_(False)

    # -- conditioning ---------------------------------------------------------------------------
    def _projection(self, width: int, rows: int, device: Any) -> Any:
        """A fixed random projection from text width to ``rows`` values (seeded by name and width),
        drawn on the CPU once and kept on each device it is used on."""
        key = (width, rows, str(device))
        if key not in self._projections:
            generator = torch.Generator().manual_seed((self._generator_seed + width * 7919 + rows) % 2**63)
            self._projections[key] = (torch.randn(width, rows, generator=generator) / math.sqrt(width)).to(device)
        return self._projections[key]

    def clean_latent(self, text: Any, height: int, width: int) -> Any:
        """The clean latent the model believes in for each text summary row of [N, D]."""
        grid = text @ self._projection(text.shape[-1], self.channels * GRID * GRID, text.device)
        base: Any = self._base  # a buffer: moves with the model
        grid = torch.tanh(grid).view(-1, self.channels, GRID, GRID) * PROMPT_SHARE + base
        return F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False)

    def text_bias(self, text: Any) -> Any:
        return (text @ self._projection(text.shape[-1], HIDDEN, text.device)).view(-1, HIDDEN, 1, 1)

    # -- one model call ---------------------------------------------------------------------------
    def _embed(self, timestep: Any) -> Any:
        half = EMBED // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timestep.device) / half)
        angles = timestep.float()[:, None] * freqs[None]
        return torch.cat([angles.cos(), angles.sin()], dim=1)

    def forward(self, x: Any, sigma: Any, text: Any, sampling: ModelSampling = SD15) -> Any:
        """The denoised latent for x [B, C, H, W] at noise levels sigma [B], conditioned on text
        summaries [B or 1, D] (see :func:`summary`; cond and uncond rows batched as real does),
        under the model sampling ``sampling``. It computes on the model's device (the sampling
        loop's tensors are there already) and answers on ``x``'s."""
        home = x.device
        device = self.inp.weight.device
        x, sigma, text = x.to(device), sigma.to(device), text.to(device)
        s = sigma.view(-1, 1, 1, 1).to(x.dtype)
        seen = sampling.calculate_input(s, x)
        timestep = sampling.timestep(sigma)
        h = F.silu(self.inp(seen) + self.time(self._embed(timestep))[:, :, None, None] + self.text_bias(text))
        h = F.silu(self.mid(h))
        clean = self.clean_latent(text, x.shape[2], x.shape[3])
        prediction = (x - clean) / s + CORRECTION * torch.tanh(self.out(h))
        return (x - prediction * s).to(home)


def summary(cond: Any) -> Any:
    """What the stand-in reads of a conditioning tensor [N, tokens, D]: its mean token,
    normalised to unit variance per element, [N, D]."""
    text = torch.as_tensor(cond).float().mean(dim=1)
    return text / (text.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-6)


def load_model(ckpt_name: str, channels: int = 4) -> StandInModel:
    """The stand-in model of a checkpoint, loaded on the torch device: the same name always
    gives the same weights (drawn on the CPU, so every device gets the same model)."""
    return _loaded(ckpt_name, channels, str(devices.torch_device()))


@functools.lru_cache(maxsize=8)
def _loaded(ckpt_name: str, channels: int, device: str) -> StandInModel:
    return StandInModel(ckpt_name, channels).eval().to(device)


def unload_models() -> None:
    """Drop every loaded stand-in model and give its device memory back (``/free``)."""
    _loaded.cache_clear()
    gc.collect()
    devices.release_memory()
