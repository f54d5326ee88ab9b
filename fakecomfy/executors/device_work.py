"""What a node asks of a simulated GPU (:mod:`fakecomfy.core.gpu`), told from its input and
output values rather than its class name, so custom nodes that take the same values cost the
same: a MODEL with a LATENT samples, a CLIP without a MODEL encodes text, a VAE decodes a LATENT
or encodes an IMAGE, and a node that outputs models read them from disk.

Both executor families pass the numpy family's MODEL / CLIP / VAE / GUIDER / SAMPLER stand-ins
between nodes, and latents and images whose ``shape`` is that of real's tensors.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from fakecomfy.core.gpu import SimulatedDevice, Work
from fakecomfy.core.gpu_profiles import Family, family
from fakecomfy.executors.numpy.values import Clip, ControlNet, Guider, Model, Sampler, Vae

# Model evaluations per step of the samplers that make more than one (the last step of a
# second-order sampler makes one; the average is close enough for timing).
EVALS_PER_STEP = {
    "heun": 2.0, "heunpp2": 3.0, "dpm_2": 2.0, "dpm_2_ancestral": 2.0, "dpmpp_2s_ancestral": 2.0,
    "dpmpp_2s_ancestral_cfg_pp": 2.0, "dpmpp_sde": 2.0, "dpmpp_sde_gpu": 2.0, "exp_heun_2_x0": 2.0,
    "exp_heun_2_x0_sde": 2.0, "seeds_2": 2.0, "seeds_3": 3.0, "sa_solver_pece": 2.0, "dpm_adaptive": 3.0,
}
VAE_DECODE_PER_LATENT_PIXEL = 2178 * 64  # real's memory_used_decode of an AutoencoderKL, per dtype byte
VAE_ENCODE_PER_PIXEL = 1767  # real's memory_used_encode
# ControlNet files' sizes (fp16): SD1.5's control_v11 models 723 MB, SDXL's diffusers ones 2.5 GB,
# told apart by name as the files are (the stand-ins carry no size).
CONTROLNET_BYTES = {"sd15": 723_000_000, "sdxl": 2_500_000_000}


def controlnet_bytes(name: str) -> int:
    lowered = name.lower()
    return CONTROLNET_BYTES["sdxl" if "xl" in lowered else "sd15"]


def _controls(inputs: Mapping[str, Any], guider: Guider | None) -> list[tuple[str, int]]:
    """The ControlNets the conditioning of a sampler applies (by name, once each)."""
    conditionings = [guider.positive, guider.negative] if guider is not None else list(inputs.values())
    found: dict[str, int] = {}
    for value in conditionings:
        if not isinstance(value, list):
            continue
        for item in value:
            extra = item[1] if isinstance(item, (list, tuple)) and len(item) == 2 else None
            control = extra.get("control") if isinstance(extra, Mapping) else None
            if isinstance(control, ControlNet):
                found[control.name] = controlnet_bytes(control.name)
    return list(found.items())


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def _latent(inputs: Mapping[str, Any]) -> tuple[int, ...] | None:
    for value in inputs.values():
        if isinstance(value, Mapping) and "samples" in value:
            shape = _shape(value["samples"])
            if shape is not None and len(shape) >= 4:
                return shape
    return None


def _image(inputs: Mapping[str, Any]) -> tuple[int, ...] | None:
    for name in ("pixels", "image", "images"):
        shape = _shape(inputs.get(name))
        if shape is not None and len(shape) == 4:
            return shape
    return None


def _of(inputs: Mapping[str, Any], kind: type) -> Any:
    return next((v for v in inputs.values() if isinstance(v, kind)), None)


def before(gpu: SimulatedDevice, class_type: str, inputs: Mapping[str, Any]) -> Work:
    """The device work a node does before and while it runs (raises gpu.OutOfMemory)."""
    guider = _of(inputs, Guider)
    model = guider.model if guider is not None else _of(inputs, Model)
    latent = _latent(inputs)
    if model is not None and latent is not None:
        return _sampling(gpu, model, guider, latent, inputs)
    vae = _of(inputs, Vae)
    if vae is not None:
        return _vae(gpu, vae, latent, _image(inputs))
    clip = _of(inputs, Clip)
    if clip is not None and model is None and "Encode" in class_type:
        return gpu.text_encode(family(clip.arch), clip.name)
    return Work()


def _sampling(gpu: SimulatedDevice, model: Model, guider: Guider | None, latent: tuple[int, ...],
              inputs: Mapping[str, Any]) -> Work:
    batch, spatial = latent[0], latent[2:]
    frames = spatial[0] if len(spatial) == 3 else 1
    area = math.prod(spatial)
    fam = family(model.arch, frames)
    if guider is not None:
        cfg, negative = guider.cfg, guider.negative is not None
    else:
        cfg, negative = float(inputs.get("cfg", 1.0)), "negative" in inputs
    conds = 2 if negative and cfg != 1.0 else 1  # real skips the uncond at cfg 1
    sampler = inputs.get("sampler_name")
    if sampler is None:
        found = _of(inputs, Sampler)
        sampler = found.name if found is not None else "euler"
    evals = EVALS_PER_STEP.get(str(sampler), 1.0)
    return gpu.sampling(model.name, fam, batch, area, area * 64, conds, evals, _controls(inputs, guider))


def _vae_family(vae: Vae) -> Family:
    """A VAE's family by its latent channels: SD's 4-channel AutoencoderKL or the 16-channel one."""
    return family("flux" if vae.latent_channels == 16 else "sd15")


def _vae(gpu: SimulatedDevice, vae: Vae, latent: tuple[int, ...] | None, image: tuple[int, ...] | None) -> Work:
    fam = _vae_family(vae)
    dtype = gpu.profile.dtype_bytes
    if latent is not None:
        batch, area = latent[0], math.prod(latent[2:])
        per_item = VAE_DECODE_PER_LATENT_PIXEL * area * dtype
        return gpu.vae(fam, vae.name, batch * area * 64 / 1e6, decode=True, per_item=per_item)
    if image is not None:
        batch, height, width = image[0], image[1], image[2]
        per_item = VAE_ENCODE_PER_PIXEL * height * width * dtype
        return gpu.vae(fam, vae.name, batch * height * width / 1e6, decode=False, per_item=per_item)
    return Work()


def _part(value: Any) -> tuple[str, str, int] | None:
    """The model part a value is: (part, file name, bytes), or None."""
    if isinstance(value, Model):
        return "unet", value.name, family(value.arch).unet_bytes
    if isinstance(value, Clip):
        return "clip", value.name, family(value.arch).clip_bytes
    if isinstance(value, Vae):
        return "vae", value.name, _vae_family(value).vae_bytes
    if isinstance(value, ControlNet):
        return "controlnet", value.name, controlnet_bytes(value.name)
    return None


def live_parts(outputs: Iterable[Iterable[Any]]) -> set[tuple[str, str]]:
    """The model parts the cached outputs still hold (each node's outputs, in turn)."""
    held = (v.model if isinstance(v, Guider) else v for values in outputs for v in values)
    return {(p[0], p[1]) for p in map(_part, held) if p is not None}


def after(gpu: SimulatedDevice, outputs: Iterable[Any]) -> float:
    """Seconds a node that output models spent reading them from disk."""
    parts = [p for p in map(_part, outputs) if p is not None]
    return gpu.read(parts) if parts else 0.0


__all__ = ["CONTROLNET_BYTES", "EVALS_PER_STEP", "VAE_DECODE_PER_LATENT_PIXEL", "VAE_ENCODE_PER_PIXEL", "after",
           "before", "controlnet_bytes", "live_parts"]
