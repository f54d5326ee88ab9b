"""Multistep samplers that reuse earlier steps' derivatives: improved PNDM with fixed (ipndm) and
variable-step (ipndm_v) Adams-Bashforth weights (Zhang & Chen 2022), DEIS's time-AB weights
integrated numerically over EDM's VP time, res_multistep's second-order exponential integrator
(Zhang et al. 2023, arXiv 2308.02157), gradient estimation (Permenter & Yuan 2024) and the
ER-SDE solver (Cui et al. 2023, arXiv 2309.06169), all on an eps model (alpha = 1) as real runs
SD1.5. Every step makes one model call and one callback.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fakecomfy.executors.torch.solvers_base import (
    Callback,
    Denoiser,
    ancestral_step,
    batch_sigma,
    derivative,
    noise_sampler,
    snr_times,
    uncond_of,
)

# Adams-Bashforth weights for the newest derivative first, by order (ipndm)
_AB_WEIGHTS = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def ipndm(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, max_order: int = 4) -> Any:
    return _adams(model, x, sigmas, callback, max_order, lambda i, order: _AB_WEIGHTS[order])


def ipndm_v(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, max_order: int = 4) -> Any:
    return _adams(model, x, sigmas, callback, max_order, lambda i, order: _variable_weights(sigmas, i, order))


def _adams(model: Denoiser, x: Any, sigmas: Any, callback: Callback, max_order: int,
           weights: Any) -> Any:
    history: list[Any] = []  # earlier derivatives, newest first
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        d = derivative(x, sigma, denoised)
        if sigma_next == 0:
            x = denoised
        else:
            order = min(max_order, i + 1)
            blend = sum(w * v for w, v in zip(weights(i, order), [d, *history], strict=False))
            x = x + (sigma_next - sigma) * blend
        history = [d, *history][:max_order - 1]
    return x


def _variable_weights(sigmas: Any, i: int, order: int) -> tuple[Any, ...]:
    """The Adams-Bashforth weights for unequal steps, from the step sizes h_n (this one) back to h_n-3."""
    if order == 1:
        return (1.0,)
    h = [sigmas[i + 1] - sigmas[i], *(sigmas[i - k] - sigmas[i - k - 1] for k in range(order - 1))]
    w1 = ((2 + h[0] / h[1]) / 2, -(h[0] / h[1]) / 2)
    if order == 2:
        return w1
    t1 = (1 - h[0] / (3 * (h[0] + h[1])) * (h[0] * (h[0] + h[1])) / (h[1] * (h[1] + h[2]))) / 2
    ratio = h[1] / h[2]
    if order == 3:
        return w1[0] + t1, w1[1] - (1 + ratio) * t1, t1 * ratio
    s01, s012 = h[0] + h[1], h[0] + h[1] + h[2]
    t2 = ((1 - h[0] / (3 * s01)) / 2 + (1 - h[0] / (2 * s01)) * h[0] / (6 * s012)) \
        * (h[0] * s01 * s012) / (h[1] * (h[1] + h[2]) * (h[1] + h[2] + h[3]))
    span = h[1] * (h[1] + h[2]) / (h[2] * (h[2] + h[3]))
    return (w1[0] + t1 + t2, w1[1] - (1 + ratio) * t1 - (1 + ratio + span) * t2,
            t1 * ratio + (ratio + span * (1 + h[2] / h[3])) * t2, -t2 * span * ratio)


# ---- DEIS (time-based AB) --------------------------------------------------------------------------
def _vp_times(sigmas: Any, eps_s: float = 1e-3, sigma_min: float = 0.002, sigma_max: float = 80.0
              ) -> tuple[Any, Any, Any]:
    """EDM sigmas as VP-SDE times, with the linear-beta schedule's beta_0 and beta_1 (EDM's constants)."""
    low, high = (torch.tensor(sigma_min) ** 2 + 1).log(), (torch.tensor(sigma_max) ** 2 + 1).log()
    beta_d = 2 * (low / eps_s - high) / (eps_s - 1)
    beta_min = high - 0.5 * beta_d
    times = ((beta_min ** 2 + 2 * beta_d * (sigmas.detach().cpu() ** 2 + 1).log()).sqrt() - beta_min) / beta_d
    return times, beta_min, beta_d + beta_min


def _deis_weights(sigmas: Any, max_order: int, points: int = 10000) -> list[list[Any]]:
    """Per step, the integrals over the step of the VP exponential integrand times each earlier
    time's Lagrange basis polynomial (a Riemann sum over ``points`` nodes)."""
    times, beta_0, beta_1 = _vp_times(sigmas)
    out: list[list[Any]] = []
    for i in range(len(times) - 1):
        order = min(i + 1, max_order)
        if order == 1:
            out.append([])
            continue
        taus = torch.linspace(float(times[i]), float(times[i + 1]), points)
        dtau = (times[i + 1] - times[i]) / points
        alpha = torch.exp(-0.5 * taus ** 2 * (beta_1 - beta_0) - taus * beta_0)
        integrand = -0.5 * (-taus * (beta_1 - beta_0) - beta_0) / torch.sqrt(alpha * (1 - alpha))
        earlier = [times[i - k] for k in range(order)]
        row = []
        for j in range(order):
            basis: Any = 1
            for k in range(order):
                if k != j:
                    basis = basis * (taus - earlier[k]) / (earlier[j] - earlier[k])
            row.append(torch.sum(integrand * basis) * dtau)
        out.append(row)
    return out


def deis(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, max_order: int = 3) -> Any:
    weights = _deis_weights(sigmas, max_order)
    history: list[Any] = []
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        d = derivative(x, sigma, denoised)
        order = 1 if sigma_next <= 0 else min(max_order, i + 1)
        if order == 1:
            x = x + (sigma_next - sigma) * d
        else:
            for w, v in zip(weights[i], [d, *history], strict=False):
                x = x + w.to(x.device) * v
        history = [d, *history][:max_order - 1]
    return x


# ---- res_multistep ----------------------------------------------------------------------------------
def _t(sigma: Any) -> Any:
    return sigma.log().neg()


def res_multistep(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 0.0,
                  cfg_pp: bool = False, s_noise: float = 1.0) -> Any:
    """Euler for the first step (and a step down to 0), then the second-order exponential
    multistep step; with eta > 0 ancestral noise from seed + 1; cfg++ steps along the uncond."""
    noise = noise_sampler(x, seed)
    previous: Any = None
    previous_down: Any = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        uncond = uncond_of(model, denoised) if cfg_pp else denoised
        down, up = (sigma_next, 0.0) if not eta else ancestral_step(sigma, sigma_next, eta)
        callback(i, denoised, x)
        if down == 0 or previous is None:
            x = denoised + derivative(x, sigma, uncond) * down if cfg_pp else \
                x + derivative(x, sigma, denoised) * (down - sigma)
        else:
            h = _t(down) - _t(sigma)
            c2 = (_t(sigmas[i - 1]) - _t(previous_down)) / h
            phi1 = torch.expm1(-h) / -h
            phi2 = (phi1 - 1.0) / -h
            b1 = torch.nan_to_num(phi1 - phi2 / c2, nan=0.0)
            b2 = torch.nan_to_num(phi2 / c2, nan=0.0)
            if cfg_pp:
                x = x + (denoised - uncond)
            x = (-h).exp() * x + h * (b1 * uncond + b2 * previous)
        if sigma_next > 0 and eta:
            x = x + noise() * s_noise * up
        previous, previous_down = uncond, down
    return x


def gradient_estimation(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback,
                        gamma: float = 2.0, cfg_pp: bool = False) -> Any:
    """Euler steps corrected by (gamma - 1) times the change of the derivative since the last step."""
    previous: Any = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        d = derivative(x, sigma, uncond_of(model, denoised) if cfg_pp else denoised)
        callback(i, denoised, x)
        dt = sigma_next - sigma
        if sigma_next == 0:
            x = denoised
        else:
            x = denoised + d * sigma_next if cfg_pp else x + d * dt
            if i >= 1:
                x = x + (gamma - 1) * (d - previous) * dt
        previous = d
    return x


# ---- ER-SDE -----------------------------------------------------------------------------------------
def _er_scale(v: Any) -> Any:
    return v * ((v ** 0.3).exp() + 10.0)


def er_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, s_noise: float = 1.0,
           max_stage: int = 3, noise_scaler: Callable[[Any], Any] | None = None, points: int = 200) -> Any:
    """ER-SDE-Solver-3 with real's default noise scale (or SamplerER_SDE's); its integrals are
    Riemann sums over ``points`` nodes; ancestral-style noise from seed + 1."""
    noise = noise_sampler(x, seed)
    scale = _er_scale if noise_scaler is None else noise_scaler
    nodes = torch.arange(0, float(points), dtype=torch.float32, device=x.device)
    sigmas, half_log_snrs = snr_times(model, sigmas)
    lambdas = half_log_snrs.neg().exp()  # sigma / alpha, through the half log-SNR as real
    previous: Any = None
    previous_d: Any = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        stage = min(max_stage, i + 1)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lam_s, lam_t = lambdas[i], lambdas[i + 1]
            alpha_s, alpha_t = sigmas[i] / lam_s, sigmas[i + 1] / lam_t
            r = scale(lam_t) / scale(lam_s)
            x = (alpha_t / alpha_s) * r * x + alpha_t * (1 - r) * denoised
            if stage >= 2:
                dt = lam_t - lam_s
                step = -dt / points
                positions = lam_t + nodes * step
                scaled = scale(positions)
                d = (denoised - previous) / (lam_s - lambdas[i - 1])
                x = x + alpha_t * (dt + torch.sum(1 / scaled) * step * scale(lam_t)) * d
                if stage >= 3:
                    s_u = torch.sum((positions - lam_s) / scaled) * step
                    u = (d - previous_d) / ((lam_s - lambdas[i - 2]) / 2)
                    x = x + alpha_t * (dt ** 2 / 2 + s_u * scale(lam_t)) * u
                previous_d = d
            if s_noise > 0:
                spread = (lam_t ** 2 - lam_s ** 2 * r ** 2).sqrt().nan_to_num(nan=0.0)
                x = x + alpha_t * noise() * s_noise * spread
        previous = denoised
    return x
