"""What a model brings to sampling besides its network: its sigmas and prediction type (the
"model sampling") and its latent format.

As in real ComfyUI: the SD family are discrete-time eps models (SD1.5's 1000 linear-beta
sigmas); SD3 is a rectified-flow model (ModelSamplingDiscreteFlow, shift 3.0, timestep
``sigma * 1000``) and Flux one with its own time shift (ModelSamplingFlux, shift 1.15, 10 000
sigmas, timestep ``sigma``), both predicting with CONST scaling: ``x = sigma * noise +
(1 - sigma) * latent``, the model's input unscaled, the result divided by ``1 - sigma`` of the
last sigma. The ModelSamplingSD3 / ModelSamplingAuraFlow / ModelSamplingFlux nodes replace a
model's sampling (:class:`SampledModel`). Latent formats scale and shift a latent into the model's
space (``process_latent_in``) and back (``process_latent_out``). Every number is checked against
real's own functions (tests/torch/data/flow_facts.json).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from fakecomfy.executors.numpy.values import Model
from fakecomfy.executors.torch.sampling import DiscreteSigmas


def _shaped(sigma: Any, ndim: int) -> Any:
    """A sigma (one, or one per batch item) broadcastable over a tensor of ``ndim`` dims."""
    sigma = torch.as_tensor(sigma)
    return sigma.view(()) if sigma.numel() == 1 else sigma.view(sigma.shape[:1] + (1,) * (ndim - 1))


class EpsSampling(DiscreteSigmas):
    """A discrete-time eps model (the SD family): the input scaled to unit variance, noise added
    to the latent (scaled by sqrt(1 + sigma^2) at the schedule's top)."""

    const = False

    def __init__(self) -> None:
        super().__init__()
        self._log_sigmas_on: dict[str, Any] = {}

    def timestep(self, sigma: Any) -> Any:
        """The nearest discrete timestep, computed on ``sigma``'s device (no copy to the CPU)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float32)
        key = str(sigma.device)
        if key not in self._log_sigmas_on:
            self._log_sigmas_on[key] = self.log_sigmas.to(sigma.device)
        dists = sigma.log() - self._log_sigmas_on[key][:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def calculate_input(self, sigma: Any, x: Any) -> Any:
        return x / (_shaped(sigma, x.ndim) ** 2 + 1.0) ** 0.5

    def noise_scaling(self, sigma: Any, noise: Any, latent: Any, max_denoise: bool = False) -> Any:
        s = _shaped(sigma, noise.ndim)
        return noise * (torch.sqrt(1.0 + s ** 2.0) if max_denoise else s) + latent

    def inverse_noise_scaling(self, sigma: Any, latent: Any) -> Any:
        return latent

    def percent_to_sigma(self, percent: float) -> float:
        """The sigma ``percent`` of the way through the model's timesteps (huge before the start)."""
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        return float(self.sigma(torch.tensor((1.0 - percent) * 999.0)))


class _Const:
    """CONST prediction of the flow models: x interpolates linearly between latent and noise."""

    const = True

    def calculate_input(self, sigma: Any, x: Any) -> Any:
        return x

    def noise_scaling(self, sigma: Any, noise: Any, latent: Any, max_denoise: bool = False) -> Any:
        s = _shaped(sigma, noise.ndim)
        return s * noise + (1.0 - s) * latent

    def inverse_noise_scaling(self, sigma: Any, latent: Any) -> Any:
        return latent / (1.0 - _shaped(sigma, latent.ndim))


class FlowSampling(_Const, DiscreteSigmas):
    """ModelSamplingDiscreteFlow: ``timesteps`` sigmas of the shifted time ``t`` in (0, 1].
    (A DiscreteSigmas for the schedules, which read only its sigmas, timestep and sigma.)"""

    def __init__(self, shift: float = 1.0, multiplier: float = 1000, timesteps: int = 1000) -> None:
        self.shift, self.multiplier = shift, multiplier
        self.sigmas = self.sigma(torch.arange(1, timesteps + 1, 1) / timesteps * multiplier)

    def timestep(self, sigma: Any) -> Any:
        return torch.as_tensor(sigma, dtype=torch.float32) * self.multiplier

    def sigma(self, timestep: Any) -> Any:
        t = torch.as_tensor(timestep) / self.multiplier
        if self.shift == 1.0:
            return t
        return self.shift * t / (1 + (self.shift - 1) * t)

    def percent_to_sigma(self, percent: float) -> float:
        if percent <= 0.0:
            return 1.0
        if percent >= 1.0:
            return 0.0
        t = 1.0 - percent
        return t if self.shift == 1.0 else self.shift * t / (1 + (self.shift - 1) * t)


class FluxSampling(_Const, DiscreteSigmas):
    """ModelSamplingFlux: Flux's time shift ``e^mu / (e^mu + 1/t - 1)`` over 10 000 steps."""

    def __init__(self, shift: float = 1.15, timesteps: int = 10000) -> None:
        self.shift = shift
        self.sigmas = self.sigma(torch.arange(1, timesteps + 1, 1) / timesteps)

    def timestep(self, sigma: Any) -> Any:
        return torch.as_tensor(sigma, dtype=torch.float32)

    def sigma(self, timestep: Any) -> Any:
        return math.exp(self.shift) / (math.exp(self.shift) + (1 / torch.as_tensor(timestep) - 1) ** 1.0)

    def percent_to_sigma(self, percent: float) -> float:
        if percent <= 0.0:
            return 1.0
        if percent >= 1.0:
            return 0.0
        return math.exp(self.shift) / (math.exp(self.shift) + (1 / (1.0 - percent) - 1) ** 1.0)


ModelSampling = EpsSampling | FlowSampling | FluxSampling
SD15 = EpsSampling()
_BY_ARCH: dict[str, ModelSampling] = {"sd3": FlowSampling(shift=3.0), "flux": FluxSampling()}


@dataclass(eq=False, repr=False)
class SampledModel(Model):
    """A MODEL whose model sampling a ModelSampling* node replaced (LoRAs after it keep it)."""

    sampling: ModelSampling | None = None

    def patched(self, patch: str) -> Model:
        return SampledModel(self.arch, self.name, (*self.patches, patch), self.sampling)


def sampling_of(model: Any) -> ModelSampling:
    """The model sampling a MODEL samples with: a node's replacement, else its architecture's."""
    own = getattr(model, "sampling", None)
    if own is not None:
        return own
    return _BY_ARCH.get(getattr(model, "arch", "sd15"), SD15)


def with_sampling(model: Model, sampling: ModelSampling) -> SampledModel:
    return SampledModel(model.arch, model.name, model.patches, sampling)


def flux_shift(max_shift: float, base_shift: float, width: int, height: int) -> float:
    """ModelSamplingFlux's shift: linear in the image's 2x2 patch count, base_shift at 256
    patches and max_shift at 4096."""
    slope = (max_shift - base_shift) / (4096 - 256)
    return (width * height / (8 * 8 * 2 * 2)) * slope + (base_shift - slope * 256)


# ---- latent formats ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LatentFormat:
    """How a VAE's latent maps into a model's space: ``(latent - shift) * scale``."""

    channels: int
    scale: float
    shift: float = 0.0

    def process_in(self, latent: Any) -> Any:
        return (latent - self.shift) * self.scale if self.shift else latent * self.scale

    def process_out(self, latent: Any) -> Any:
        return latent / self.scale + self.shift if self.shift else latent / self.scale


LATENT_FORMATS = {
    "sd15": LatentFormat(4, 0.18215),
    "sd2": LatentFormat(4, 0.18215),
    "sdxl": LatentFormat(4, 0.13025),
    "sdxl_refiner": LatentFormat(4, 0.13025),
    "sd3": LatentFormat(16, 1.5305, 0.0609),
    "flux": LatentFormat(16, 0.3611, 0.1159),
}


def latent_format(model: Any) -> LatentFormat:
    return LATENT_FORMATS.get(getattr(model, "arch", "sd15"), LATENT_FORMATS["sd15"])
