"""What the torch family's samplers share: the denoiser and callback types, the ancestral split
of a step, the ancestral noise real draws (a CPU generator seeded with ``seed + 1``), and the
half log-SNR of the model's sampling the SNR-time samplers step in.

A denoiser may carry ``model_sampling`` (the guider's does); where its ``const`` is true (a flow
model: x = sigma * noise + (1 - sigma) * latent) alpha is ``1 - sigma`` and the half log-SNR is
``log((1 - sigma) / sigma)``, else alpha is 1 and it is ``-log sigma``, as in real ComfyUI."""
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


def sampling_of(model: Denoiser) -> Any:
    """The model sampling a denoiser carries (None for a bare function)."""
    return getattr(model, "model_sampling", None)


def is_flow(model: Denoiser) -> bool:
    return bool(getattr(sampling_of(model), "const", False))


def half_log_snr(sigma: Any, flow: bool) -> Any:
    """lambda = log(alpha / sigma)."""
    return sigma.logit().neg() if flow else sigma.log().neg()


def snr_sigma(lam: Any, flow: bool) -> Any:
    """The sigma of a half log-SNR (the inverse of :func:`half_log_snr`)."""
    return lam.neg().sigmoid() if flow else lam.neg().exp()


def offset_first_sigma(model: Denoiser, sigmas: Any) -> Any:
    """A flow model's schedule may start at sigma 1 (infinite -lambda): real moves that first
    sigma to the model's sigma at 0.01% of its timesteps."""
    if len(sigmas) <= 1 or not is_flow(model) or sigmas[0] < 1:
        return sigmas
    sigmas = sigmas.clone()
    sigmas[0] = sampling_of(model).percent_to_sigma(1e-4)
    return sigmas


def snr_times(model: Denoiser, sigmas: Any) -> tuple[Any, Any]:
    """The sigmas (the first offset as :func:`offset_first_sigma`) and their half log-SNRs."""
    sigmas = offset_first_sigma(model, sigmas)
    return sigmas, half_log_snr(sigmas, is_flow(model))
