"""Sampler algorithms over a denoiser ``D(x, sigma) -> denoised`` (the k-diffusion convention).

Written from the published methods: Euler and Heun steps of Karras et al. 2022 (Algorithm 2),
DPM-Solver-2 (Lu et al. 2022), DPM-Solver++(2S/2M) (Lu et al. 2022b), linear multistep, LCM
(Luo et al. 2023). The k-diffusion package (MIT) is the reference these follow; it cannot be
imported without its training dependencies (torchvision, wandb, clean-fid, ...), so the handful
of steps are written here. Where real ComfyUI differs from the papers (ancestral noise drawn
from a generator seeded with ``seed + 1`` on the CPU, one callback per step), we do as it does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Denoiser = Callable[[Any, Any], Any]  # (x [B,C,H,W], sigma [B]) -> denoised x
Callback = Callable[[int, Any, Any], None]  # (step index, denoised, x) once per step
Solver = Callable[[Denoiser, Any, Any, int, Callback], Any]


def _noise_sampler(x: Any, seed: int) -> Callable[[], Any]:
    """Fresh noise per ancestral step: as real, one generator seeded with seed + 1 on the CPU
    (the seed itself on other devices)."""
    device = x.device
    generator = torch.Generator(device=device).manual_seed(int(seed) + (1 if device.type == "cpu" else 0))
    return lambda: torch.randn(x.shape, dtype=x.dtype, device=device, generator=generator)


def _derivative(x: Any, sigma: Any, denoised: Any) -> Any:
    return (x - denoised) / sigma


def _ancestral(sigma: Any, sigma_next: Any, eta: float = 1.0) -> tuple[Any, Any]:
    """Split a step into a deterministic one down to sigma_down and fresh noise of sigma_up."""
    up = torch.minimum(sigma_next, eta * (sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2) ** 0.5)
    return (sigma_next ** 2 - up ** 2) ** 0.5, up


def _batch(x: Any, sigma: Any) -> Any:
    return sigma * x.new_ones([x.shape[0]])


def euler(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        denoised = model(x, _batch(x, sigmas[i]))
        callback(i, denoised, x)
        x = x + _derivative(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
    return x


def euler_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    noise = _noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        denoised = model(x, _batch(x, sigmas[i]))
        down, up = _ancestral(sigmas[i], sigmas[i + 1])
        callback(i, denoised, x)
        step = _derivative(x, sigmas[i], denoised) * (down - sigmas[i])
        x = denoised if down == 0 else x + step + noise() * up
    return x


def heun(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, _batch(x, sigma))
        d = _derivative(x, sigma, denoised)
        callback(i, denoised, x)
        dt = sigma_next - sigma
        if sigma_next == 0:
            x = x + d * dt
            continue
        guess = x + d * dt
        d_next = _derivative(guess, sigma_next, model(guess, _batch(x, sigma_next)))
        x = x + (d + d_next) / 2 * dt
    return x


def _dpm2_step(model: Denoiser, x: Any, sigma: Any, target: Any, d: Any) -> Any:
    """A midpoint step in log sigma from sigma to target."""
    mid = sigma.log().lerp(target.log(), 0.5).exp()
    half = x + d * (mid - sigma)
    return x + _derivative(half, mid, model(half, _batch(x, mid))) * (target - sigma)


def dpm_2(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, _batch(x, sigma))
        d = _derivative(x, sigma, denoised)
        callback(i, denoised, x)
        x = x + d * (sigma_next - sigma) if sigma_next == 0 else _dpm2_step(model, x, sigma, sigma_next, d)
    return x


def dpm_2_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    noise = _noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, _batch(x, sigma))
        down, up = _ancestral(sigma, sigmas[i + 1])
        callback(i, denoised, x)
        d = _derivative(x, sigma, denoised)
        x = x + d * (down - sigma) if down == 0 else _dpm2_step(model, x, sigma, down, d) + noise() * up
    return x


def _lms_coefficient(sigmas: np.ndarray, i: int, order: int, j: int) -> float:
    """The integral over [sigma_i, sigma_i+1] of the Lagrange basis polynomial of the j-th
    previous derivative (exact: Gauss-Legendre with enough nodes for its degree)."""
    nodes, weights = np.polynomial.legendre.leggauss(max(2, order))
    a, b = float(sigmas[i]), float(sigmas[i + 1])
    tau = (b - a) / 2 * nodes + (a + b) / 2
    basis = np.ones_like(tau)
    for k in range(order):
        if k != j:
            basis *= (tau - sigmas[i - k]) / (sigmas[i - j] - sigmas[i - k])
    return float((b - a) / 2 * np.sum(weights * basis))


def lms(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, order: int = 4) -> Any:
    points = sigmas.detach().cpu().double().numpy()
    history: list[Any] = []
    for i in range(len(sigmas) - 1):
        denoised = model(x, _batch(x, sigmas[i]))
        history = [*history[-(order - 1):], _derivative(x, sigmas[i], denoised)]
        callback(i, denoised, x)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        current = min(i + 1, order)
        for j, d in enumerate(reversed(history[-current:])):
            x = x + _lms_coefficient(points, i, current, j) * d
    return x


def _t(sigma: Any) -> Any:
    return sigma.log().neg()


def dpmpp_2m(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    previous = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, _batch(x, sigma))
        callback(i, denoised, x)
        h = _t(sigma_next) - _t(sigma)
        estimate = denoised
        if previous is not None and sigma_next != 0:
            r = (_t(sigma) - _t(sigmas[i - 1])) / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        x = (sigma_next / sigma) * x - (-h).expm1() * estimate
        previous = denoised
    return x


def dpmpp_2s_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    noise = _noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, _batch(x, sigma))
        down, up = _ancestral(sigma, sigmas[i + 1])
        callback(i, denoised, x)
        if down == 0:
            x = x + _derivative(x, sigma, denoised) * (down - sigma)
        else:
            h = _t(down) - _t(sigma)
            mid = (-(_t(sigma) + h / 2)).exp()
            half = (mid / sigma) * x - (-h / 2).expm1() * denoised
            x = (down / sigma) * x - (-h).expm1() * model(half, _batch(x, mid))
        if sigmas[i + 1] > 0:
            x = x + noise() * up
    return x


def lcm(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    noise = _noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        denoised = model(x, _batch(x, sigmas[i]))
        callback(i, denoised, x)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + noise() * sigmas[i + 1]
    return x


SOLVERS: dict[str, Solver] = {
    "euler": euler,
    "euler_ancestral": euler_ancestral,
    "heun": heun,
    "dpm_2": dpm_2,
    "dpm_2_ancestral": dpm_2_ancestral,
    "lms": lms,
    "dpmpp_2m": dpmpp_2m,
    "dpmpp_2s_ancestral": dpmpp_2s_ancestral,
    "lcm": lcm,
    "ddim": euler,  # real runs euler for ddim (with its own inpaint noise, see sampler_nodes)
}


def solver(name: str) -> tuple[Solver, bool]:
    """The algorithm for a sampler name and whether it is exactly real's; names we do not
    implement yet run euler (same step and callback count as every first-order sampler)."""
    if name in SOLVERS:
        return SOLVERS[name], True
    return euler, False
