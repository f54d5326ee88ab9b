"""The CFG++ samplers (Chung et al. 2024): each step leaves x along the guider's unconditional
prediction and lands on the guided one, so they need the uncond of every model call
(:func:`.solvers_base.uncond_of`; real asks for it even at cfg 1). On an eps model alpha = 1;
the arithmetic follows real's order so results agree to float rounding.
"""
from __future__ import annotations

from typing import Any

from fakecomfy.executors.torch import solvers_base as base
from fakecomfy.executors.torch.solvers_base import Callback, Denoiser


def _alpha(sigma: Any) -> Any:
    """sigma * exp(half log-SNR): 1 for an eps model, up to rounding, computed as real does."""
    return sigma * sigma.log().neg().exp()


def euler_ancestral_cfg_pp(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                           s_noise: float = 1.0) -> Any:
    noise = base.noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, base.batch_sigma(x, sigma))
        uncond = base.uncond_of(model, denoised)
        callback(i, denoised, x)
        if sigma_next == 0:
            x = denoised
            continue
        alpha_s, alpha_t = _alpha(sigma), _alpha(sigma_next)
        d = base.derivative(x, sigma, alpha_s * uncond)
        down, up = (sigma_next / alpha_t, 0.0) if not eta else \
            base.ancestral_step(sigma / alpha_s, sigma_next / alpha_t, eta)
        x = alpha_t * denoised + alpha_t * down * d
        if eta > 0 and s_noise > 0:
            x = x + alpha_t * noise() * s_noise * up
    return x


def euler_cfg_pp(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    return euler_ancestral_cfg_pp(model, x, sigmas, seed, callback, eta=0.0, s_noise=0.0)


def euler_pp(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    """SamplerEulerCFGpp's "alternative" version: euler whose derivative leaves x shifted by
    the guided minus the unconditional prediction."""
    for i in range(len(sigmas) - 1):
        denoised = model(x, base.batch_sigma(x, sigmas[i]))
        d = base.derivative(x - denoised + base.uncond_of(model, denoised), sigmas[i], denoised)
        callback(i, denoised, x)
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


def _t(sigma: Any) -> Any:
    return sigma.log().neg()


def dpmpp_2m_cfg_pp(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    previous: Any = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, base.batch_sigma(x, sigma))
        uncond = base.uncond_of(model, denoised)
        callback(i, denoised, x)
        h = _t(sigma_next) - _t(sigma)
        mix = -(-h).exp() * uncond
        if previous is not None and sigma_next != 0:
            r = (_t(sigma) - _t(sigmas[i - 1])) / h
            mix = mix - (-h).expm1() * (1 / (2 * r)) * (denoised - previous)
        x = denoised + mix + (-h).exp() * x
        previous = uncond
    return x


def dpmpp_2s_ancestral_cfg_pp(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback,
                              eta: float = 1.0, s_noise: float = 1.0) -> Any:
    noise = base.noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, base.batch_sigma(x, sigma))
        uncond = base.uncond_of(model, denoised)
        down, up = base.ancestral_step(sigma, sigmas[i + 1], eta)
        callback(i, denoised, x)
        if down == 0:
            x = denoised + base.derivative(x, sigma, uncond) * down
        else:
            t, t_next = _t(sigma), _t(down)
            h = t_next - t
            mid = t + h / 2
            shifted = x + (denoised - uncond)
            x_mid = (mid.neg().exp() / t.neg().exp()) * shifted - (-h / 2).expm1() * denoised
            denoised_mid = model(x_mid, base.batch_sigma(x, mid.neg().exp()))
            # as real: the full step shifts x by the uncond of the midpoint call, not the step's
            shifted = x + (denoised - base.uncond_of(model, denoised_mid))
            x = (t_next.neg().exp() / t.neg().exp()) * shifted - (-h).expm1() * denoised_mid
        if sigmas[i + 1] > 0:
            x = x + noise() * s_noise * up
    return x
