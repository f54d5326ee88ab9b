"""KSampler and KSamplerAdvanced of the torch family: a real sampling loop over the stand-in
denoiser (:mod:`.denoiser`), with ComfyUI's noise, sigma schedules, cfg, denoise, start/end
steps, add_noise and noise masks.

As in real ComfyUI: one ProgressBar update per sampler step from the sampler's callback (value
``i + 1`` of the window's step count), a preview of the step's denoised latent when the prompt
asks for previews, the interrupt flag checked before every model call, and ``--node-time``
spent per step (interruptibly).
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
from fakecomfy.executors.torch import sampling, solvers
from fakecomfy.executors.torch.denoiser import StandInModel, load_model, summary
from fakecomfy.protocol import PreviewFormat

PREVIEW_SIZE = 512
# The latent formats' scale factors (process_latent_in multiplies a non-empty input latent).
SCALE_FACTORS = {"sd15": 0.18215, "sd2": 0.18215, "sdxl": 0.13025, "sdxl_refiner": 0.13025}
DEFAULT_SCALE = 0.18215
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
    sigmas = sampling.ksampler_sigmas(job.scheduler, job.sampler_name, job.steps, job.denoise)
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
    scale = SCALE_FACTORS.get(guidance.model.arch, DEFAULT_SCALE)
    empty = torch.count_nonzero(samples) == 0
    latent = samples if empty else samples * scale  # process_latent_in leaves an empty latent alone
    mask = _mask(noise_mask, latent.shape)
    # ddim is euler whose masked area is filled with its own noise of seed + 1
    inpaint_noise = sampling.prepare_noise(noise.shape, seed + 1) if sampler_name == "ddim" else noise
    first = sigmas[0]
    top = sampling.SD15.sigma_max
    max_denoise = math.isclose(top, float(first), rel_tol=1e-5) or float(first) > top
    x = noise * ((1.0 + first ** 2) ** 0.5 if max_denoise else first) + latent
    denoise: solvers.Denoiser = _Guided(ctx, model, guidance, latent.shape[0], cfg_pp="cfg_pp" in sampler_name)
    if mask is not None:
        denoise = _Masked(denoise, mask, latent, inpaint_noise)
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
    with torch.no_grad():
        result = algorithm(denoise, x, sigmas, seed, on_step)
    return Sampled(result / scale, last[0] / scale if last else None)  # process_latent_out


class _Guided:
    """The cfg denoiser: cond and uncond in one batched model call; without a negative, or at
    cfg 1 for samplers other than cfg++, the uncond pass is skipped. ``uncond`` keeps the last
    call's unconditional prediction for the cfg++ samplers (zeros without a negative, as real's)."""

    def __init__(self, ctx: NodeContext, model: StandInModel, guidance: Guidance, batch: int, cfg_pp: bool) -> None:
        self.ctx, self.model, self.cfg = ctx, model, guidance.cfg
        self.positive = _text(guidance.positive, batch)
        skip = guidance.negative is None or (math.isclose(guidance.cfg, 1.0) and not cfg_pp)
        self.negative = None if skip else _text(guidance.negative, batch)
        self.uncond: Any = None

    def __call__(self, x: Any, sigma: Any) -> Any:
        self.ctx.check_interrupt()
        if self.negative is None:
            cond = self.model(x, sigma, self.positive)
            self.uncond = torch.zeros_like(cond)
            return cond
        both = self.model(torch.cat([x, x]), torch.cat([sigma, sigma]), torch.cat([self.positive, self.negative]))
        cond, self.uncond = both.chunk(2)
        return self.uncond + (cond - self.uncond) * self.cfg


class _Masked:
    """Only the masked area is sampled: elsewhere the model sees the input latent noised to the
    step's sigma, and its prediction is the input latent itself. The guider's uncond passes
    through unmasked, as real's post-cfg hook sees it."""

    def __init__(self, denoise: solvers.Denoiser, mask: Any, latent: Any, noise: Any) -> None:
        self.denoise, self.mask, self.latent, self.noise = denoise, mask, latent, noise
        self.keep = 1.0 - mask

    @property
    def uncond(self) -> Any:
        return getattr(self.denoise, "uncond", None)

    def __call__(self, x: Any, sigma: Any) -> Any:
        s = sigma.view(-1, 1, 1, 1)
        x = x * self.mask + (self.noise * s + self.latent) * self.keep
        return self.denoise(x, sigma) * self.mask + self.latent * self.keep


def _mask(noise_mask: Any, shape: Any) -> Any | None:
    """The LATENT's noise_mask resized (bilinear) to the latent and repeated over channels and batch."""
    if noise_mask is None:
        return None
    mask = torch.as_tensor(noise_mask).float()
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
