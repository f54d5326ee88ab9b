"""DPM-Solver-fast (Lu et al. 2022, arXiv 2206.00927) as real's dpm_fast runs it: the schedule
only gives its ends and its step count (the model-call budget); the steps are uniform in
t = -log sigma, third order but for one or two lower-order steps at the end that use up the
budget. One callback per step, so fewer callbacks than sigma steps.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from fakecomfy.executors.torch.solvers_base import Callback, Denoiser, batch_sigma


def _sigma(t: Any) -> Any:
    return t.neg().exp()


def dpm_fast(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    if len(sigmas) <= 1:
        return x
    low = sigmas[-1] if sigmas[-1] != 0 else sigmas[-2]
    budget = len(sigmas) - 1
    segments = math.floor(budget / 3) + 1
    ts = torch.linspace(float(-sigmas[0].log()), float(-low.log()), segments + 1, device=x.device)
    orders = [3] * (segments - 2) + [2, 1] if budget % 3 == 0 else [3] * (segments - 1) + [budget % 3]

    def eps(xv: Any, t: Any) -> Any:
        return (xv - model(xv, batch_sigma(xv, _sigma(t)))) / _sigma(t)

    for i, order in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        e = eps(x, t)
        callback(i, x - _sigma(t) * e, x)
        x = _step(eps, x, t, t_next, e, order)
    return x


def _step(eps: Any, x: Any, t: Any, t_next: Any, e: Any, order: int) -> Any:
    """One DPM-Solver step of the given order from t to t_next, e the eps at t."""
    h = t_next - t
    first = x - _sigma(t_next) * h.expm1() * e
    if order == 1:
        return first
    r1 = 1 / 2 if order == 2 else 1 / 3
    s1 = t + r1 * h
    e1 = eps(x - _sigma(s1) * (r1 * h).expm1() * e, s1)
    if order == 2:
        return first - _sigma(t_next) / (2 * r1) * h.expm1() * (e1 - e)
    r2 = 2 / 3
    s2 = t + r2 * h
    u2 = x - _sigma(s2) * (r2 * h).expm1() * e - _sigma(s2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (e1 - e)
    e2 = eps(u2, s2)
    return first - _sigma(t_next) / r2 * (h.expm1() / h - 1) * (e2 - e)
