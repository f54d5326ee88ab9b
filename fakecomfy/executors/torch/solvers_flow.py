"""The ancestral samplers' rectified-flow forms, which real ComfyUI runs on flow (CONST) models.

On a flow model the noisy latent is ``sigma * noise + (1 - sigma) * latent``, so an ancestral
step cannot add noise of variance sigma_up^2 on top as on an eps model. Instead each step goes
deterministically down to ``sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)``,
rescales the latent by ``(1 - sigma_next) / (1 - sigma_down)`` and adds just the noise that
brings its noise level back to sigma_next. The step itself: Euler (a lerp towards the
prediction), DPM-Solver-2 (midpoint in log sigma) or DPM-Solver++(2S) (midpoint in
half log-SNR ``log((1 - sigma) / sigma)``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakecomfy.executors.torch.solvers_base import Callback, Denoiser, batch_sigma, derivative, noise_sampler


def _flow_step(sigma: Any, sigma_next: Any, eta: float) -> tuple[Any, Any, Any]:
    """sigma_down, the latent's rescaling and the noise's scale of one ancestral step."""
    down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
    alpha_next, alpha_down = 1 - sigma_next, 1 - down
    renoise = (sigma_next ** 2 - down ** 2 * alpha_next ** 2 / alpha_down ** 2) ** 0.5
    return down, alpha_next / alpha_down, renoise


def euler_ancestral_rf(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                       s_noise: float = 1.0) -> Any:
    return _lerp_ancestral(model, x, sigmas, seed, callback, eta, s_noise, None)


def dpmpp_2s_ancestral_rf(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                          s_noise: float = 1.0) -> Any:
    return _lerp_ancestral(model, x, sigmas, seed, callback, eta, s_noise, _midpoint_prediction)


Stage = Callable[[Denoiser, Any, Any, Any, Any], Any]  # (model, x, sigma, sigma_down, denoised) -> prediction


def _lerp_ancestral(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float,
                    s_noise: float, stage: Stage | None) -> Any:
    """Steps that lerp x towards a prediction down to sigma_down, then re-noise: Euler's (the
    step's own prediction) or DPM-Solver++(2S)'s (a second call at the half-way point)."""
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, batch_sigma(x, sigma))
        callback(i, denoised, x)
        if sigma_next == 0:  # onto the prediction (2S: as an Euler step, as real's)
            x = denoised if stage is None else x + derivative(x, sigma, denoised) * (0 - sigma)
            continue
        down, rescale, renoise = _flow_step(sigma, sigma_next, eta)
        ratio = down / sigma
        x = ratio * x + (1 - ratio) * (denoised if stage is None else stage(model, x, sigma, down, denoised))
        if eta > 0:
            x = rescale * x + noise() * s_noise * renoise
    return x


def dpm_2_ancestral_rf(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
                       s_noise: float = 1.0) -> Any:
    noise = noise_sampler(x, seed)
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        denoised = model(x, batch_sigma(x, sigma))
        down, rescale, renoise = _flow_step(sigma, sigmas[i + 1], eta)
        callback(i, denoised, x)
        d = derivative(x, sigma, denoised)
        if down == 0:
            x = x + d * (down - sigma)
            continue
        mid = sigma.log().lerp(down.log(), 0.5).exp()
        half = x + d * (mid - sigma)
        x = x + derivative(half, mid, model(half, batch_sigma(x, mid))) * (down - sigma)
        x = rescale * x + noise() * s_noise * renoise
    return x


def _flow_lambda(sigma: Any) -> Any:
    return ((1 - sigma) / sigma).log()


def _midpoint_prediction(model: Denoiser, x: Any, sigma: Any, down: Any, denoised: Any) -> Any:
    """The prediction half-way in half log-SNR from sigma to sigma_down (just below sigma 1,
    where lambda is -inf, as real does)."""
    if sigma == 1.0:
        sigma_s: Any = 0.9999
    else:
        t_i, t_down = _flow_lambda(sigma), _flow_lambda(down)
        sigma_s = ((t_i + (t_down - t_i) / 2).exp() + 1) ** -1
    ratio = sigma_s / sigma
    return model(ratio * x + (1 - ratio) * denoised, batch_sigma(x, sigma_s))
