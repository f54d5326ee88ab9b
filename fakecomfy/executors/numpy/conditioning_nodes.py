"""CONDITIONING nodes: text encoding, combining and annotating conditioning, ControlNets."""
from __future__ import annotations

from typing import Any

import numpy as np

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import (
    TEXT_KEY,
    Clip,
    ClipVision,
    ControlNet,
    Opaque,
    encode_text,
    map_conditioning,
)

INVALID_CLIP = ("ERROR: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your "
                "checkpoint does not contain a valid clip or text encoder model.")
Conditioning = list[list[Any]]


def _encode(clip: Clip | None, text: str, **extra: Any) -> Conditioning:
    if clip is None:
        raise RuntimeError(INVALID_CLIP)
    return encode_text(clip, text, **extra)


# ---- text encoders --------------------------------------------------------------------------
def clip_text_encode(ctx: NodeContext, text: str, clip: Clip, **_: Any) -> NodeResult:
    return single(_encode(clip, text))


def clip_text_encode_sdxl(ctx: NodeContext, clip: Clip, width: int, height: int, crop_w: int, crop_h: int,
                          target_width: int, target_height: int, text_g: str, text_l: str,
                          **_: Any) -> NodeResult:
    text = text_g if text_g.strip() else text_l
    return single(_encode(clip, text, width=width, height=height, crop_w=crop_w, crop_h=crop_h,
                          target_width=target_width, target_height=target_height))


def clip_text_encode_sdxl_refiner(ctx: NodeContext, ascore: float, width: int, height: int, text: str,
                                  clip: Clip, **_: Any) -> NodeResult:
    return single(_encode(clip, text, aesthetic_score=ascore, width=width, height=height))


def clip_text_encode_flux(ctx: NodeContext, clip: Clip, clip_l: str, t5xxl: str, guidance: float,
                          **_: Any) -> NodeResult:
    return single(_encode(clip, t5xxl if t5xxl.strip() else clip_l, guidance=guidance))


# ---- combining ------------------------------------------------------------------------------
def conditioning_combine(ctx: NodeContext, conditioning_1: Conditioning, conditioning_2: Conditioning,
                         **_: Any) -> NodeResult:
    return single(conditioning_1 + conditioning_2)


def conditioning_average(ctx: NodeContext, conditioning_to: Conditioning, conditioning_from: Conditioning,
                         conditioning_to_strength: float, **_: Any) -> NodeResult:
    if not conditioning_from:
        return single(conditioning_to)
    source, source_options = conditioning_from[0]
    weight = np.float32(conditioning_to_strength)
    out = []
    for cond, options in conditioning_to:
        width = min(cond.shape[1], source.shape[1])
        mixed = cond.copy()
        mixed[:, :width] = cond[:, :width] * weight + source[:, :width] * (1 - weight)
        updated = dict(options)
        if "pooled_output" in options and "pooled_output" in source_options:
            updated["pooled_output"] = (options["pooled_output"] * weight
                                        + source_options["pooled_output"] * (1 - weight))
        out.append([mixed, updated])
    return single(out)


def conditioning_concat(ctx: NodeContext, conditioning_to: Conditioning, conditioning_from: Conditioning,
                        **_: Any) -> NodeResult:
    if not conditioning_from:
        return single(conditioning_to)
    source = conditioning_from[0][0]
    return single([[np.concatenate([cond, source], axis=1), dict(options)] for cond, options in conditioning_to])


def conditioning_zero_out(ctx: NodeContext, conditioning: Conditioning, **_: Any) -> NodeResult:
    out = []
    for cond, options in conditioning:
        updated = {**options, TEXT_KEY: ""}
        for key in ("pooled_output", "lyrics_strength"):
            if isinstance(options.get(key), np.ndarray):
                updated[key] = np.zeros_like(options[key])
        out.append([np.zeros_like(cond), updated])
    return single(out)


# ---- annotating -----------------------------------------------------------------------------
def conditioning_set_area(ctx: NodeContext, conditioning: Conditioning, width: int, height: int, x: int, y: int,
                          strength: float, **_: Any) -> NodeResult:
    area = (height // 8, width // 8, y // 8, x // 8)
    return single(map_conditioning(conditioning, {"area": area, "strength": strength,
                                                  "set_area_to_bounds": False}))


def conditioning_set_area_percentage(ctx: NodeContext, conditioning: Conditioning, width: float, height: float,
                                     x: float, y: float, strength: float, **_: Any) -> NodeResult:
    area = ("percentage", height, width, y, x)
    return single(map_conditioning(conditioning, {"area": area, "strength": strength,
                                                  "set_area_to_bounds": False}))


def conditioning_set_area_strength(ctx: NodeContext, conditioning: Conditioning, strength: float,
                                   **_: Any) -> NodeResult:
    return single(map_conditioning(conditioning, {"strength": strength}))


def conditioning_set_mask(ctx: NodeContext, conditioning: Conditioning, mask: np.ndarray, strength: float,
                          set_cond_area: str, **_: Any) -> NodeResult:
    update = {"mask": ops.as_mask_batch(mask), "set_area_to_bounds": set_cond_area != "default",
              "mask_strength": strength}
    return single(map_conditioning(conditioning, update))


def conditioning_set_timestep_range(ctx: NodeContext, conditioning: Conditioning, start: float, end: float,
                                    **_: Any) -> NodeResult:
    return single(map_conditioning(conditioning, {"start_percent": start, "end_percent": end}))


def flux_guidance(ctx: NodeContext, conditioning: Conditioning, guidance: float, **_: Any) -> NodeResult:
    return single(map_conditioning(conditioning, {"guidance": guidance}))


# ---- control --------------------------------------------------------------------------------
def controlnet_apply(ctx: NodeContext, conditioning: Conditioning, control_net: ControlNet, image: np.ndarray,
                     strength: float, **_: Any) -> NodeResult:
    if strength == 0:
        return single(conditioning)
    return single(map_conditioning(conditioning, {"control": control_net, "control_apply_to_uncond": True}))


def controlnet_apply_advanced(ctx: NodeContext, positive: Conditioning, negative: Conditioning,
                              control_net: ControlNet, image: np.ndarray, strength: float, start_percent: float,
                              end_percent: float, **_: Any) -> NodeResult:
    if strength == 0:
        return NodeResult((positive, negative))
    update = {"control": control_net, "control_apply_to_uncond": False}
    return NodeResult((map_conditioning(positive, update), map_conditioning(negative, update)))


def clip_vision_encode(ctx: NodeContext, clip_vision: ClipVision, image: np.ndarray, crop: str = "center",
                       **_: Any) -> NodeResult:
    return single(Opaque("CLIP_VISION_OUTPUT", {"source": clip_vision.name, "batch": int(image.shape[0])}))


NODES: dict[str, NodeFunction] = {
    "CLIPTextEncode": timed(clip_text_encode),
    "CLIPTextEncodeSDXL": timed(clip_text_encode_sdxl),
    "CLIPTextEncodeSDXLRefiner": timed(clip_text_encode_sdxl_refiner),
    "CLIPTextEncodeFlux": timed(clip_text_encode_flux),
    "ConditioningCombine": timed(conditioning_combine),
    "ConditioningAverage": timed(conditioning_average),
    "ConditioningConcat": timed(conditioning_concat),
    "ConditioningZeroOut": timed(conditioning_zero_out),
    "ConditioningSetArea": timed(conditioning_set_area),
    "ConditioningSetAreaPercentage": timed(conditioning_set_area_percentage),
    "ConditioningSetAreaStrength": timed(conditioning_set_area_strength),
    "ConditioningSetMask": timed(conditioning_set_mask),
    "ConditioningSetTimestepRange": timed(conditioning_set_timestep_range),
    "FluxGuidance": timed(flux_guidance),
    "ControlNetApply": timed(controlnet_apply),
    "ControlNetApplyAdvanced": timed(controlnet_apply_advanced),
    "CLIPVisionEncode": timed(clip_vision_encode),
}
