"""Resizing on tensors as ComfyUI's ``common_upscale`` does it.

``nearest-exact``, ``bilinear``, ``area`` and ``bicubic`` are torch's own interpolation (no
antialiasing, corners not aligned); ``lanczos`` goes through Pillow on 8-bit pictures, as real's
does (so it quantises to 1/255 steps); ``bislerp`` (for latents) interpolates each cell's channel
vector spherically between its two neighbours, along the width and then along the height.
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


def _neighbours(old: int, new: int, device: Any) -> tuple[Any, Any, Any]:
    """For each of ``new`` positions: the lower and upper source index and the fraction between
    them, at torch's bilinear (half-pixel, edge-clamped) source coordinates."""
    positions = torch.arange(old, dtype=torch.float32, device=device).reshape(1, 1, 1, -1)
    positions = F.interpolate(positions, size=(1, new), mode="bilinear").reshape(-1)
    lower = positions.to(torch.int64)
    return lower, torch.clamp(lower + 1, max=old - 1), positions - positions.floor()


def _slerp(first: Any, second: Any, ratio: Any) -> Any:
    """Rows ``[N, C]`` interpolated spherically by ``ratio`` ``[N, 1]``, the norms linearly;
    nearly equal directions keep ``first``, nearly opposite ones interpolate linearly."""
    first_norm = torch.linalg.vector_norm(first, dim=-1, keepdim=True)
    second_norm = torch.linalg.vector_norm(second, dim=-1, keepdim=True)
    first_unit = torch.where(first_norm == 0, 0.0, first / first_norm)
    second_unit = torch.where(second_norm == 0, 0.0, second / second_norm)
    cosine = (first_unit * second_unit).sum(dim=-1, keepdim=True)
    angle = torch.acos(cosine)
    sine = torch.sin(angle)
    out = torch.sin((1.0 - ratio) * angle) / sine * first_unit + torch.sin(ratio * angle) / sine * second_unit
    out = out * (first_norm * (1.0 - ratio) + second_norm * ratio)
    out = torch.where(cosine < 1e-5 - 1, first * (1.0 - ratio) + second * ratio, out)
    return torch.where(cosine > 1 - 1e-5, first, out)


def _bislerp_last_axis(planes: Any, size: int) -> Any:
    """``[B, C, H, W]`` slerped along W to ``size`` columns."""
    lower, upper, ratio = _neighbours(planes.shape[-1], size, planes.device)
    rows = planes.movedim(1, -1)  # [B, H, W, C]: one channel vector per cell
    first, second = rows[:, :, lower].reshape(-1, rows.shape[-1]), rows[:, :, upper].reshape(-1, rows.shape[-1])
    ratios = ratio.reshape(1, 1, -1).expand(rows.shape[0], rows.shape[1], -1).reshape(-1, 1)
    out = _slerp(first, second, ratios)
    return out.reshape(rows.shape[0], rows.shape[1], size, rows.shape[-1]).movedim(-1, 1)


def bislerp(planes: Any, width: int, height: int) -> Any:
    """``[B, C, H, W]`` at ``width`` x ``height`` by spherical interpolation of channel vectors."""
    wide = _bislerp_last_axis(planes.float(), width)
    out = _bislerp_last_axis(wide.transpose(-1, -2), height).transpose(-1, -2)
    return out.contiguous().to(planes.dtype)


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
    elif method == "bislerp":
        out = bislerp(planes, width, height)
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
