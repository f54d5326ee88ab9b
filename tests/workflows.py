"""Prompt builders the engine and WebSocket tests share (API-format workflows)."""
from __future__ import annotations

from typing import Any

SD15 = "v1-5-pruned-emaonly.safetensors"
Prompt = dict[str, dict[str, Any]]


def empty_save(*, prefix: str, color: int = 0, width: int = 64) -> Prompt:
    """EmptyImage -> SaveImage, the smallest prompt with an output."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": width, "height": 64, "batch_size": 1,
                                                          "color": color}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}}}


def blur_chain() -> Prompt:
    """1 EmptyImage → 2 ImageBlur → 3 ImageScale → 4 PreviewImage (the 'long' prompt, small)."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                          "color": 1234567}},
            "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0}},
            "3": {"class_type": "ImageScale", "inputs": {"image": ["2", 0], "upscale_method": "nearest-exact",
                                                          "width": 32, "height": 32, "crop": "disabled"}},
            "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}}


def txt2img(*, prefix: str, steps: int, width: int = 64, height: int = 64, seed: int = 1, denoise: float = 1.0,
            ckpt: str = SD15) -> Prompt:
    """The SD1.5 text-to-image graph of ComfyUI's default workflow (node ids 3-9)."""
    return {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": denoise, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": prefix}},
    }
