"""Loader nodes: checkpoints recognised by their tensor names, and the other model files.

No weights are ever read. A checkpoint's architecture is told from the names in its
safetensors header, the way ComfyUI's model detection tells it from the state dict's keys.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from fakecomfy.core.safetensors import SafetensorsError, read_header
from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import (
    ARCHITECTURES,
    Clip,
    ClipVision,
    ControlNet,
    Model,
    UpscaleModel,
    Vae,
)

MODEL_NOT_FOUND = "Model in folder '{folder}' with filename '{name}' not found."
UNDETECTED = "ERROR: Could not detect model type of: {path}\n{hint}"
LORA_HINT = ("\nHINT: This seems to be a Lora file and Lora files should be put in the lora folder "
             "and loaded with a lora loader node..")
CORRUPT_SAFETENSORS = ("Error while deserializing header: HeaderTooLarge\n\nFile path: {path}\n\n"
                       "The safetensors file is corrupt or invalid. Make sure this is actually a safetensors "
                       "file and not a ckpt or pt or other filetype.")
CHECKPOINT_UNET = "model.diffusion_model."

# CLIPLoader / DualCLIPLoader ``type`` → the architecture whose text embeddings it gives.
CLIP_TYPES = {"stable_diffusion": "sd15", "sdxl": "sdxl", "sd3": "sd3", "flux": "flux", "flux2": "flux"}


# ---- files ----------------------------------------------------------------------------------
def model_path(ctx: NodeContext, folder: str, name: str) -> Path:
    """ComfyUI's ``get_full_path_or_raise``."""
    found = ctx.env.files.paths.find_model(folder, name)
    if found is None:
        raise FileNotFoundError(MODEL_NOT_FOUND.format(folder=folder, name=name))
    return found


def tensor_keys(path: Path) -> dict[str, Any]:
    """The tensor entries of a model file's header (a corrupt file fails like ComfyUI's loader)."""
    try:
        header = read_header(path)
    except SafetensorsError:
        raise ValueError(CORRUPT_SAFETENSORS.format(path=path)) from None
    return {k: v for k, v in header.items() if k != "__metadata__"}


# ---- architecture detection -----------------------------------------------------------------
def unet_architecture(keys: dict[str, Any], prefix: str = "") -> str | None:
    """The diffusion model family of a state dict whose UNet/DiT keys start with ``prefix``."""
    def has(name: str) -> bool:
        return prefix + name in keys

    if has("double_blocks.0.img_attn.proj.weight"):
        return "flux"
    if has("joint_blocks.0.context_block.attn.qkv.weight"):
        return "sd3"
    if not has("input_blocks.0.0.weight"):
        return None
    if has("label_emb.0.0.weight"):
        if any(k.startswith("conditioner.embedders.1.") for k in keys):
            return "sdxl"
        if "conditioner.embedders.0.model.token_embedding.weight" in keys:
            return "sdxl_refiner"
        return "sdxl"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return "sd2"
    return "sd15"


def detect_checkpoint(path: Path, keys: dict[str, Any]) -> str:
    arch = unet_architecture(keys, CHECKPOINT_UNET)
    if arch is None:
        raise RuntimeError(UNDETECTED.format(path=path, hint=_hint(path)))
    return arch


def _hint(path: Path) -> str:
    return LORA_HINT if "lora" in os.path.basename(path).lower() else ""


def vae_channels(name: str, keys: dict[str, Any]) -> int:
    """Latent channels of a VAE file: from conv_in's shape, else from well-known names."""
    shape = keys.get("decoder.conv_in.weight", {}).get("shape")
    if isinstance(shape, list) and len(shape) == 4:
        return int(shape[1])
    lowered = os.path.basename(name).lower()
    return 16 if lowered == "ae.safetensors" or "flux" in lowered or "sd3" in lowered else 4


def _upscale_factor(name: str) -> int:
    found = re.search(r"(?<![0-9])([1-8])x|x([1-8])(?![0-9])", os.path.basename(name).lower())
    return int(found.group(1) or found.group(2)) if found else 4


# ---- checkpoints ----------------------------------------------------------------------------
def _checkpoint(ctx: NodeContext, ckpt_name: str) -> tuple[Model, Clip, Vae]:
    path = model_path(ctx, "checkpoints", ckpt_name)
    arch = detect_checkpoint(path, tensor_keys(path))
    channels = ARCHITECTURES[arch][0]
    return Model(arch, ckpt_name), Clip(arch, ckpt_name), Vae(ckpt_name, channels)


def checkpoint_loader_simple(ctx: NodeContext, ckpt_name: str, **_: Any) -> NodeResult:
    return NodeResult(_checkpoint(ctx, ckpt_name))


def checkpoint_loader(ctx: NodeContext, config_name: str, ckpt_name: str, **_: Any) -> NodeResult:
    model_path(ctx, "configs", config_name)
    return NodeResult(_checkpoint(ctx, ckpt_name))


def unclip_checkpoint_loader(ctx: NodeContext, ckpt_name: str, **_: Any) -> NodeResult:
    model, clip, vae = _checkpoint(ctx, ckpt_name)
    return NodeResult((model, clip, vae, ClipVision(ckpt_name)))


def image_only_checkpoint_loader(ctx: NodeContext, ckpt_name: str, **_: Any) -> NodeResult:
    model, _clip, vae = _checkpoint(ctx, ckpt_name)
    return NodeResult((model, ClipVision(ckpt_name), vae))


def unet_loader(ctx: NodeContext, unet_name: str, weight_dtype: str = "default", **_: Any) -> NodeResult:
    path = model_path(ctx, "diffusion_models", unet_name)
    keys = tensor_keys(path)
    arch = unet_architecture(keys) or unet_architecture(keys, CHECKPOINT_UNET)
    if arch is None:
        raise RuntimeError(UNDETECTED.format(path=path, hint=_hint(path)))
    return single(Model(arch, unet_name))


# ---- other model files ----------------------------------------------------------------------
def vae_loader(ctx: NodeContext, vae_name: str, **_: Any) -> NodeResult:
    if vae_name == "pixel_space" or vae_name.startswith("tae"):
        return single(Vae(vae_name, 16 if vae_name in ("taesd3", "taef1") else 4))
    path = model_path(ctx, "vae", vae_name)
    return single(Vae(vae_name, vae_channels(vae_name, tensor_keys(path))))


def clip_loader(ctx: NodeContext, clip_name: str, type: str = "stable_diffusion", **_: Any) -> NodeResult:
    model_path(ctx, "text_encoders", clip_name)
    return single(Clip(CLIP_TYPES.get(type, "sd15"), clip_name))


def dual_clip_loader(ctx: NodeContext, clip_name1: str, clip_name2: str, type: str, **_: Any) -> NodeResult:
    for name in (clip_name1, clip_name2):
        model_path(ctx, "text_encoders", name)
    return single(Clip(CLIP_TYPES.get(type, "flux"), f"{clip_name1}+{clip_name2}"))


def triple_clip_loader(ctx: NodeContext, clip_name1: str, clip_name2: str, clip_name3: str,
                       **_: Any) -> NodeResult:
    for name in (clip_name1, clip_name2, clip_name3):
        model_path(ctx, "text_encoders", name)
    return single(Clip("sd3", f"{clip_name1}+{clip_name2}+{clip_name3}"))


def lora_loader(ctx: NodeContext, model: Model, clip: Clip, lora_name: str, strength_model: float,
                strength_clip: float, **_: Any) -> NodeResult:
    if strength_model == 0 and strength_clip == 0:
        return NodeResult((model, clip))
    model_path(ctx, "loras", lora_name)
    patched_clip = Clip(clip.arch, clip.name, clip.layer, (*clip.patches, f"{lora_name}:{strength_clip}"))
    return NodeResult((model.patched(f"{lora_name}:{strength_model}"), patched_clip))


def lora_loader_model_only(ctx: NodeContext, model: Model, lora_name: str, strength_model: float,
                           **_: Any) -> NodeResult:
    if strength_model == 0:
        return single(model)
    model_path(ctx, "loras", lora_name)
    return single(model.patched(f"{lora_name}:{strength_model}"))


def controlnet_loader(ctx: NodeContext, control_net_name: str, **_: Any) -> NodeResult:
    model_path(ctx, "controlnet", control_net_name)
    return single(ControlNet(control_net_name))


def diff_controlnet_loader(ctx: NodeContext, model: Model, control_net_name: str, **_: Any) -> NodeResult:
    return controlnet_loader(ctx, control_net_name)


def upscale_model_loader(ctx: NodeContext, model_name: str, **_: Any) -> NodeResult:
    model_path(ctx, "upscale_models", model_name)
    return single(UpscaleModel(model_name, _upscale_factor(model_name)))


def clip_vision_loader(ctx: NodeContext, clip_name: str, **_: Any) -> NodeResult:
    model_path(ctx, "clip_vision", clip_name)
    return single(ClipVision(clip_name))


def clip_set_last_layer(ctx: NodeContext, clip: Clip, stop_at_clip_layer: int, **_: Any) -> NodeResult:
    return single(Clip(clip.arch, clip.name, stop_at_clip_layer, clip.patches))


NODES: dict[str, NodeFunction] = {
    "CheckpointLoaderSimple": timed(checkpoint_loader_simple),
    "CheckpointLoader": timed(checkpoint_loader),
    "unCLIPCheckpointLoader": timed(unclip_checkpoint_loader),
    "ImageOnlyCheckpointLoader": timed(image_only_checkpoint_loader),
    "UNETLoader": timed(unet_loader),
    "VAELoader": timed(vae_loader),
    "CLIPLoader": timed(clip_loader),
    "DualCLIPLoader": timed(dual_clip_loader),
    "TripleCLIPLoader": timed(triple_clip_loader),
    "LoraLoader": timed(lora_loader),
    "LoraLoaderModelOnly": timed(lora_loader_model_only),
    "ControlNetLoader": timed(controlnet_loader),
    "DiffControlNetLoader": timed(diff_controlnet_loader),
    "UpscaleModelLoader": timed(upscale_model_loader),
    "CLIPVisionLoader": timed(clip_vision_loader),
    "CLIPSetLastLayer": timed(clip_set_last_layer),
}
