"""SamplerCustom, SamplerCustomAdvanced and the nodes that feed them (samplers, sigma
schedules, noise, guiders) on the torch family's real sampling loop.

Values as real's: SIGMAS a 1-D float32 tensor, SAMPLER / NOISE / GUIDER the numpy family's
objects (they print as real's classes do). Both custom samplers give ``output`` and
``denoised_output``: the last step's denoised prediction, or the output itself when no step ran.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy.registry import timed
from fakecomfy.executors.numpy.values import Guider, Noise, Sampler
from fakecomfy.executors.torch import sampling, solvers
from fakecomfy.executors.torch.model_sampling import sampling_of
from fakecomfy.executors.torch.sampler_nodes import Guidance, Latent, fix_empty_channels, sample

# ---- the custom samplers -----------------------------------------------------------------------


def _custom(ctx: NodeContext, guider: Guider, noise: Noise, sampler: Sampler, sigmas: Any,
            latent_image: Latent) -> NodeResult:
    latent = dict(latent_image)
    samples = fix_empty_channels(torch.as_tensor(latent["samples"]).float(), guider.model.latent_channels)
    latent["samples"] = samples
    if noise.enabled:
        drawn = sampling.prepare_noise(samples.shape, noise.seed, latent.get("batch_index"))
    else:
        drawn = torch.zeros(samples.shape, dtype=torch.float32)
    sigmas = torch.as_tensor(sigmas).float()
    out = dict(latent)
    if sigmas.shape[-1] == 0:  # real's guider hands the latent back untouched, and no step ran
        return NodeResult((out, out))
    guidance = Guidance(guider.model, guider.positive, guider.negative, guider.cfg)
    algorithm = solvers.configured(sampler.solver, sampler.options) if isinstance(sampler, Configured) else None
    result = sample(ctx, guidance, sampler.name, noise.seed, samples, latent.get("noise_mask"), drawn, sigmas,
                    algorithm)
    out["samples"] = result.samples
    if result.denoised is None:
        return NodeResult((out, out))
    return NodeResult((out, {**latent, "samples": result.denoised}))


def sampler_custom(ctx: NodeContext, model: Any, add_noise: bool, noise_seed: int, cfg: float, positive: Any,
                   negative: Any, sampler: Sampler, sigmas: Any, latent_image: Latent, **_: Any) -> NodeResult:
    # noise_seed seeds the sampler's own noise even when no initial noise is added
    noise = Noise(noise_seed, enabled=bool(add_noise))
    return _custom(ctx, Guider(model, positive, negative, cfg), noise, sampler, sigmas, latent_image)


def sampler_custom_advanced(ctx: NodeContext, noise: Noise, guider: Guider, sampler: Sampler, sigmas: Any,
                            latent_image: Latent, **_: Any) -> NodeResult:
    return _custom(ctx, guider, noise, sampler, sigmas, latent_image)


# ---- samplers, noise, guiders ------------------------------------------------------------------
@dataclass(eq=False, repr=False)
class Configured(Sampler):
    """A Sampler* node's SAMPLER: real's sampler name, the solver it runs and its options."""

    solver: str = "euler"
    options: dict[str, Any] = field(default_factory=dict)


def ksampler_select(ctx: NodeContext, sampler_name: str, **_: Any) -> NodeResult:
    return NodeResult((Sampler(sampler_name),))


def _configured(name: str, solver: str, **options: Any) -> NodeResult:
    return NodeResult((Configured(name, solver, options),))


def sampler_euler_ancestral(ctx: NodeContext, eta: float, s_noise: float, **_: Any) -> NodeResult:
    return _configured("euler_ancestral", "euler_ancestral", eta=eta, s_noise=s_noise)


def sampler_euler_ancestral_cfg_pp(ctx: NodeContext, eta: float, s_noise: float, **_: Any) -> NodeResult:
    return _configured("euler_ancestral_cfg_pp", "euler_ancestral_cfg_pp", eta=eta, s_noise=s_noise)


def sampler_lms(ctx: NodeContext, order: int, **_: Any) -> NodeResult:
    return _configured("lms", "lms", order=order)


def sampler_dpmpp_2s_ancestral(ctx: NodeContext, eta: float, s_noise: float, **_: Any) -> NodeResult:
    return _configured("dpmpp_2s_ancestral", "dpmpp_2s_ancestral", eta=eta, s_noise=s_noise)


def _device_name(name: str, noise_device: str) -> str:
    return name if noise_device == "cpu" else f"{name}_gpu"


def sampler_dpmpp_sde(ctx: NodeContext, eta: float, s_noise: float, r: float, noise_device: str,
                      **_: Any) -> NodeResult:
    return _configured(_device_name("dpmpp_sde", noise_device), "dpmpp_sde", eta=eta, s_noise=s_noise, r=r,
                       cpu=noise_device == "cpu")


def sampler_dpmpp_2m_sde(ctx: NodeContext, solver_type: str, eta: float, s_noise: float, noise_device: str,
                         **_: Any) -> NodeResult:
    return _configured(_device_name("dpmpp_2m_sde", noise_device), "dpmpp_2m_sde", eta=eta, s_noise=s_noise,
                       heun=solver_type == "heun", cpu=noise_device == "cpu")


def sampler_dpmpp_3m_sde(ctx: NodeContext, eta: float, s_noise: float, noise_device: str, **_: Any) -> NodeResult:
    return _configured(_device_name("dpmpp_3m_sde", noise_device), "dpmpp_3m_sde", eta=eta, s_noise=s_noise,
                       cpu=noise_device == "cpu")


def random_noise(ctx: NodeContext, noise_seed: int, **_: Any) -> NodeResult:
    return NodeResult((Noise(noise_seed),))


def disable_noise(ctx: NodeContext, **_: Any) -> NodeResult:
    return NodeResult((Noise(0, enabled=False),))


def cfg_guider(ctx: NodeContext, model: Any, positive: Any, negative: Any, cfg: float, **_: Any) -> NodeResult:
    return NodeResult((Guider(model, positive, negative, cfg),))


def basic_guider(ctx: NodeContext, model: Any, conditioning: Any, **_: Any) -> NodeResult:
    return NodeResult((Guider(model, conditioning, None, 1.0),))


# ---- sigmas ------------------------------------------------------------------------------------
def basic_scheduler(ctx: NodeContext, model: Any, scheduler: str, steps: int, denoise: float,
                    **_: Any) -> NodeResult:
    """The schedule from the model's own sampling (an SD3 or Flux model's flow sigmas)."""
    if denoise <= 0.0:
        return NodeResult((torch.zeros((0,), dtype=torch.float32),))
    total = steps if denoise >= 1.0 else int(steps / denoise)
    return NodeResult((sampling.schedule(scheduler, total, sampling_of(model))[-(steps + 1):],))


def karras_scheduler(ctx: NodeContext, steps: int, sigma_max: float, sigma_min: float, rho: float,
                     **_: Any) -> NodeResult:
    ramp = torch.linspace(0, 1, steps)
    low, high = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return NodeResult((_append_zero((high + ramp * (low - high)) ** rho),))


def exponential_scheduler(ctx: NodeContext, steps: int, sigma_max: float, sigma_min: float,
                          **_: Any) -> NodeResult:
    return NodeResult((_append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps).exp()),))


def split_sigmas(ctx: NodeContext, sigmas: Any, step: int, **_: Any) -> NodeResult:
    return NodeResult((sigmas[:step + 1], sigmas[step:]))


def split_sigmas_denoise(ctx: NodeContext, sigmas: Any, denoise: float, **_: Any) -> NodeResult:
    steps = max(sigmas.shape[-1] - 1, 0)
    total = round(steps * denoise)
    # as real: a denoise that rounds to no steps leaves high empty (sigmas[:-0])
    return NodeResult((sigmas[:-total], sigmas[-(total + 1):]))


def flip_sigmas(ctx: NodeContext, sigmas: Any, **_: Any) -> NodeResult:
    if len(sigmas) == 0:
        return NodeResult((sigmas,))
    flipped = sigmas.flip(0)
    if flipped[0] == 0:
        flipped[0] = 0.0001
    return NodeResult((flipped,))


def sampler_euler_cfg_pp(ctx: NodeContext, version: str, **_: Any) -> NodeResult:
    return _configured("euler_cfg_pp", "euler_pp" if version == "alternative" else "euler_cfg_pp")


def sampler_er_sde(ctx: NodeContext, solver_type: str, max_stage: int, eta: float, s_noise: float,
                   **_: Any) -> NodeResult:
    """ER-SDE's own noise scale, or the reverse-time SDE's x ** (eta + 1); the ODE (or eta 0) adds no noise."""
    if solver_type == "ODE" or (solver_type == "Reverse-time SDE" and eta == 0):
        eta, s_noise = 0, 0

    def reverse_time(v: Any) -> Any:
        return v ** (eta + 1)

    scaler = None if solver_type == "ER-SDE" else reverse_time
    return _configured("er_sde", "er_sde", s_noise=s_noise, noise_scaler=scaler, max_stage=max_stage)


def sampler_dpm_adaptative(ctx: NodeContext, order: int, rtol: float, atol: float, h_init: float, pcoeff: float,
                           icoeff: float, dcoeff: float, accept_safety: float, eta: float, s_noise: float,
                           **_: Any) -> NodeResult:
    return _configured("dpm_adaptive", "dpm_adaptive", order=order, rtol=rtol, atol=atol, h_init=h_init,
                       pcoeff=pcoeff, icoeff=icoeff, dcoeff=dcoeff, accept_safety=accept_safety, eta=eta,
                       s_noise=s_noise)


def sampler_seeds2(ctx: NodeContext, solver_type: str, eta: float, s_noise: float, r: float, **_: Any) -> NodeResult:
    return _configured("seeds_2", "seeds_2", eta=eta, s_noise=s_noise, r=r, solver_type=solver_type)


def sampler_sa_solver(ctx: NodeContext, model: Any, eta: float, sde_start_percent: float, sde_end_percent: float,
                      s_noise: float, predictor_order: int, corrector_order: int, use_pece: bool,
                      simple_order_2: bool, **_: Any) -> NodeResult:
    """Real's node names its sampler sa_solver, PECE or not; the SDE interval is in the sigmas of
    the model's sampling at sampling time (the guider's model: the same one in any usual graph)."""
    return _configured("sa_solver", "sa_solver", eta=eta, sde_start_percent=sde_start_percent,
                       sde_end_percent=sde_end_percent, s_noise=s_noise, predictor_order=predictor_order,
                       corrector_order=corrector_order, use_pece=bool(use_pece), simple_order_2=bool(simple_order_2))


def sampler_lcm_upscale(ctx: NodeContext, scale_ratio: float, scale_steps: int, upscale_method: str,
                        **_: Any) -> NodeResult:
    """LCM that upscales the latent between steps (scale_steps -1: real's default count)."""
    steps = None if scale_steps < 0 else scale_steps
    return _configured("lcm_upscale", "lcm_upscale", total_upscale=scale_ratio, upscale_steps=steps,
                       upscale_method=upscale_method)


def _append_zero(x: Any) -> Any:
    return torch.cat([x, x.new_zeros([1])])


NODES: dict[str, NodeFunction] = {
    # The samplers spend their node time per step themselves; the other nodes once, in timed().
    "SamplerCustom": sampler_custom,
    "SamplerCustomAdvanced": sampler_custom_advanced,
    "KSamplerSelect": timed(ksampler_select),
    "SamplerEulerAncestral": timed(sampler_euler_ancestral),
    "SamplerEulerAncestralCFGPP": timed(sampler_euler_ancestral_cfg_pp),
    "SamplerLMS": timed(sampler_lms),
    "SamplerDPMPP_2S_Ancestral": timed(sampler_dpmpp_2s_ancestral),
    "SamplerDPMPP_SDE": timed(sampler_dpmpp_sde),
    "SamplerDPMPP_2M_SDE": timed(sampler_dpmpp_2m_sde),
    "SamplerDPMPP_3M_SDE": timed(sampler_dpmpp_3m_sde),
    "SamplerEulerCFGpp": timed(sampler_euler_cfg_pp),
    "SamplerER_SDE": timed(sampler_er_sde),
    "SamplerDPMAdaptative": timed(sampler_dpm_adaptative),
    "SamplerSEEDS2": timed(sampler_seeds2),
    "SamplerSASolver": timed(sampler_sa_solver),
    "SamplerLCMUpscale": timed(sampler_lcm_upscale),
    "RandomNoise": timed(random_noise),
    "DisableNoise": timed(disable_noise),
    "CFGGuider": timed(cfg_guider),
    "BasicGuider": timed(basic_guider),
    "BasicScheduler": timed(basic_scheduler),
    "KarrasScheduler": timed(karras_scheduler),
    "ExponentialScheduler": timed(exponential_scheduler),
    "SplitSigmas": timed(split_sigmas),
    "SplitSigmasDenoise": timed(split_sigmas_denoise),
    "FlipSigmas": timed(flip_sigmas),
}
