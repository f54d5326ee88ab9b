"""SA-Solver (Xue et al. 2023, arXiv 2309.05019): a stochastic Adams predictor-corrector in data
prediction and half log-SNR time, as real's sa_solver runs it.

Each step makes one model call on the predicted state, corrects the state with the predictions
so far (from the second step on, not on the final step unless PECE), and predicts the next
state; PECE mode evaluates the corrected state once more. The Adams weights integrate the
Lagrange polynomial through the last predictions against exp((1 + tau^2) lambda). tau is eta
while sigma lies between the model's sigmas at sde_start_percent and sde_end_percent of its
timesteps (20% and 80% by default), 0 (the ODE) elsewhere; the noise is ancestral (seed + 1 on the
CPU), one draw per noisy step, added to the prediction and again to the correction after it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from fakecomfy.executors.torch.sampling import SD15, DiscreteSigmas
from fakecomfy.executors.torch.solvers_base import (
    Callback,
    Denoiser,
    batch_sigma,
    noise_sampler,
    sampling_of,
    snr_times,
)


def percent_to_sigma(percent: float, ms: DiscreteSigmas = SD15) -> float:
    """The sigma of a discrete model at ``percent`` of the way through its timesteps."""
    if percent <= 0.0:
        return 999999999.9
    if percent >= 1.0:
        return 0.0
    return float(ms.sigma(torch.tensor((1.0 - percent) * 999.0)))


def tau_interval(eta: float, start_percent: float, end_percent: float, ms: Any = None) -> Callable[[Any], float]:
    """eta between the model sampling's sigmas at the two percents, else 0 (SD1.5's without one)."""
    to_sigma = percent_to_sigma if ms is None else ms.percent_to_sigma
    high, low = to_sigma(start_percent), to_sigma(end_percent)
    return lambda sigma: eta if eta > 0 and high >= float(sigma) >= low else 0.0


def _exponential_integrals(s: Any, t: Any, order: int, tau: float) -> Any:
    """(1 + tau^2) times the integrals over [s, t] of exp((1 + tau^2) u) u^p for p < order, each
    over exp((1 + tau^2) t), by repeated integration by parts."""
    rate = 1 + tau ** 2
    p = torch.arange(order, dtype=s.dtype, device=s.device)
    bounds = t ** p - s ** p * (-rate * (t - s)).exp()
    depth = p[:, None] - p[None, :]
    log_factorials = (p + 1).lgamma()
    log_weights = log_factorials[:, None] - log_factorials[None, :]
    if tau > 0:
        log_weights = log_weights - depth * math.log(rate)
    signs = torch.where(depth % 2 == 0, 1.0, -1.0)
    return (log_weights.exp() * signs).tril() @ bounds


def _adams_weights(sigma_next: Any, lambdas: Any, lambda_s: Any, lambda_t: Any, tau: float, simple_order_2: bool,
                   corrector: bool) -> Any:
    """The weights of the predictions at ``lambdas`` for a step from lambda_s to lambda_t."""
    alpha_t = sigma_next * lambda_t.exp()
    if simple_order_2 and lambdas.shape[0] == 2:  # the paper's simplified order-2 weights
        rate = 1 + tau ** 2
        h = lambda_t - lambda_s
        whole = alpha_t * (-h * rate).expm1().neg()
        if corrector:
            newer = alpha_t * (0.5 * rate * h)
            return torch.stack([whole - newer, newer])
        older = alpha_t * (0.5 * rate * h ** 2) / (lambdas[-2] - lambda_s)
        return torch.stack([older, whole - older])
    n = lambdas.shape[0]
    integrals = _exponential_integrals(lambda_s, lambda_t, n, tau)
    return alpha_t * torch.linalg.solve(torch.vander(lambdas, n, increasing=True).T, integrals)


def _combine(predictions: list[Any], weights: Any) -> Any:
    return torch.tensordot(torch.stack(predictions, dim=1), weights, dims=([1], [0]))


def sa_solver(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, eta: float = 1.0,
              sde_start_percent: float = 0.2, sde_end_percent: float = 0.8, s_noise: float = 1.0,
              predictor_order: int = 3, corrector_order: int = 4, use_pece: bool = False,
              simple_order_2: bool = False) -> Any:
    if len(sigmas) <= 1:
        return x
    draw = noise_sampler(x, seed)
    tau_of = tau_interval(eta, sde_start_percent, sde_end_percent, sampling_of(model))
    sigmas, lambdas = snr_times(model, sigmas)
    keep = max(predictor_order, corrector_order)
    ends_at_zero = sigmas[-1].item() == 0  # then the orders drop towards the end
    predicted, tau = x, 0.0
    h: Any = 0.0
    noise: Any = 0.0
    predictions: list[Any] = []
    last = len(sigmas) - 1
    for i in range(last):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(predicted, batch_sigma(x, sigma))
        callback(i, denoised, predicted)
        predictions = [*predictions, denoised][-keep:]
        p_order = min(predictor_order, len(predictions))
        c_order = 0 if i == 0 or (sigma_next == 0 and not use_pece) else min(corrector_order, len(predictions))
        if ends_at_zero:
            p_order, c_order = min(p_order, last - 1 - i), min(c_order, last - i)
        if c_order == 0:
            x = predicted
        else:
            weights = _adams_weights(sigma, lambdas[i - c_order + 1:i + 1], lambdas[i - 1], lambdas[i], tau,
                                     simple_order_2, corrector=True)
            x = sigma / sigmas[i - 1] * (-(tau ** 2) * h).exp() * x + _combine(predictions[-c_order:], weights)
            if tau > 0 and s_noise > 0:
                x = x + noise
            if use_pece:
                denoised = model(x, batch_sigma(x, sigma))
                predictions[-1] = denoised
        if sigma_next == 0:
            predicted = denoised
            continue
        tau = tau_of(sigma_next)
        weights = _adams_weights(sigma_next, lambdas[i - p_order + 1:i + 1], lambdas[i], lambdas[i + 1], tau,
                                 simple_order_2, corrector=False)
        h = lambdas[i + 1] - lambdas[i]
        predicted = sigma_next / sigma * (-(tau ** 2) * h).exp() * x + _combine(predictions[-p_order:], weights)
        if tau > 0 and s_noise > 0:
            noise = draw() * sigma_next * (-2 * tau ** 2 * h).expm1().neg().sqrt() * s_noise
            predicted = predicted + noise
    return predicted


def sa_solver_pece(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, **options: Any) -> Any:
    return sa_solver(model, x, sigmas, seed, callback, use_pece=True, **options)
