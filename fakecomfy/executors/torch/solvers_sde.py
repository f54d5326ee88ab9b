"""The SDE samplers (DPM-Solver++ SDE, 2M SDE, 3M SDE): their noise comes from a torchsde
Brownian tree over [smallest positive sigma, largest sigma] seeded with the seed, as real's.
They step in the model's half log-SNR (a flow model's ``log((1 - sigma) / sigma)``, its first
sigma moved off 1 after the tree is built, as real does)."""
from __future__ import annotations

import warnings
from typing import Any

import torch
import torchsde

from fakecomfy.executors.torch.solvers_base import (
    Callback,
    Denoiser,
    ancestral_step,
    batch_sigma,
    half_log_snr,
    is_flow,
    offset_first_sigma,
    snr_sigma,
)


class BrownianNoise:
    """Unit-variance increments of one Brownian motion over the schedule's sigmas (torchsde's
    BrownianTree with ``entropy=seed``), queried per step as real does, so any step order
    gives the same noise. ``cpu`` keeps the tree on the CPU (real's default; its _gpu samplers
    build it on the latent's device)."""

    def __init__(self, x: Any, sigmas: Any, seed: int | None, cpu: bool = True) -> None:
        self.cpu = cpu
        low, high = sigmas[sigmas > 0].min(), sigmas.max()
        w0 = torch.zeros_like(x)
        if cpu:
            low, high, w0 = low.detach().cpu(), high.detach().cpu(), w0.detach().cpu()
        entropy = int(torch.randint(0, 2 ** 63 - 1, ()).item()) if seed is None else int(seed)
        self.tree = torchsde.BrownianTree(low, w0, high, entropy=entropy)

    def __call__(self, sigma: Any, sigma_next: Any) -> Any:
        a, b = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        low, high, sign = (a, b, 1) if a < b else (b, a, -1)
        device, dtype = low.device, low.dtype
        if self.cpu:
            low, high = low.detach().cpu().float(), high.detach().cpu().float()
        with warnings.catch_warnings():
            # torchsde warns when float32 rounding puts the top sigma a hair past the tree's end
            warnings.filterwarnings("ignore", message="Should have t", category=UserWarning)
            w = self.tree(low, high).to(device=device, dtype=dtype) * sign
        return w / (b - a).abs().sqrt()


def dpmpp_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
              eta: float = 1.0, r: float = 0.5, s_noise: float = 1.0) -> Any:
    """DPM-Solver++ (stochastic): two model calls per step but the last, one callback per step."""
    if len(sigmas) <= 1:
        return x
    noise = BrownianNoise(x, sigmas, seed, cpu)
    flow = is_flow(model)
    sigmas = offset_first_sigma(model, sigmas)
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        x = denoised if sigmas[i + 1] == 0 else _sde_step(model, x, sigmas[i], sigmas[i + 1], denoised, noise, eta, r,
                                                                s_noise, flow)
    return x


def _sde_step(model: Denoiser, x: Any, sigma: Any, sigma_next: Any, denoised: Any, noise: BrownianNoise,
              eta: float, r: float, s_noise: float, flow: bool) -> Any:
    """One DPM-Solver++ SDE step: an ancestral half step to the point r of the way in log-SNR,
    a second model call there, and the ancestral full step with the blended prediction."""
    fac = 1 / (2 * r)
    lambda_s, lambda_t = half_log_snr(sigma, flow), half_log_snr(sigma_next, flow)
    h = lambda_t - lambda_s
    lambda_mid = lambda_s + r * h
    sigma_mid = snr_sigma(lambda_mid, flow)
    alpha_s, alpha_mid, alpha_t = sigma * lambda_s.exp(), sigma_mid * lambda_mid.exp(), sigma_next * lambda_t.exp()
    down, up = ancestral_step(lambda_s.neg().exp(), lambda_mid.neg().exp(), eta)
    h_ = down.log().neg() - lambda_s
    x_mid = (alpha_mid / alpha_s) * (-h_).exp() * x - alpha_mid * (-h_).expm1() * denoised
    x_mid = x_mid + alpha_mid * noise(sigma, sigma_mid) * s_noise * up
    denoised_mid = model(x_mid, batch_sigma(x, sigma_mid))
    down, up = ancestral_step(lambda_s.neg().exp(), lambda_t.neg().exp(), eta)
    h_ = down.log().neg() - lambda_s
    estimate = (1 - fac) * denoised + fac * denoised_mid
    x = (alpha_t / alpha_s) * (-h_).exp() * x - alpha_t * (-h_).expm1() * estimate
    return x + alpha_t * noise(sigma, sigma_next) * s_noise * up


def dpmpp_2m_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
                 heun: bool = False, eta: float = 1.0, s_noise: float = 1.0) -> Any:
    """DPM-Solver++(2M) SDE with the midpoint (real's default) or Heun correction."""
    return _multistep_sde(model, x, sigmas, seed, callback, cpu, eta, order=2, heun=heun, s_noise=s_noise)


def dpmpp_3m_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
                 eta: float = 1.0, s_noise: float = 1.0) -> Any:
    return _multistep_sde(model, x, sigmas, seed, callback, cpu, eta, order=3, s_noise=s_noise)


def _multistep_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool, eta: float,
                   order: int, heun: bool = False, s_noise: float = 1.0) -> Any:
    if len(sigmas) <= 1:
        return x
    noise = BrownianNoise(x, sigmas, seed, cpu)
    flow = is_flow(model)
    sigmas = offset_first_sigma(model, sigmas)
    previous: list[Any] = []  # the last denoised values, newest first
    steps: list[Any] = []  # the last step sizes h, newest first
    h: Any = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        if sigma_next == 0:
            x = denoised
        else:
            lambda_t = half_log_snr(sigma_next, flow)
            h = lambda_t - half_log_snr(sigma, flow)
            h_eta = h * (eta + 1)
            alpha_t = sigma_next * lambda_t.exp()
            x = sigma_next / sigma * (-h * eta).exp() * x + alpha_t * (-h_eta).expm1().neg() * denoised
            x = x + _multistep_correction(denoised, previous, steps, h, h_eta, alpha_t, order, heun)
            x = x + noise(sigma, sigma_next) * sigma_next * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        previous = [denoised, *previous][:2]
        steps = [h, *steps][:2]  # real keeps the last h, also across a final denoising step
    return x


def _multistep_correction(denoised: Any, previous: list[Any], steps: list[Any], h: Any, h_eta: Any,
                          alpha_t: Any, order: int, heun: bool) -> Any:
    if order == 2:
        if not previous:
            return 0
        r = steps[0] / h
        if heun:
            return alpha_t * ((-h_eta).expm1().neg() / (-h_eta) + 1) * (1 / r) * (denoised - previous[0])
        return 0.5 * alpha_t * (-h_eta).expm1().neg() * (1 / r) * (denoised - previous[0])
    phi_2 = h_eta.neg().expm1() / h_eta + 1
    if len(steps) == 2 and steps[1] is not None:
        r0, r1 = steps[0] / h, steps[1] / h
        d1_0 = (denoised - previous[0]) / r0
        d1_1 = (previous[0] - previous[1]) / r1
        d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        phi_3 = phi_2 / h_eta - 0.5
        return (alpha_t * phi_2) * d1 - (alpha_t * phi_3) * d2
    if steps and steps[0] is not None:
        return (alpha_t * phi_2) * ((denoised - previous[0]) / (steps[0] / h))
    return 0
