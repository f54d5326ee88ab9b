"""Sampler algorithms over a denoiser ``D(x, sigma) -> denoised`` (the k-diffusion convention).

Written from the published methods: Euler and Heun steps of Karras et al. 2022 (Algorithm 2),
DPM-Solver-2 (Lu et al. 2022), DPM-Solver++(2S/2M/SDE/2M SDE) (Lu et al. 2022b), the 3M SDE
variant of k-diffusion, linear multistep, LCM (Luo et al. 2023) and UniPC's B(h) predictor-
corrector (Zhao et al. 2023); the cfg++, multistep (ipndm, DEIS, res_multistep,
gradient estimation, ER-SDE), DPM-Solver fast / adaptive, SEEDS and SA-Solver samplers live in
their own modules. The SDE samplers draw their
noise from a torchsde Brownian tree over [smallest positive sigma, largest sigma] seeded with
the seed, as real does.
The k-diffusion package (MIT) is the reference these follow; it cannot be
imported without its training dependencies (torchvision, wandb, clean-fid, ...), so the handful
of steps are written here. Where real ComfyUI differs from the papers (ancestral noise drawn
from a generator seeded with ``seed + 1`` on the CPU, one callback per step), we do as it does.
On flow (CONST) models the ancestral samplers take real's rectified-flow forms (solvers_flow)
and the half log-SNR samplers the flow model's log((1 - sigma) / sigma), as real's do.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fakecomfy.executors.torch.solvers_base import (
    Callback,
    Denoiser,
    Solver,
    ancestral_step,
    batch_sigma,
    derivative,
    is_flow,
    noise_sampler,
    sampling_of,
)
from fakecomfy.executors.torch.solvers_cfg_pp import (
    dpmpp_2m_cfg_pp,
    dpmpp_2s_ancestral_cfg_pp,
    euler_ancestral_cfg_pp,
    euler_cfg_pp,
    euler_pp,
)
from fakecomfy.executors.torch.solvers_dpm import dpm_adaptive, dpm_fast
from fakecomfy.executors.torch.solvers_flow import dpm_2_ancestral_rf, dpmpp_2s_ancestral_rf, euler_ancestral_rf
from fakecomfy.executors.torch.solvers_multistep import deis, er_sde, gradient_estimation, ipndm, ipndm_v, res_multistep
from fakecomfy.executors.torch.solvers_sa import sa_solver, sa_solver_pece
from fakecomfy.executors.torch.solvers_sde import dpmpp_2m_sde, dpmpp_3m_sde, dpmpp_sde
from fakecomfy.executors.torch.solvers_seeds import exp_heun_2_x0, exp_heun_2_x0_sde, seeds_2, seeds_3
from fakecomfy.executors.torch.solvers_unipc import uni_pc, uni_pc_bh2
from fakecomfy.executors.torch.solvers_upscale import lcm_upscale

__all__ = ["NODE_SOLVERS", "SOLVERS", "Callback", "Denoiser", "Solver", "configured", "ddpm",
           "dpm_2", "dpm_2_ancestral", "dpmpp_2m", "dpmpp_2s_ancestral", "euler", "euler_ancestral", "heun",
           "heunpp2", "lcm", "lms", "solver"]


def euler(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        x = x + derivative(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
    return x


def euler_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                    s_noise: float = 1.0) -> Any:
    if is_flow(model):  # real's rectified-flow form on flow models, as for the two below
        return euler_ancestral_rf(model, x, sigmas, seed, callback, eta, s_noise)
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        down, up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        callback(i, denoised, x)
        step = derivative(x, sigmas[i], denoised) * (down - sigmas[i])
        x = denoised if down == 0 else x + step + noise() * s_noise * up
    return x


def heun(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        d = derivative(x, sigma, denoised)
        callback(i, denoised, x)
        dt = sigma_next - sigma
        if sigma_next == 0:
            x = x + d * dt
            continue
        guess = x + d * dt
        d_next = derivative(guess, sigma_next, model(guess, batch_sigma(x, sigma_next)))
        x = x + (d + d_next) / 2 * dt
    return x


def heunpp2(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    """Heun++: Euler for the last step, Heun with weights by sigma for the one before, and a
    three-point blend of derivatives (up to three model calls) before that."""
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        slope = _heunpp2_slope(model, x, derivative(x, sigmas[i], denoised), sigmas, i)
        x = x + slope * (sigmas[i + 1] - sigmas[i])
    return x


def _heunpp2_slope(model: Denoiser, x: Any, d: Any, sigmas: Any, i: int) -> Any:
    end, dt = sigmas[-1], sigmas[i + 1] - sigmas[i]
    if sigmas[i + 1] == end:
        return d
    points = [(x, d)]  # Euler guesses at the next one or two sigmas, with their derivatives
    for k in (1, 2) if sigmas[i + 2] != end else (1,):
        guess = points[-1][0] + points[-1][1] * (dt if k == 1 else sigmas[i + 2] - sigmas[i + 1])
        points.append((guess, derivative(guess, sigmas[i + k], model(guess, batch_sigma(x, sigmas[i + k])))))
    if len(points) == 2:
        w2 = sigmas[i + 1] / (2 * sigmas[0])
        return d * (1 - w2) + points[1][1] * w2
    w = 3 * sigmas[0]
    w2, w3 = sigmas[i + 1] / w, sigmas[i + 2] / w
    return (1 - w2 - w3) * d + w2 * points[1][1] + w3 * points[2][1]


def ddpm(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    """DDPM's ancestral step on the variance-preserving latent, noise from seed + 1."""
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        eps = (x - denoised) / sigma
        vp = x / torch.sqrt(1.0 + sigma ** 2.0)
        cumprod, cumprod_next = 1 / (sigma * sigma + 1), 1 / (sigma_next * sigma_next + 1)
        alpha = cumprod / cumprod_next
        x = (1.0 / alpha).sqrt() * (vp - (1 - alpha) * eps / (1 - cumprod).sqrt())
        if sigma_next > 0:
            x = x + ((1 - alpha) * (1.0 - cumprod_next) / (1.0 - cumprod)).sqrt() * noise()
            x = x * torch.sqrt(1.0 + sigma_next ** 2.0)
    return x


def _dpm2_step(model: Denoiser, x: Any, sigma: Any, target: Any, d: Any) -> Any:
    """A midpoint step in log sigma from sigma to target."""
    mid = sigma.log().lerp(target.log(), 0.5).exp()
    half = x + d * (mid - sigma)
    return x + derivative(half, mid, model(half, batch_sigma(x, mid))) * (target - sigma)


def dpm_2(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        d = derivative(x, sigma, denoised)
        callback(i, denoised, x)
        x = x + d * (sigma_next - sigma) if sigma_next == 0 else _dpm2_step(model, x, sigma, sigma_next, d)
    return x


def dpm_2_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    if is_flow(model):
        return dpm_2_ancestral_rf(model, x, sigmas, seed, callback)
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, batch_sigma(x, sigma))
        down, up = ancestral_step(sigma, sigmas[i + 1])
        callback(i, denoised, x)
        d = derivative(x, sigma, denoised)
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
        denoised = model(x, batch_sigma(x, sigmas[i]))
        history = [*history[-(order - 1):], derivative(x, sigmas[i], denoised)]
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
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        h = _t(sigma_next) - _t(sigma)
        estimate = denoised
        if previous is not None and sigma_next != 0:
            r = (_t(sigma) - _t(sigmas[i - 1])) / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        x = (sigma_next / sigma) * x - (-h).expm1() * estimate
        previous = denoised
    return x


def dpmpp_2s_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                       s_noise: float = 1.0) -> Any:
    if is_flow(model):
        return dpmpp_2s_ancestral_rf(model, x, sigmas, seed, callback, eta, s_noise)
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, batch_sigma(x, sigma))
        down, up = ancestral_step(sigma, sigmas[i + 1], eta)
        callback(i, denoised, x)
        if down == 0:
            x = x + derivative(x, sigma, denoised) * (down - sigma)
        else:
            h = _t(down) - _t(sigma)
            mid = (-(_t(sigma) + h / 2)).exp()
            half = (mid / sigma) * x - (-h / 2).expm1() * denoised
            x = (down / sigma) * x - (-h).expm1() * model(half, batch_sigma(x, mid))
        if sigmas[i + 1] > 0:
            x = x + noise() * s_noise * up
    return x


def lcm(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    """Each step lands on the prediction, re-noised to the next sigma by the model's own noise
    scaling (a flow model's blends noise and prediction)."""
    noise = noise_sampler(x, seed)
    ms = sampling_of(model)
    for i in range(len(sigmas) - 1):
        denoised = model(x, batch_sigma(x, sigmas[i]))
        callback(i, denoised, x)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + noise() * sigmas[i + 1] if ms is None else ms.noise_scaling(sigmas[i + 1], noise(), x)
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
    "dpmpp_sde": dpmpp_sde,
    "dpmpp_sde_gpu": lambda m, x, s, seed, cb: dpmpp_sde(m, x, s, seed, cb, cpu=False),
    "dpmpp_2m_sde": dpmpp_2m_sde,
    "dpmpp_2m_sde_gpu": lambda m, x, s, seed, cb: dpmpp_2m_sde(m, x, s, seed, cb, cpu=False),
    "dpmpp_2m_sde_heun": lambda m, x, s, seed, cb: dpmpp_2m_sde(m, x, s, seed, cb, heun=True),
    "dpmpp_2m_sde_heun_gpu": lambda m, x, s, seed, cb: dpmpp_2m_sde(m, x, s, seed, cb, cpu=False, heun=True),
    "dpmpp_3m_sde": dpmpp_3m_sde,
    "dpmpp_3m_sde_gpu": lambda m, x, s, seed, cb: dpmpp_3m_sde(m, x, s, seed, cb, cpu=False),
    "uni_pc": uni_pc,
    "uni_pc_bh2": uni_pc_bh2,
    "euler_cfg_pp": euler_cfg_pp,
    "euler_ancestral_cfg_pp": euler_ancestral_cfg_pp,
    "dpmpp_2m_cfg_pp": dpmpp_2m_cfg_pp,
    "dpmpp_2s_ancestral_cfg_pp": dpmpp_2s_ancestral_cfg_pp,
    "ipndm": ipndm,
    "ipndm_v": ipndm_v,
    "deis": deis,
    "res_multistep": res_multistep,
    "res_multistep_cfg_pp": lambda m, x, s, seed, cb: res_multistep(m, x, s, seed, cb, cfg_pp=True),
    "res_multistep_ancestral": lambda m, x, s, seed, cb: res_multistep(m, x, s, seed, cb, eta=1.0),
    "res_multistep_ancestral_cfg_pp": lambda m, x, s, seed, cb: res_multistep(m, x, s, seed, cb, eta=1.0, cfg_pp=True),
    "gradient_estimation": gradient_estimation,
    "gradient_estimation_cfg_pp": lambda m, x, s, seed, cb: gradient_estimation(m, x, s, seed, cb, cfg_pp=True),
    "er_sde": er_sde,
    "heunpp2": heunpp2,
    "ddpm": ddpm,
    "dpm_fast": dpm_fast,
    "dpm_adaptive": dpm_adaptive,
    "exp_heun_2_x0": exp_heun_2_x0,
    "exp_heun_2_x0_sde": exp_heun_2_x0_sde,
    "seeds_2": seeds_2,
    "seeds_3": seeds_3,
    "sa_solver": sa_solver,
    "sa_solver_pece": sa_solver_pece,
}


# Samplers only a Sampler* node gives (no sampler name of their own)
NODE_SOLVERS: dict[str, Solver] = {"euler_pp": euler_pp, "lcm_upscale": lcm_upscale}


def configured(name: str, options: dict[str, Any]) -> Solver:
    """A sampler function with a Sampler* node's options (eta, s_noise, order, ...) bound."""
    base = {**SOLVERS, **NODE_SOLVERS}[name]
    return lambda model, x, sigmas, seed, callback: base(model, x, sigmas, seed, callback, **options)


def solver(name: str) -> tuple[Solver, bool]:
    """The algorithm for a sampler name and whether it is exactly real's (every name of real's
    KSAMPLER_NAMES is); a name outside them runs euler."""
    if name in SOLVERS:
        return SOLVERS[name], True
    return euler, False
