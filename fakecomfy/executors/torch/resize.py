"""Resizing on tensors as ComfyUI's ``common_upscale`` does it.

``nearest-exact``, ``bilinear``, ``area`` and ``bicubic`` are torch's own interpolation (no
antialiasing, corners not aligned); ``lanczos`` goes through Pillow on 8-bit pictures, as real's
does (so it quantises to 1/255 steps); ``bislerp`` (latents only) is approximated by bilinear.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fakecomfy.executors.numpy.ops import center_crop

TORCH_MODES = frozenset({"nearest-exact", "bilinear", "area", "bicubic", "nearest"})


def lanczos(planes: Any, width: int, height: int) -> Any:
    """``[B, C, H, W]`` resized by Pillow's Lanczos filter on 8-bit pictures."""
    out = []
    for item in planes:
        pixels = np.clip(np.float32(255.0) * item.movedim(0, -1).cpu().numpy(), 0, 255).astype(np.uint8)
        if pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        resized = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS))
        plane = torch.from_numpy(resized.astype(np.float32) / np.float32(255.0))
        out.append(plane.reshape(height, width, -1).movedim(-1, 0))
    return torch.stack(out).to(planes.device, planes.dtype)


def upscale(planes: Any, width: int, height: int, method: str, crop: str = "disabled") -> Any:
    """``[B, C, H, W]`` (or ``[B, C, T, H, W]``) at ``width`` x ``height``; ``crop="center"``
    cuts to the target's aspect ratio first (the numpy family's crop: it only slices)."""
    shape = tuple(planes.shape)
    if len(shape) > 4:  # video latents: every frame as an item of the batch
        planes = planes.reshape(shape[0], shape[1], -1, shape[-2], shape[-1]).movedim(2, 1)
        planes = planes.reshape(-1, shape[1], shape[-2], shape[-1])
    if crop == "center":
        planes = center_crop(planes, width, height)
    if method == "lanczos":
        out = lanczos(planes, width, height)
    else:
        mode = method if method in TORCH_MODES else "bilinear"
        out = F.interpolate(planes, size=(height, width), mode=mode)
    if len(shape) == 4:
        return out
    out = out.reshape((shape[0], -1, shape[1], height, width)).movedim(2, 1)
    return out.reshape((*shape[:-2], height, width))


def resize_images(batch: Any, width: int, height: int, method: str = "bilinear", crop: str = "disabled") -> Any:
    """An IMAGE ``[B, H, W, C]`` at ``width`` x ``height``."""
    return upscale(batch.movedim(-1, 1), width, height, method, crop).movedim(1, -1)
