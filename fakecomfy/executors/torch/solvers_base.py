"""What the torch family's samplers share: the denoiser and callback types, the ancestral split
of a step, and the ancestral noise real draws (a CPU generator seeded with ``seed + 1``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Denoiser = Callable[[Any, Any], Any]  # (x [B,C,H,W], sigma [B]) -> denoised x
Callback = Callable[[int, Any, Any], None]  # (step index, denoised, x) once per step
Solver = Callable[[Denoiser, Any, Any, int, Callback], Any]


def noise_sampler(x: Any, seed: int) -> Callable[[], Any]:
    """Fresh noise per ancestral step: as real, one generator seeded with seed + 1 on the CPU
    (the seed itself on other devices)."""
    device = x.device
    generator = torch.Generator(device=device).manual_seed(int(seed) + (1 if device.type == "cpu" else 0))
    return lambda: torch.randn(x.shape, dtype=x.dtype, device=device, generator=generator)


def derivative(x: Any, sigma: Any, denoised: Any) -> Any:
    return (x - denoised) / sigma


def ancestral_step(sigma: Any, sigma_next: Any, eta: float = 1.0) -> tuple[Any, Any]:
    """Split a step into a deterministic one down to sigma_down and fresh noise of sigma_up
    (eta 0: the whole step deterministic, as real's shortcut)."""
    if not eta:
        return sigma_next, sigma_next * 0
    up = torch.minimum(sigma_next, eta * (sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2) ** 0.5)
    return (sigma_next ** 2 - up ** 2) ** 0.5, up


def batch_sigma(x: Any, sigma: Any) -> Any:
    return sigma * x.new_ones([x.shape[0]])


def uncond_of(model: Denoiser, denoised: Any) -> Any:
    """The guider's unconditional prediction of the model call just made (the cfg++ samplers step
    along it); a denoiser without one (a fixed model, BasicGuider's) reports its own prediction."""
    uncond = getattr(model, "uncond", None)
    return denoised if uncond is None else uncond
