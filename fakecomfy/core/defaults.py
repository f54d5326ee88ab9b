"""The fresh default directory: our own example image and stand-in model files.

Stand-ins are tiny safetensors files whose tensor *names* are those of the real architecture,
so the executor can recognise them the way ComfyUI does, without any weights.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fakecomfy.core.safetensors import build_file

# Tensor names (not weights) that identify each family of checkpoint.
SD15_KEYS = {
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [1],
    "first_stage_model.decoder.conv_in.weight": [1],
    "first_stage_model.encoder.conv_in.weight": [1],
    "model.diffusion_model.input_blocks.0.0.weight": [1],
    "model.diffusion_model.out.2.weight": [1],
}
SDXL_KEYS = {
    "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": [1],
    "conditioner.embedders.1.model.token_embedding.weight": [1],
    "first_stage_model.decoder.conv_in.weight": [1],
    "first_stage_model.encoder.conv_in.weight": [1],
    "model.diffusion_model.input_blocks.0.0.weight": [1],
    "model.diffusion_model.label_emb.0.0.weight": [1],
    "model.diffusion_model.out.2.weight": [1],
}
SDXL_REFINER_KEYS = {
    "conditioner.embedders.0.model.token_embedding.weight": [1],
    "first_stage_model.decoder.conv_in.weight": [1],
    "first_stage_model.encoder.conv_in.weight": [1],
    "model.diffusion_model.input_blocks.0.0.weight": [1],
    "model.diffusion_model.label_emb.0.0.weight": [1],
}
FLUX_UNET_KEYS = {
    "double_blocks.0.img_attn.proj.weight": [1],
    "img_in.weight": [1],
    "final_layer.linear.weight": [1],
}
VAE_KEYS = {"decoder.conv_in.weight": [1], "encoder.conv_in.weight": [1]}
LORA_KEYS = {"lora_unet_input_blocks_1_1_proj_in.lora_down.weight": [1],
             "lora_unet_input_blocks_1_1_proj_in.lora_up.weight": [1]}
CONTROLNET_KEYS = {"control_model.input_hint_block.0.weight": [1], "control_model.zero_convs.0.0.weight": [1]}
UPSCALER_KEYS = {"conv_first.weight": [1], "body.0.rdb1.conv1.weight": [1], "conv_last.weight": [1]}
CLIP_L_KEYS = {"text_model.embeddings.token_embedding.weight": [1]}
T5_KEYS = {"encoder.block.0.layer.0.SelfAttention.q.weight": [1], "shared.weight": [1]}
CLIP_VISION_KEYS = {"vision_model.embeddings.patch_embedding.weight": [1]}

STANDINS: dict[str, dict[str, dict[str, list[int]]]] = {
    "checkpoints": {
        "v1-5-pruned-emaonly.ckpt": SD15_KEYS,
        "v1-5-pruned-emaonly.safetensors": SD15_KEYS,
        "v1-5-pruned-emaonly-fp16.safetensors": SD15_KEYS,
        "sd_xl_base_1.0.safetensors": SDXL_KEYS,
        "sd_xl_refiner_1.0.safetensors": SDXL_REFINER_KEYS,
    },
    "vae": {
        "vae-ft-mse-840000-ema-pruned.safetensors": VAE_KEYS,
        "sdxl_vae.safetensors": VAE_KEYS,
        "ae.safetensors": VAE_KEYS,
    },
    "loras": {"epiNoiseoffset_v2.safetensors": LORA_KEYS, "lcm-lora-sdv1-5.safetensors": LORA_KEYS},
    "controlnet": {
        "control_v11p_sd15_canny_fp16.safetensors": CONTROLNET_KEYS,
        "control_v11p_sd15_openpose_fp16.safetensors": CONTROLNET_KEYS,
        "control_v11p_sd15_scribble_fp16.safetensors": CONTROLNET_KEYS,
    },
    "upscale_models": {"RealESRGAN_x4plus.safetensors": UPSCALER_KEYS, "4x-UltraSharp.safetensors": UPSCALER_KEYS},
    "text_encoders": {
        "clip_l.safetensors": CLIP_L_KEYS,
        "t5xxl_fp16.safetensors": T5_KEYS,
        "t5xxl_fp8_e4m3fn.safetensors": T5_KEYS,
    },
    "diffusion_models": {"flux1-dev.safetensors": FLUX_UNET_KEYS, "flux1-schnell.safetensors": FLUX_UNET_KEYS},
    "clip_vision": {"clip_vision_g.safetensors": CLIP_VISION_KEYS},
}

# Which models/<dir> receives each folder's stand-ins.
_FOLDER_DIR = {"text_encoders": "text_encoders", "diffusion_models": "diffusion_models"}


@functools.lru_cache(maxsize=1)
def example_image(size: int = 768) -> bytes:
    """fakecomfy's own example picture: a sunset-like gradient with a few simple shapes.

    Drawn once per process (every server of a test session copies it into its input/) and
    stored with fast compression: a server's first start waits for it."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    rgb = np.stack([0.95 - 0.4 * y, 0.45 + 0.3 * x * (1 - y), 0.35 + 0.6 * y], axis=-1)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    s = size
    draw.ellipse((int(s * 0.55), int(s * 0.12), int(s * 0.85), int(s * 0.42)), fill=(255, 214, 102))
    draw.polygon([(0, int(s * 0.8)), (int(s * 0.35), int(s * 0.45)), (int(s * 0.7), int(s * 0.8))], fill=(60, 70, 110))
    draw.polygon([(int(s * 0.4), s), (int(s * 0.75), int(s * 0.55)), (s, int(s * 0.85)), (s, s)], fill=(40, 50, 80))
    draw.text((int(s * 0.04), int(s * 0.04)), "fakecomfy", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def populate(base: Path) -> None:
    """Fill ``base`` with input/example.png and the stand-in models, keeping existing files."""
    (base / "input").mkdir(parents=True, exist_ok=True)
    example = base / "input" / "example.png"
    if not example.exists():
        example.write_bytes(example_image())
    for folder, files in STANDINS.items():
        target = base / "models" / _FOLDER_DIR.get(folder, folder)
        target.mkdir(parents=True, exist_ok=True)
        for name, keys in files.items():
            path = target / name
            if not path.exists():
                path.write_bytes(build_file(keys, {"fakecomfy": "stand-in model file, no weights"}))


def populate_if_empty(base: Path) -> bool:
    """Populate ``base`` when it is missing or empty, as a container's fresh volume is; a directory
    that holds anything is left as it is, so a user's own models stay the only ones. True if it did."""
    if base.is_dir() and any(base.iterdir()):
        return False
    populate(base)
    return True
