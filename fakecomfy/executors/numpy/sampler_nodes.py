"""Samplers: KSampler, KSamplerAdvanced, SamplerCustom(Advanced) and their helper nodes.

A fake sampler "denoises" from a base picture (the input latent's picture, or seeded noise for
an empty latent) towards :func:`fakecomfy.images.draw` of the seed and the positive prompt.
It draws its pictures a share per step (:mod:`.canvas`), reports one ProgressBar update per
step, spends the configured ``--node-time`` per step (interruptibly, like a real sampler that
checks the flag in every layer) and, when the prompt asked for previews, shows the latent of
each step through our latent2rgb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fakecomfy import images
from fakecomfy.core.execution import Preview
from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops
from fakecomfy.executors.numpy.canvas import Canvas
from fakecomfy.executors.numpy.latent_nodes import CHANNELS_ERROR, CONV2D_INPUT_ERROR
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import (
    LATENT_SCALE,
    Guider,
    Model,
    Noise,
    Picture,
    Sampler,
    conditioning_text,
    picture_of,
    text_rng,
    with_samples,
)
from fakecomfy.protocol import PreviewFormat

PREVIEW_SIZE = 512
UNET_IN_WIDTH = 320  # output channels of the UNet's first conv, as its error message shows them
Latent = dict[str, Any]


@dataclass
class SamplingJob:
    """One sampler run: what to draw, from what, and in how many reported steps."""

    model: Model
    seed: int
    positive: Any
    negative: Any
    latent: Latent
    steps: int  # ProgressBar updates (the window's steps)
    fraction: float  # how far from the base picture towards the target this run goes
    settings: str  # other inputs that change the picture
    cfg: float = 1.0
    add_noise: bool = True


# ---- the run --------------------------------------------------------------------------------
def run(ctx: NodeContext, job: SamplingJob) -> Latent:
    carried = picture_of(job.latent)
    samples = fix_empty_channels(job.model, job.latent["samples"])
    if job.steps <= 0:  # nothing to sample: the model never runs
        return with_samples(job.latent, samples, carried)
    check_runnable(job.model, samples, job.cfg)
    batch, _, height, width = samples.shape
    seed = job.seed
    if not job.add_noise and carried is not None:
        seed = carried.seed  # no new noise: keep drawing the picture the latent came from
    targets = _targets(job, seed, batch, width * LATENT_SCALE, height * LATENT_SCALE)
    if ops.is_empty(samples) and job.add_noise:
        base = _noise(seed, batch, width, height)
    else:
        base = carried.pixels if carried is not None else _decoded(samples)
    weights = None
    mask = job.latent.get("noise_mask")
    if mask is not None:
        planes = ops.resize_planes(ops.as_mask_batch(mask), width * LATENT_SCALE, height * LATENT_SCALE)
        weights = ops.repeat_to(planes, batch)
    canvas = Canvas(targets, base, job.fraction, weights)
    _run_steps(ctx, job.steps, canvas)
    pixels, means = canvas.finish()
    out = _to_model_channels(np.stack([images.rgb_to_latent(m) for m in means]), job.model.latent_channels)
    return with_samples(job.latent, out, Picture(pixels, seed))


def fix_empty_channels(model: Model, samples: np.ndarray) -> np.ndarray:
    """ComfyUI quietly gives an all-zero latent the model's channel count."""
    channels = model.latent_channels
    if samples.shape[1] != channels and ops.is_empty(samples):
        return np.zeros((samples.shape[0], channels, *samples.shape[2:]), dtype=np.float32)
    return samples


def check_runnable(model: Model, samples: np.ndarray, cfg: float) -> None:
    """The failures ComfyUI's UNet gives for latents it cannot take (before any progress)."""
    channels = model.latent_channels
    # cond and uncond run as one batch unless cfg is 1, where ComfyUI skips the uncond pass
    batch = samples.shape[0] * (1 if math.isclose(cfg, 1.0) else 2)
    shape = [batch, *samples.shape[1:]]
    if samples.ndim != 4:
        raise RuntimeError(CONV2D_INPUT_ERROR.format(shape=shape))
    if samples.shape[1] != channels:
        weight = [UNET_IN_WIDTH, channels, 3, 3]
        raise RuntimeError(CHANNELS_ERROR.format(weight=weight, shape=shape, expected=channels,
                                                 got=samples.shape[1]))


def _targets(job: SamplingJob, seed: int, batch: int, width: int, height: int) -> list[images.Drawing]:
    text = conditioning_text(job.positive)
    variant = "|".join((conditioning_text(job.negative), job.settings, job.model.arch, job.model.name,
                        ",".join(job.model.patches)))
    indexes = job.latent.get("batch_index") or list(range(batch))
    return [images.draw(seed, text, width, height, f"{variant}|{indexes[i % len(indexes)]}") for i in range(batch)]


def _noise(seed: int, batch: int, width: int, height: int) -> np.ndarray:
    """What an all-noise latent looks like decoded: colour noise, one colour per cell."""
    return text_rng("noise", seed).random((batch, height, width, 3), dtype=np.float32)


def _decoded(samples: np.ndarray) -> np.ndarray:
    four = samples if samples.shape[1] == 4 else np.stack([images.fold_channels(s) for s in samples])
    return np.clip(ops.latent_to_pixels(four), 0, 1)


def _to_model_channels(four: np.ndarray, channels: int) -> np.ndarray:
    return four if channels == 4 else np.ascontiguousarray(four[:, np.arange(channels) % 4])


def _run_steps(ctx: NodeContext, steps: int, canvas: Canvas) -> None:
    """Per step: draw the step's share of the pictures, spend the step's time (both
    interruptible), then a ProgressBar update with a preview when asked."""
    start = end = None
    if ctx.sampler_previews:
        start = images.rgb_to_latent(canvas.preview_start())[None]
        end = images.rgb_to_latent(canvas.preview_means())[None]
    for step in range(1, steps + 1):
        canvas.draw(len(canvas.slices) * step // steps, ctx.check_interrupt)
        ctx.sleep(ctx.node_time, interruptible=True)
        preview = None
        if start is not None and end is not None:
            current = start + (end - start) * np.float32(step / steps)
            preview = Preview(images.latent_preview(current), PreviewFormat.JPEG, max_size=PREVIEW_SIZE)
        ctx.progress(step, steps, preview)


# ---- KSampler -------------------------------------------------------------------------------
def ksampler(ctx: NodeContext, model: Model, seed: int, steps: int, cfg: float, sampler_name: str,
             scheduler: str, positive: Any, negative: Any, latent_image: Latent, denoise: float = 1.0,
             **_: Any) -> NodeResult:
    settings = f"{steps}|{cfg}|{sampler_name}|{scheduler}|{denoise}"
    job = SamplingJob(model, seed, positive, negative, latent_image, steps, denoise, settings, cfg)
    return single(run(ctx, job))


def ksampler_advanced(ctx: NodeContext, model: Model, add_noise: str, noise_seed: int, steps: int, cfg: float,
                      sampler_name: str, scheduler: str, positive: Any, negative: Any, latent_image: Latent,
                      start_at_step: int, end_at_step: int, return_with_leftover_noise: str,
                      denoise: float = 1.0, **_: Any) -> NodeResult:
    last = min(end_at_step, steps)
    window = max(0, last - start_at_step)  # ProgressBar max is the window's step count
    full = return_with_leftover_noise != "enable"
    fraction = 1.0 if full else window / max(1, steps - start_at_step)
    settings = f"{steps}|{cfg}|{sampler_name}|{scheduler}|{denoise}"
    job = SamplingJob(model, noise_seed, positive, negative, latent_image, window, fraction, settings, cfg,
                      add_noise != "disable")
    return single(run(ctx, job))


# ---- SamplerCustom and its parts --------------------------------------------------------------
def _custom(ctx: NodeContext, model: Model, noise: Noise, cfg: float, positive: Any, negative: Any,
            sampler: Sampler, sigmas: np.ndarray, latent: Latent) -> NodeResult:
    steps = int(np.asarray(sigmas).shape[-1]) - 1
    settings = f"{getattr(sampler, 'name', sampler)}|{cfg}|{np.asarray(sigmas).round(4).tolist()}"
    job = SamplingJob(model, noise.seed, positive, negative, latent, steps, 1.0, settings, cfg, noise.enabled)
    out = run(ctx, job)
    return NodeResult((out, dict(out)))


def sampler_custom(ctx: NodeContext, model: Model, add_noise: bool, noise_seed: int, cfg: float, positive: Any,
                   negative: Any, sampler: Sampler, sigmas: np.ndarray, latent_image: Latent,
                   **_: Any) -> NodeResult:
    return _custom(ctx, model, Noise(noise_seed, bool(add_noise)), cfg, positive, negative, sampler, sigmas,
                   latent_image)


def sampler_custom_advanced(ctx: NodeContext, noise: Noise, guider: Guider, sampler: Sampler, sigmas: np.ndarray,
                            latent_image: Latent, **_: Any) -> NodeResult:
    return _custom(ctx, guider.model, noise, guider.cfg, guider.positive, guider.negative, sampler, sigmas,
                   latent_image)


def basic_scheduler(ctx: NodeContext, model: Model, scheduler: str, steps: int, denoise: float,
                    **_: Any) -> NodeResult:
    total = steps
    if denoise < 1.0:
        if denoise <= 0.0:
            return single(np.zeros((0,), dtype=np.float32))
        total = int(steps / denoise)
    sigmas = np.append(np.geomspace(14.6146, 0.0292, total), 0.0).astype(np.float32)
    return single(sigmas[-(steps + 1):])


def ksampler_select(ctx: NodeContext, sampler_name: str, **_: Any) -> NodeResult:
    return single(Sampler(sampler_name))


def random_noise(ctx: NodeContext, noise_seed: int, **_: Any) -> NodeResult:
    return single(Noise(noise_seed))


def disable_noise(ctx: NodeContext, **_: Any) -> NodeResult:
    return single(Noise(0, enabled=False))


def cfg_guider(ctx: NodeContext, model: Model, positive: Any, negative: Any, cfg: float, **_: Any) -> NodeResult:
    return single(Guider(model, positive, negative, cfg))


def basic_guider(ctx: NodeContext, model: Model, conditioning: Any, **_: Any) -> NodeResult:
    return single(Guider(model, conditioning, None, 1.0))


NODES: dict[str, NodeFunction] = {
    # Samplers spend their node time per step themselves, so they are not wrapped in timed().
    "KSampler": ksampler,
    "KSamplerAdvanced": ksampler_advanced,
    "SamplerCustom": sampler_custom,
    "SamplerCustomAdvanced": sampler_custom_advanced,
    "BasicScheduler": timed(basic_scheduler),
    "KSamplerSelect": timed(ksampler_select),
    "RandomNoise": timed(random_noise),
    "DisableNoise": timed(disable_noise),
    "CFGGuider": timed(cfg_guider),
    "BasicGuider": timed(basic_guider),
}
