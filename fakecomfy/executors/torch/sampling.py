"""ComfyUI's sampling facts on torch: the initial noise of a seed, SD1.5's discrete sigmas and
the sigma schedules KSampler picks by name.

The sampler algorithms themselves live in :mod:`.solvers`. Every number here is checked
against values recorded from real ComfyUI (tests/torch/data/sampling_facts.json), and so is
every sampler of real's KSAMPLER_NAMES.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

SCHEDULERS = ("simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
              "linear_quadratic", "kl_optimal")
# Samplers that ComfyUI gives one step more and then drops the next-to-last sigma.
DISCARD_PENULTIMATE = frozenset(("dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"))


# ---- initial noise ------------------------------------------------------------------------
def prepare_noise(shape: Sequence[int], seed: int, batch_index: Sequence[int] | None = None) -> Any:
    """The noise real ComfyUI draws for a latent of ``shape``: one CPU generator seeded with the
    seed; with a batch_index, one draw per index up to the largest, each item taking its own."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    if batch_index is None:
        return torch.randn(list(shape), generator=generator, dtype=torch.float32)
    one = [1, *shape[1:]]
    draws = [torch.randn(one, generator=generator, dtype=torch.float32) for _ in range(max(batch_index) + 1)]
    return torch.cat([draws[i] for i in batch_index], dim=0)


# ---- the model's discrete sigmas (SD1.5: linear betas 0.00085..0.012 over 1000 steps) ----------
class DiscreteSigmas:
    """Sigmas of a discrete-time eps model and the timestep <-> sigma mapping ComfyUI uses."""

    def __init__(self, linear_start: float = 0.00085, linear_end: float = 0.012, timesteps: int = 1000) -> None:
        betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, timesteps, dtype=torch.float64) ** 2
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def timestep(self, sigma: Any) -> Any:
        """The nearest discrete timestep in log sigma."""
        sigma = torch.as_tensor(sigma, dtype=torch.float32)
        dists = sigma.log() - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def sigma(self, timestep: Any) -> Any:
        """Log-linear interpolation between the discrete sigmas."""
        t = torch.clamp(torch.as_tensor(timestep).float(), min=0, max=len(self.sigmas) - 1)
        low, high = t.floor().long(), t.ceil().long()
        w = t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()


SD15 = DiscreteSigmas()


# ---- schedules -----------------------------------------------------------------------------
def _tensor(values: Sequence[float]) -> Any:
    return torch.tensor(list(values), dtype=torch.float32)


def _simple(ms: DiscreteSigmas, steps: int) -> Any:
    stride = len(ms.sigmas) / steps
    return _tensor([float(ms.sigmas[-(1 + int(x * stride))]) for x in range(steps)] + [0.0])


def _ddim_uniform(ms: DiscreteSigmas, steps: int) -> Any:
    sigmas: list[float] = [0.0]
    if math.isclose(float(ms.sigmas[1]), 0, abs_tol=1e-5):
        steps, sigmas = steps + 1, []
    stride = max(len(ms.sigmas) // steps, 1)
    sigmas += [float(ms.sigmas[x]) for x in range(1, len(ms.sigmas), stride)]
    return _tensor(sigmas[::-1])


def _normal(ms: DiscreteSigmas, steps: int, sgm: bool = False) -> Any:
    start = ms.timestep(ms.sigma_max)
    end = ms.timestep(ms.sigma_min)
    append_zero = True
    if sgm:
        timesteps = torch.linspace(float(start), float(end), steps + 1)[:-1]
    else:
        if math.isclose(float(ms.sigma(end)), 0, abs_tol=1e-5):
            steps, append_zero = steps + 1, False
        timesteps = torch.linspace(float(start), float(end), steps)
    sigmas = [float(ms.sigma(t)) for t in timesteps]
    return _tensor([*sigmas, 0.0] if append_zero else sigmas)


def _karras(ms: DiscreteSigmas, steps: int, rho: float = 7.0) -> Any:
    ramp = torch.linspace(0, 1, steps)
    low, high = ms.sigma_min ** (1 / rho), ms.sigma_max ** (1 / rho)
    return _append_zero((high + ramp * (low - high)) ** rho)


def _exponential(ms: DiscreteSigmas, steps: int) -> Any:
    return _append_zero(torch.linspace(math.log(ms.sigma_max), math.log(ms.sigma_min), steps).exp())


def _beta(ms: DiscreteSigmas, steps: int, alpha: float = 0.6, beta: float = 0.6) -> Any:
    """Timesteps at quantiles of a Beta(0.6, 0.6), rounded to the model's discrete steps
    (arXiv 2407.12173); repeated timesteps appear once."""
    last = len(ms.sigmas) - 1
    quantiles = 1 - np.linspace(0, 1, steps, endpoint=False)
    timesteps = np.rint(np.array([beta_ppf(float(q), alpha, beta) for q in quantiles]) * last)
    sigmas: list[float] = []
    previous = -1.0
    for t in timesteps:
        if t != previous:
            sigmas.append(float(ms.sigmas[int(t)]))
        previous = t
    return _tensor([*sigmas, 0.0])


def _linear_quadratic(ms: DiscreteSigmas, steps: int, threshold: float = 0.025) -> Any:
    """Linear for the first half of the steps, then quadratic to 1 (the Mochi schedule)."""
    if steps == 1:
        schedule = [1.0, 0.0]
    else:
        linear = steps // 2
        quadratic = steps - linear
        diff = linear - threshold * steps
        a = diff / (linear * quadratic ** 2)
        b = threshold / linear - 2 * diff / quadratic ** 2
        c = a * linear ** 2
        ramp = [i * threshold / linear for i in range(linear)]
        ramp += [a * i ** 2 + b * i + c for i in range(linear, steps)]
        schedule = [1.0 - x for x in [*ramp, 1.0]]
    return _tensor(schedule) * ms.sigmas[-1]


def _kl_optimal(ms: DiscreteSigmas, steps: int) -> Any:
    share = torch.arange(steps, dtype=torch.float32).div_(steps - 1)
    sigmas = share.new_zeros(steps + 1)
    sigmas[:-1] = (share * math.atan(ms.sigma_min) + (1 - share) * math.atan(ms.sigma_max)).tan_()
    return sigmas


def _append_zero(x: Any) -> Any:
    return torch.cat([x, x.new_zeros([1])])


_SCHEDULES: dict[str, Callable[[DiscreteSigmas, int], Any]] = {
    "simple": _simple,
    "sgm_uniform": lambda ms, steps: _normal(ms, steps, sgm=True),
    "karras": _karras,
    "exponential": _exponential,
    "ddim_uniform": _ddim_uniform,
    "beta": _beta,
    "normal": _normal,
    "linear_quadratic": _linear_quadratic,
    "kl_optimal": _kl_optimal,
}


def schedule(scheduler: str, steps: int, ms: DiscreteSigmas = SD15) -> Any:
    """``steps + 1`` sigmas from high to 0 for a scheduler name."""
    if scheduler not in _SCHEDULES:
        raise ValueError(f"error invalid scheduler {scheduler}")
    return _SCHEDULES[scheduler](ms, steps)


def ksampler_sigmas(scheduler: str, sampler: str, steps: int, denoise: float = 1.0,
                    ms: DiscreteSigmas = SD15) -> Any:
    """The sigmas KSampler runs: a denoise below 1 takes the tail of a longer schedule."""
    def full(n: int) -> Any:
        if sampler not in DISCARD_PENULTIMATE:
            return schedule(scheduler, n, ms)
        sigmas = schedule(scheduler, n + 1, ms)
        return torch.cat([sigmas[:-2], sigmas[-1:]])

    if denoise > 0.9999:
        return full(steps)
    if denoise <= 0.0:
        return torch.zeros((0,), dtype=torch.float32)
    return full(int(steps / denoise))[-(steps + 1):]


def step_window(sigmas: Any, start_step: int | None, last_step: int | None, force_full_denoise: bool) -> Any | None:
    """KSamplerAdvanced's start/end steps; None when the window starts past the schedule's end
    (real then returns the latent unchanged)."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return None
        sigmas = sigmas[start_step:]
    return sigmas


# ---- the Beta distribution's quantile (no scipy needed) ----------------------------------------
def beta_ppf(q: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = q, by bisection on the regularised incomplete beta function."""
    if q <= 0.0:
        return 0.0
    if q >= 1.0:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(100):
        mid = (low + high) / 2
        if _incomplete_beta(mid, a, b) < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) through its continued fraction (modified Lentz), using the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(1.0 - x, b, a)
    log_front = a * math.log(x) + b * math.log1p(-x) - math.log(a) - _log_beta(a, b)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * result


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
