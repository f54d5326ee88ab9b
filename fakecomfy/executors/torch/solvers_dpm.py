"""DPM-Solver-fast (Lu et al. 2022, arXiv 2206.00927) as real's dpm_fast runs it: the schedule
only gives its ends and its step count (the model-call budget); the steps are uniform in
t = -log sigma, third order but for one or two lower-order steps at the end that use up the
budget. One callback per step, so fewer callbacks than sigma steps.

dpm_adaptive (DPM-Solver-12 / 23 of the same paper) takes only the schedule's ends too: it picks
its own step sizes in t with a PID controller on the gap between a low- and a high-order step,
and calls back once per attempt, rejected ones included.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from fakecomfy.executors.torch.solvers_base import Callback, Denoiser, ancestral_step, batch_sigma, noise_sampler


def _sigma(t: Any) -> Any:
    return t.neg().exp()


def _ends(sigmas: Any) -> tuple[Any, Any]:
    """The schedule's ends in t = -log sigma (its last positive sigma when it ends at zero)."""
    low = sigmas[-1] if sigmas[-1] != 0 else sigmas[-2]
    if low <= 0 or sigmas[0] <= 0:
        raise ValueError("sigma_min and sigma_max must not be 0")
    return -sigmas[0].detach().clone().log(), -low.detach().clone().log()


def dpm_fast(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    if len(sigmas) <= 1:
        return x
    budget = len(sigmas) - 1
    segments = math.floor(budget / 3) + 1
    t_start, t_end = _ends(sigmas)
    ts = torch.linspace(float(t_start), float(t_end), segments + 1, device=x.device)
    orders = [3] * (segments - 2) + [2, 1] if budget % 3 == 0 else [3] * (segments - 1) + [budget % 3]

    def eps(xv: Any, t: Any) -> Any:
        return (xv - model(xv, batch_sigma(xv, _sigma(t)))) / _sigma(t)

    for i, order in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        e = eps(x, t)
        callback(i, x - _sigma(t) * e, x)
        x, _ = dpm_step(eps, x, t, t_next, e, order)
    return x


def dpm_step(eps: Any, x: Any, t: Any, t_next: Any, e: Any, order: int, r1: float | None = None,
             e1: Any = None) -> tuple[Any, Any]:
    """One DPM-Solver step of the given order from t to t_next, e the eps at t; with the eps
    at the first intermediate point (r1 of the way, e1 when already known), which it returns."""
    h = t_next - t
    first = x - _sigma(t_next) * h.expm1() * e
    if order == 1:
        return first, e1
    r1 = r1 if r1 is not None else 1 / 2 if order == 2 else 1 / 3
    if e1 is None:
        s1 = t + r1 * h
        e1 = eps(x - _sigma(s1) * (r1 * h).expm1() * e, s1)
    if order == 2:
        return first - _sigma(t_next) / (2 * r1) * h.expm1() * (e1 - e), e1
    r2 = 2 / 3
    s2 = t + r2 * h
    u2 = x - _sigma(s2) * (r2 * h).expm1() * e - _sigma(s2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (e1 - e)
    e2 = eps(u2, s2)
    return first - _sigma(t_next) / r2 * (h.expm1() / h - 1) * (e2 - e), e1


class _StepSize:
    """A PID controller of the step size h on the inverse error of the last three steps."""

    def __init__(self, h: float, pcoeff: float, icoeff: float, dcoeff: float, order: float,
                 accept_safety: float) -> None:
        self.h = h
        self.gains = ((pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, dcoeff / order)
        self.accept_safety = accept_safety
        self.history: list[float] = []

    def accept(self, error: Any) -> bool:
        """Rescale h by the error just made; whether the step that made it is kept."""
        inverse = 1 / (float(error) + 1e-8)
        self.history = [inverse, *(self.history[1:] or [inverse, inverse])]
        factor = 1.0
        for value, gain in zip(self.history, self.gains, strict=True):
            factor *= value ** gain
        factor = 1 + math.atan(factor - 1)
        accepted = factor >= self.accept_safety
        if accepted:
            self.history = [inverse, inverse, self.history[1]]
        self.h *= factor
        return accepted


def dpm_adaptive(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, order: int = 3,
                 rtol: float = 0.05, atol: float = 0.0078, h_init: float = 0.05, pcoeff: float = 0.0,
                 icoeff: float = 1.0, dcoeff: float = 0.0, accept_safety: float = 0.81, eta: float = 0.0,
                 s_noise: float = 1.0) -> Any:
    if len(sigmas) <= 1:
        return x
    if order not in (2, 3):
        raise ValueError("order should be 2 or 3")
    t_start, t_end = _ends(sigmas)
    forward = bool(t_end > t_start)
    if not forward and eta:
        raise ValueError("eta must be 0 for reverse sampling")
    noise = noise_sampler(x, seed)
    control = _StepSize(abs(h_init) * (1 if forward else -1), pcoeff, icoeff, dcoeff, 1.5 if eta else order,
                        accept_safety)
    abs_tol, rel_tol = torch.tensor(atol), torch.tensor(rtol)

    def eps(xv: Any, t: Any) -> Any:
        return (xv - model(xv, batch_sigma(xv, _sigma(t)))) / _sigma(t)

    s, previous, attempt = t_start, x, 0
    # Real's ProgressBar holds its value at the schedule's step count when the attempts outrun it.
    last_step = len(sigmas) - 2
    while s < t_end - 1e-5 if forward else s > t_end + 1e-5:
        t = torch.minimum(t_end, s + control.h) if forward else torch.maximum(t_end, s + control.h)
        target, up = t, 0.0
        if eta:
            down, _ = ancestral_step(_sigma(s), _sigma(t), eta)
            target = torch.minimum(t_end, -down.log())
            up = (_sigma(t) ** 2 - _sigma(target) ** 2) ** 0.5
        e = eps(x, s)
        denoised = x - _sigma(s) * e
        low, e1 = dpm_step(eps, x, s, target, e, order - 1, r1=1 / 3 if order == 3 else None)
        high, _ = dpm_step(eps, x, s, target, e, order, e1=e1)
        scale = torch.maximum(abs_tol, rel_tol * torch.maximum(low.abs(), previous.abs()))
        if control.accept(torch.linalg.norm((low - high) / scale) / x.numel() ** 0.5):
            previous = low
            x = high + up * s_noise * noise() if eta else high
            s = t
        callback(min(attempt, last_step), denoised, x)
        attempt += 1
    return x
