"""SEEDS-2 and SEEDS-3 (Gonzalez et al. 2023, arXiv 2305.14267): stochastic explicit exponential
solvers in data prediction and half log-SNR time, two or three model calls per step but the
last (which lands on the prediction). exp_heun_2_x0 is SEEDS-2 with its stage at the step's end
(r = 1) and the phi_2 weights, without noise; exp_heun_2_x0_sde the same with noise.

The noise is ancestral noise (real's default noise sampler, seed + 1 on the CPU), one draw per
stage while eta and s_noise are both positive; each stage's noise carries over, decayed, into
the next, so a step's noise is one Brownian path through its stages.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fakecomfy.executors.torch.solvers_base import (
    Callback,
    Denoiser,
    batch_sigma,
    half_log_snr,
    is_flow,
    noise_sampler,
    offset_first_sigma,
    snr_sigma,
)


def _phi_1(h: Any) -> Any:
    """h * phi_1(h) of the exponential integrators."""
    return h.expm1()


def _phi_2(h: Any) -> Any:
    """h * phi_2(h) of the exponential integrators."""
    return (h.expm1() - h) / h


def _carry(noise: Any, decay: Any, draw: Callable[[], Any]) -> Any:
    """The stage's noise: the last stage's decayed by exp(decay), topped up with a fresh draw."""
    return noise * decay.exp() + (decay * 2).expm1().neg().sqrt() * draw()


class _Step:
    """One step from sigma to sigma_next in the model's half log-SNR lambda (-log sigma, or a
    flow model's log((1 - sigma) / sigma)), stage by stage, with the noise its stages carry."""

    def __init__(self, sigma: Any, sigma_next: Any, eta: float, s_noise: float,
                 draw: Callable[[], Any] | None, flow: bool = False) -> None:
        self.sigma, self.sigma_next, self.eta, self.s_noise, self.draw = sigma, sigma_next, eta, s_noise, draw
        self.flow = flow
        self.lambda_s, self.lambda_t = half_log_snr(sigma, flow), half_log_snr(sigma_next, flow)
        self.h = self.lambda_t - self.lambda_s
        self.h_eta = self.h * (eta + 1)
        self.alpha_t = sigma_next * self.lambda_t.exp()
        self.noise: Any = 0.0
        self.reached = 0.0  # how far (r) the last stage went

    def point(self, r: float) -> tuple[Any, Any]:
        """The sigma r of the way in lambda, and its alpha (1 for an eps model, up to rounding)."""
        lam = torch.lerp(self.lambda_s, self.lambda_t, r)
        sigma = snr_sigma(lam, self.flow)
        return sigma, sigma * lam.exp()

    def stage(self, x: Any, r: float, sigma_r: Any, pull: Any) -> Any:
        """The step's x carried r of the way to sigma_r, less ``pull`` (alpha times the stage's
        weighted predictions), with the stage's noise when the step is noisy."""
        out = sigma_r / self.sigma * (-r * self.h * self.eta).exp() * x - pull
        if self.draw is not None:  # the first stage's noise is all fresh (0 carried)
            self.noise = _carry(self.noise, (self.reached - r) * self.h * self.eta, self.draw)
            out = out + self.noise * sigma_r * self.s_noise
        self.reached = r
        return out


Advance = Callable[[Denoiser, _Step, Any, Any], Any]  # (model, step, x, denoised) -> x at sigma_next


def _run(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float, s_noise: float,
         advance: Advance) -> Any:
    draw = noise_sampler(x, seed)
    noisy = eta > 0 and s_noise > 0
    flow = is_flow(model)
    sigmas = offset_first_sigma(model, sigmas)
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        x = advance(model, _Step(sigmas[i], sigmas[i + 1], eta, s_noise, draw if noisy else None, flow), x, denoised)
    return x


def seeds_2(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
            s_noise: float = 1.0, r: float = 0.5, solver_type: str = "phi_1") -> Any:
    if solver_type not in ("phi_1", "phi_2"):
        raise ValueError("solver_type must be 'phi_1' or 'phi_2'")

    def advance(model: Denoiser, step: _Step, x: Any, denoised: Any) -> Any:
        sigma_1, alpha_1 = step.point(r)
        x_1 = step.stage(x, r, sigma_1, alpha_1 * _phi_1(-r * step.h_eta) * denoised)
        denoised_1 = model(x_1, batch_sigma(x, sigma_1))
        if solver_type == "phi_1":
            pull = step.alpha_t * _phi_1(-step.h_eta) * torch.lerp(denoised, denoised_1, 1 / (2 * r))
        else:
            b2 = _phi_2(-step.h_eta) / r
            pull = step.alpha_t * ((_phi_1(-step.h_eta) - b2) * denoised + b2 * denoised_1)
        return step.stage(x, 1, step.sigma_next, pull)

    return _run(model, x, sigmas, seed, callback, eta, s_noise, advance)


def exp_heun_2_x0(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback,
                  solver_type: str = "phi_2") -> Any:
    return seeds_2(model, x, sigmas, seed, callback, eta=0.0, s_noise=0.0, r=1.0, solver_type=solver_type)


def exp_heun_2_x0_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                      s_noise: float = 1.0, solver_type: str = "phi_2") -> Any:
    return seeds_2(model, x, sigmas, seed, callback, eta=eta, s_noise=s_noise, r=1.0, solver_type=solver_type)


def seeds_3(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
            s_noise: float = 1.0, r_1: float = 1 / 3, r_2: float = 2 / 3) -> Any:
    def advance(model: Denoiser, step: _Step, x: Any, denoised: Any) -> Any:
        h_eta = step.h_eta
        (sigma_1, alpha_1), (sigma_2, alpha_2) = step.point(r_1), step.point(r_2)
        x_1 = step.stage(x, r_1, sigma_1, alpha_1 * _phi_1(-r_1 * h_eta) * denoised)
        denoised_1 = model(x_1, batch_sigma(x, sigma_1))
        a2 = r_2 / r_1 * _phi_2(-r_2 * h_eta)
        x_2 = step.stage(x, r_2, sigma_2, alpha_2 * ((_phi_1(-r_2 * h_eta) - a2) * denoised + a2 * denoised_1))
        denoised_2 = model(x_2, batch_sigma(x, sigma_2))
        b3 = _phi_2(-h_eta) / r_2
        return step.stage(x, 1, step.sigma_next, step.alpha_t * ((_phi_1(-h_eta) - b3) * denoised + b3 * denoised_2))

    return _run(model, x, sigmas, seed, callback, eta, s_noise, advance)
