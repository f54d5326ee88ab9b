"""UniPC's B(h) predictor-corrector (Zhao et al. 2023), run on the variance-preserving latent as
real runs it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fakecomfy.executors.torch.solvers_base import Callback, Denoiser


def _log_alpha(sigma: Any) -> Any:
    return 0.5 * torch.log(1 / (sigma * sigma + 1))


def _vp_std(sigma: Any) -> Any:
    return torch.sqrt(1.0 - torch.exp(2.0 * _log_alpha(sigma)))


def _vp_lambda(sigma: Any) -> Any:
    log_alpha = _log_alpha(sigma)
    return log_alpha - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_alpha))


def _col(v: Any, x: Any) -> Any:
    return v[(...,) + (None,) * (x.dim() - 1)]


def uni_pc(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, variant: str = "bh1") -> Any:
    """UniPC multistep of order up to 3, lower orders at the start and the end; one model call
    and one callback per step. Real swaps a final sigma of 0 for 0.001."""
    times = sigmas.clone()
    if times[-1] == 0:
        times[-1] = 0.001

    def data(xv: Any, t: Any) -> Any:  # the x0 prediction from the VP latent, through the eps model
        s = t.view(t.shape[:1] + (1,) * (xv.ndim - 1))
        k = xv * ((s ** 2 + 1.0) ** 0.5)
        eps = (k - model(k, t)) / s
        return (xv - _col(_vp_std(t), xv) * eps) / _col(torch.exp(_log_alpha(t)), xv)

    x = x / torch.sqrt(1.0 + times[0] ** 2.0)
    steps = len(times) - 1
    order = min(3, steps - 1)
    batch = x.shape[0]
    models: list[Any] = []
    ts: list[Any] = []
    for index in range(steps):
        if index == 0:
            t = times[0].expand(batch)
            models, ts = [data(x, t)], [t]
        elif index < order:
            t = times[index].expand(batch)
            x, model_x = _unipc_update(data, x, models, ts, t, index, variant, True)
            models.append(model_x)
            ts.append(t)
        else:
            for step in range(index, index + 1 + (1 if index == steps - 1 else 0)):
                t = times[step].expand(batch)
                x, model_x = _unipc_update(data, x, models, ts, t, min(order, steps + 1 - step), variant,
                                           step != steps)
                ts = [*ts[1:], t]  # the histories hold `order` entries: drop the oldest
                models = [*models[1:], models[-1]]
                if step < steps:
                    models[-1] = model_x if model_x is not None else data(x, t)
        callback(index, models[-1], x)
    return x / torch.exp(_log_alpha(times[-1]))


def uni_pc_bh2(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback) -> Any:
    return uni_pc(model, x, sigmas, seed, callback, variant="bh2")


def _unipc_update(data: Callable[[Any, Any], Any], x: Any, models: list[Any], ts: list[Any], t: Any, order: int,
                  variant: str, use_corrector: bool) -> tuple[Any, Any]:
    lambda_prev = _vp_lambda(ts[-1])
    h = _vp_lambda(t) - lambda_prev
    model_prev = models[-1]
    sigma_prev, sigma_t = _vp_std(ts[-1]), _vp_std(t)
    alpha_t = torch.exp(_log_alpha(t))
    rks: list[Any] = []
    d1s: list[Any] = []
    for i in range(1, order):
        rk = ((_vp_lambda(ts[-(i + 1)]) - lambda_prev) / h)[0]
        rks.append(rk)
        d1s.append((models[-(i + 1)] - model_prev) / rk)
    rks.append(1.0)
    rk_tensor = torch.tensor(rks, device=x.device)
    hh = -h[0]
    h_phi_1 = torch.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    b_h = hh if variant == "bh1" else torch.expm1(hh)
    rows, b = [], []
    factorial = 1
    for i in range(1, order + 1):
        rows.append(torch.pow(rk_tensor, i - 1))
        b.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    big_r = torch.stack(rows)
    b_tensor = torch.tensor(b, device=x.device)
    stacked = torch.stack(d1s, dim=1) if d1s else None
    x_base = _col(sigma_t / sigma_prev, x) * x - _col(alpha_t * h_phi_1, x) * model_prev
    if stacked is not None:
        if order == 2:
            rhos_p = torch.tensor([0.5], device=x.device)
        else:
            rhos_p = torch.linalg.solve(big_r[:-1, :-1], b_tensor[:-1])
        prediction = torch.tensordot(stacked, rhos_p, dims=([1], [0]))
    else:
        prediction = 0
    x_t = x_base - _col(alpha_t * b_h, x) * prediction
    if not use_corrector:
        return x_t, None
    rhos_c = torch.tensor([0.5], device=x.device) if order == 1 else torch.linalg.solve(big_r, b_tensor)
    model_t = data(x_t, t)
    correction = torch.tensordot(stacked, rhos_c[:-1], dims=([1], [0])) if stacked is not None else 0
    x_t = x_base - _col(alpha_t * b_h, x) * (correction + rhos_c[-1] * (model_t - model_prev))
    return x_t, model_t
