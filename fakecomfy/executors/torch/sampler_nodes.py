"""KSampler and KSamplerAdvanced of the torch family: a real sampling loop over the stand-in
denoiser (:mod:`.denoiser`), with ComfyUI's noise, sigma schedules, cfg, denoise, start/end
steps, add_noise and noise masks.

As in real ComfyUI: one ProgressBar update per sampler step from the sampler's callback (value
``i + 1`` of the window's step count), a preview of the step's denoised latent when the prompt
asks for previews, the interrupt flag checked before every model call, and ``--node-time``
spent per step (interruptibly). The model's sampling and latent format
(:mod:`.model_sampling`: eps for the SD family, CONST flow for SD3 and Flux) set the schedule,
the noising and the latent's scale and shift. The loop runs on the torch device: the noise is
drawn on the CPU, the latent, noise and mask moved there once, the result moved back after.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fakecomfy import images
from fakecomfy.core.execution import Preview
from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.torch import devices, sampling, solvers
from fakecomfy.executors.torch.denoiser import StandInModel, load_model, summary
from fakecomfy.executors.torch.model_sampling import ModelSampling, latent_format, sampling_of
from fakecomfy.protocol import PreviewFormat

PREVIEW_SIZE = 512
Latent = dict[str, Any]


@dataclass
class SamplingJob:
    """One common_ksampler call, as real's KSampler nodes make it."""

    model: Any  # the catalog's MODEL value (numpy family's Model: name, arch, latent_channels)
    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    positive: Any
    negative: Any
    latent: Latent
    denoise: float = 1.0
    disable_noise: bool = False
    start_step: int | None = None
    last_step: int | None = None
    force_full_denoise: bool = False


@dataclass
class Guidance:
    """What a guider brings to sampling: the model, its conditionings and cfg (no negative:
    the model's conditional prediction alone, as BasicGuider; at cfg 1 the negative is skipped
    unless a cfg++ sampler asks for the uncond)."""

    model: Any
    positive: Any
    negative: Any | None
    cfg: float


@dataclass
class Sampled:
    """A sampling run's latent and the last step's denoised prediction (None when no step ran),
    both out of the model's latent space."""

    samples: Any
    denoised: Any | None


def run(ctx: NodeContext, job: SamplingJob) -> Latent:
    samples = fix_empty_channels(torch.as_tensor(job.latent["samples"]).float(), job.model.latent_channels)
    if job.disable_noise:
        noise = torch.zeros(samples.shape, dtype=torch.float32)
    else:
        noise = sampling.prepare_noise(samples.shape, job.seed, job.latent.get("batch_index"))
    sigmas = sampling.ksampler_sigmas(job.scheduler, job.sampler_name, job.steps, job.denoise, sampling_of(job.model))
    window = sampling.step_window(sigmas, job.start_step, job.last_step, job.force_full_denoise)
    out = dict(job.latent)
    if window is None or window.shape[-1] == 0:  # nothing to sample: real returns the latent as it came
        out["samples"] = samples
        return out
    guidance = Guidance(job.model, job.positive, job.negative, job.cfg)
    out["samples"] = sample(ctx, guidance, job.sampler_name, job.seed, samples, job.latent.get("noise_mask"),
                            noise, window).samples
    return out


def fix_empty_channels(samples: Any, channels: int) -> Any:
    """ComfyUI quietly gives an all-zero latent the model's channel count."""
    if samples.ndim == 4 and samples.shape[1] != channels and torch.count_nonzero(samples) == 0:
        return torch.zeros((samples.shape[0], channels, *samples.shape[2:]), dtype=samples.dtype)
    return samples


def sample(ctx: NodeContext, guidance: Guidance, sampler_name: str, seed: int, samples: Any, noise_mask: Any,
           noise: Any, sigmas: Any, algorithm: solvers.Solver | None = None) -> Sampled:
    """One run of a sampler over ``sigmas`` (at least one), as real's guider samples: the
    latent into the model's space, noised to the first sigma, the steps, and back out.
    ``seed`` seeds the samplers' own noise (ancestral, SDE, ddim's inpaint noise); ``algorithm``
    replaces the name's sampler function (a Sampler* node's, options bound)."""
    model = load_model(guidance.model.name, guidance.model.latent_channels)
    ms = sampling_of(guidance.model)
    fmt = latent_format(guidance.model)
    device = devices.torch_device()
    samples, noise, sigmas = samples.to(device), noise.to(device), sigmas.to(device)
    empty = torch.count_nonzero(samples) == 0
    latent = samples if empty else fmt.process_in(samples)  # an empty latent is left alone, as real's
    mask = _mask(noise_mask, latent.shape, device)
    # ddim is euler whose masked area is filled with its own noise of seed + 1
    inpaint_noise = sampling.prepare_noise(noise.shape, seed + 1).to(device) if sampler_name == "ddim" else noise
    guided = _Guided(ctx, model, ms, guidance, latent.shape[0], cfg_pp="cfg_pp" in sampler_name)
    total = len(sigmas) - 1
    last: list[Any] = []

    def on_step(i: int, denoised: Any, current: Any) -> None:
        last[:] = [denoised]
        ctx.sleep(ctx.node_time, interruptible=True)
        preview = None
        if ctx.sampler_previews:
            picture = images.latent_preview(denoised[:1].detach().cpu().numpy().astype(np.float32))
            preview = Preview(picture, PreviewFormat.JPEG, max_size=PREVIEW_SIZE)
        ctx.progress(i + 1, total, preview)

    if algorithm is None:
        algorithm, _ = solvers.solver(sampler_name)
    result = run_solver(ms, guided, algorithm, sigmas, seed, noise, latent, mask, inpaint_noise, on_step)
    home = devices.intermediate_device()
    denoised = fmt.process_out(last[0]).to(home) if last else None
    return Sampled(fmt.process_out(result).to(home), denoised)


def run_solver(ms: ModelSampling, denoise: solvers.Denoiser, algorithm: solvers.Solver, sigmas: Any, seed: int,
               noise: Any, latent: Any, mask: Any | None, inpaint_noise: Any, callback: solvers.Callback) -> Any:
    """Real's KSAMPLER.sample in the model's space: the latent noised to the first sigma by the
    model sampling (an eps model's at the schedule's top by sqrt(1 + sigma^2)), the masked
    area alone sampled, the solver's steps, and the model sampling's inverse scaling."""
    top = ms.sigma_max
    max_denoise = math.isclose(top, float(sigmas[0]), rel_tol=1e-5) or float(sigmas[0]) > top
    x = ms.noise_scaling(sigmas[0], noise, latent, max_denoise)
    if mask is not None:
        denoise = Masked(denoise, ms, mask, latent, inpaint_noise)
    with torch.no_grad():
        return ms.inverse_noise_scaling(sigmas[-1], algorithm(denoise, x, sigmas, seed, callback))


class _Guided:
    """The cfg denoiser: cond and uncond in one batched model call; without a negative, or at
    cfg 1 for samplers other than cfg++, the uncond pass is skipped. ``uncond`` keeps the last
    call's unconditional prediction for the cfg++ samplers (zeros without a negative, as real's).
    ``model_sampling`` is the model's, for samplers that step differently on flow models."""

    def __init__(self, ctx: NodeContext, model: StandInModel, model_sampling: ModelSampling, guidance: Guidance,
                 batch: int, cfg_pp: bool) -> None:
        self.ctx, self.model, self.model_sampling, self.cfg = ctx, model, model_sampling, guidance.cfg
        device = devices.torch_device()
        self.positive = _text(guidance.positive, batch).to(device)
        skip = guidance.negative is None or (math.isclose(guidance.cfg, 1.0) and not cfg_pp)
        self.negative = None if skip else _text(guidance.negative, batch).to(device)
        self.uncond: Any = None

    def __call__(self, x: Any, sigma: Any) -> Any:
        self.ctx.check_interrupt()
        if self.negative is None:
            cond = self.model(x, sigma, self.positive, self.model_sampling)
            self.uncond = torch.zeros_like(cond)
            return cond
        both = self.model(torch.cat([x, x]), torch.cat([sigma, sigma]), torch.cat([self.positive, self.negative]),
                          self.model_sampling)
        cond, self.uncond = both.chunk(2)
        return self.uncond + (cond - self.uncond) * self.cfg


class Masked:
    """Only the masked area is sampled: elsewhere the model sees the input latent noised to the
    step's sigma (the model sampling's noise scaling), and its prediction is the input latent
    itself. The guider's uncond passes through unmasked, as real's post-cfg hook sees it."""

    def __init__(self, denoise: solvers.Denoiser, model_sampling: ModelSampling, mask: Any, latent: Any,
                 noise: Any) -> None:
        self.denoise, self.model_sampling, self.mask, self.latent, self.noise = (
            denoise, model_sampling, mask, latent, noise)
        self.keep = 1.0 - mask

    @property
    def uncond(self) -> Any:
        return getattr(self.denoise, "uncond", None)

    def __call__(self, x: Any, sigma: Any) -> Any:
        noised = self.model_sampling.noise_scaling(sigma.view(-1, 1, 1, 1), self.noise, self.latent)
        x = x * self.mask + noised * self.keep
        return self.denoise(x, sigma) * self.mask + self.latent * self.keep


def _mask(noise_mask: Any, shape: Any, device: Any) -> Any | None:
    """The LATENT's noise_mask resized (bilinear) to the latent and repeated over channels and batch."""
    if noise_mask is None:
        return None
    mask = torch.as_tensor(noise_mask).float().to(device)
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    mask = F.interpolate(mask, size=(shape[2], shape[3]), mode="bilinear")
    mask = mask.repeat(1, shape[1], 1, 1)
    repeats = -(-shape[0] // mask.shape[0])
    return mask.repeat(repeats, 1, 1, 1)[:shape[0]]


def _text(conditioning: Any, batch: int) -> Any:
    """The stand-in's reading of a CONDITIONING list: the mean of its entries' summaries,
    one row per latent in the batch."""
    rows = [summary(entry[0]).mean(dim=0, keepdim=True) for entry in conditioning]
    return torch.cat(rows).mean(dim=0, keepdim=True).repeat(batch, 1)


# ---- the nodes ---------------------------------------------------------------------------------
def ksampler(ctx: NodeContext, model: Any, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
             positive: Any, negative: Any, latent_image: Latent, denoise: float = 1.0, **_: Any) -> NodeResult:
    job = SamplingJob(model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise)
    return NodeResult((run(ctx, job),))


def ksampler_advanced(ctx: NodeContext, model: Any, add_noise: str, noise_seed: int, steps: int, cfg: float,
                      sampler_name: str, scheduler: str, positive: Any, negative: Any, latent_image: Latent,
                      start_at_step: int, end_at_step: int, return_with_leftover_noise: str,
                      denoise: float = 1.0, **_: Any) -> NodeResult:
    job = SamplingJob(model, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                      denoise, disable_noise=add_noise == "disable", start_step=start_at_step,
                      last_step=end_at_step, force_full_denoise=return_with_leftover_noise != "enable")
    return NodeResult((run(ctx, job),))


NODES: dict[str, NodeFunction] = {
    # Samplers spend their node time per step themselves.
    "KSampler": ksampler,
    "KSamplerAdvanced": ksampler_advanced,
}
