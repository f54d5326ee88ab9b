"""Sampler algorithms over a denoiser ``D(x, sigma) -> denoised`` (the k-diffusion convention).

Written from the published methods: Euler and Heun steps of Karras et al. 2022 (Algorithm 2),
DPM-Solver-2 (Lu et al. 2022), DPM-Solver++(2S/2M/SDE/2M SDE) (Lu et al. 2022b), the 3M SDE
variant of k-diffusion, linear multistep, LCM (Luo et al. 2023) and UniPC's B(h) predictor-
corrector (Zhao et al. 2023). The SDE samplers draw their noise from a torchsde Brownian tree
over [smallest positive sigma, largest sigma] seeded with the seed, as real does.
The k-diffusion package (MIT) is the reference these follow; it cannot be
imported without its training dependencies (torchvision, wandb, clean-fid, ...), so the handful
of steps are written here. Where real ComfyUI differs from the papers (ancestral noise drawn
from a generator seeded with ``seed + 1`` on the CPU, one callback per step), we do as it does.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchsde

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


# ---- the SDE samplers: noise from a Brownian tree ---------------------------------------------
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


def _lambda(sigma: Any) -> Any:
    """Half log-SNR of an eps model's sigma."""
    return sigma.log().neg()


def dpmpp_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
              eta: float = 1.0, r: float = 0.5) -> Any:
    """DPM-Solver++ (stochastic): two model calls per step but the last, one callback per step."""
    if len(sigmas) <= 1:
        return x
    noise = BrownianNoise(x, sigmas, seed, cpu)
    for i in range(len(sigmas) - 1):
        denoised = model(x, _batch(x, sigmas[i]))
        callback(i, denoised, x)
        x = denoised if sigmas[i + 1] == 0 else _sde_step(model, x, sigmas[i], sigmas[i + 1], denoised, noise, eta, r)
    return x


def _sde_step(model: Denoiser, x: Any, sigma: Any, sigma_next: Any, denoised: Any, noise: BrownianNoise,
              eta: float, r: float) -> Any:
    """One DPM-Solver++ SDE step: an ancestral half step to the point r of the way in log-SNR,
    a second model call there, and the ancestral full step with the blended prediction."""
    fac = 1 / (2 * r)
    lambda_s, lambda_t = _lambda(sigma), _lambda(sigma_next)
    h = lambda_t - lambda_s
    lambda_mid = lambda_s + r * h
    sigma_mid = lambda_mid.neg().exp()
    alpha_s, alpha_mid, alpha_t = sigma * lambda_s.exp(), sigma_mid * lambda_mid.exp(), sigma_next * lambda_t.exp()
    down, up = _ancestral(lambda_s.neg().exp(), lambda_mid.neg().exp(), eta)
    h_ = down.log().neg() - lambda_s
    x_mid = (alpha_mid / alpha_s) * (-h_).exp() * x - alpha_mid * (-h_).expm1() * denoised
    x_mid = x_mid + alpha_mid * noise(sigma, sigma_mid) * up
    denoised_mid = model(x_mid, _batch(x, sigma_mid))
    down, up = _ancestral(lambda_s.neg().exp(), lambda_t.neg().exp(), eta)
    h_ = down.log().neg() - lambda_s
    estimate = (1 - fac) * denoised + fac * denoised_mid
    x = (alpha_t / alpha_s) * (-h_).exp() * x - alpha_t * (-h_).expm1() * estimate
    return x + alpha_t * noise(sigma, sigma_next) * up


def dpmpp_2m_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
                 heun: bool = False, eta: float = 1.0) -> Any:
    """DPM-Solver++(2M) SDE with the midpoint (real's default) or Heun correction."""
    return _multistep_sde(model, x, sigmas, seed, callback, cpu, eta, order=2, heun=heun)


def dpmpp_3m_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool = True,
                 eta: float = 1.0) -> Any:
    return _multistep_sde(model, x, sigmas, seed, callback, cpu, eta, order=3)


def _multistep_sde(model: Denoiser, x: Any, sigmas: Any, seed: int, callback: Callback, cpu: bool, eta: float,
                   order: int, heun: bool = False) -> Any:
    if len(sigmas) <= 1:
        return x
    noise = BrownianNoise(x, sigmas, seed, cpu)
    previous: list[Any] = []  # the last denoised values, newest first
    steps: list[Any] = []  # the last step sizes h, newest first
    h: Any = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, _batch(x, sigma))
        callback(i, denoised, x)
        if sigma_next == 0:
            x = denoised
        else:
            h = _lambda(sigma_next) - _lambda(sigma)
            h_eta = h * (eta + 1)
            alpha_t = sigma_next * _lambda(sigma_next).exp()
            x = sigma_next / sigma * (-h * eta).exp() * x + alpha_t * (-h_eta).expm1().neg() * denoised
            x = x + _multistep_correction(denoised, previous, steps, h, h_eta, alpha_t, order, heun)
            x = x + noise(sigma, sigma_next) * sigma_next * (-2 * h * eta).expm1().neg().sqrt()
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


# ---- UniPC (B(h) variants), on the variance-preserving latent as real runs it -------------------
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
}


# Real's sampler names that still run euler here (listed in :mod:`.sampling`'s docstring too).
EULER_STAND_INS = frozenset((
    "euler_cfg_pp", "euler_ancestral_cfg_pp", "heunpp2", "exp_heun_2_x0", "exp_heun_2_x0_sde", "dpm_fast",
    "dpm_adaptive", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_2m_cfg_pp", "ddpm", "ipndm", "ipndm_v", "deis",
    "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp",
    "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3", "sa_solver",
    "sa_solver_pece"))


def solver(name: str) -> tuple[Solver, bool]:
    """The algorithm for a sampler name and whether it is exactly real's; names we do not
    implement yet run euler (same step and callback count as every first-order sampler)."""
    if name in SOLVERS:
        return SOLVERS[name], True
    return euler, False
