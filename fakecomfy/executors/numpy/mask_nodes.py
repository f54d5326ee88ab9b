"""MASK nodes, and the nodes that move pixels between IMAGE, alpha and MASK."""
from __future__ import annotations

from typing import Any

import numpy as np

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops
from fakecomfy.executors.numpy.registry import single, timed

IMAGE_CHANNELS = ("red", "green", "blue", "alpha")


def image_to_mask(ctx: NodeContext, image: np.ndarray, channel: str, **_: Any) -> NodeResult:
    return single(np.ascontiguousarray(image[..., IMAGE_CHANNELS.index(channel)]))


def mask_to_image(ctx: NodeContext, mask: np.ndarray, **_: Any) -> NodeResult:
    masks = ops.as_mask_batch(mask)
    return single(np.repeat(masks[..., None], 3, axis=-1))


def image_color_to_mask(ctx: NodeContext, image: np.ndarray, color: int, **_: Any) -> NodeResult:
    rgb = np.round(np.clip(image[..., :3], 0, 1) * 255).astype(np.int64)
    packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
    return single((packed == color).astype(np.float32))


def solid_mask(ctx: NodeContext, value: float, width: int, height: int, **_: Any) -> NodeResult:
    return single(np.full((1, height, width), value, dtype=np.float32))


def invert_mask(ctx: NodeContext, mask: np.ndarray, **_: Any) -> NodeResult:
    return single(1.0 - mask)  # a float on the left, as real computes it (its errors name a float)


def crop_mask(ctx: NodeContext, mask: np.ndarray, x: int, y: int, width: int, height: int, **_: Any) -> NodeResult:
    return single(ops.as_mask_batch(mask)[:, y:y + height, x:x + width].copy())


def threshold_mask(ctx: NodeContext, mask: np.ndarray, value: float, **_: Any) -> NodeResult:
    return single((mask > value).astype(np.float32))


_COMBINE = {
    "multiply": lambda d, s: d * s,
    "add": lambda d, s: d + s,
    "subtract": lambda d, s: d - s,
    "and": lambda d, s: (np.round(d).astype(bool) & np.round(s).astype(bool)).astype(np.float32),
    "or": lambda d, s: (np.round(d).astype(bool) | np.round(s).astype(bool)).astype(np.float32),
    "xor": lambda d, s: (np.round(d).astype(bool) ^ np.round(s).astype(bool)).astype(np.float32),
}


def mask_composite(ctx: NodeContext, destination: np.ndarray, source: np.ndarray, x: int, y: int, operation: str,
                   **_: Any) -> NodeResult:
    out = ops.as_mask_batch(destination).astype(np.float32, copy=True)
    source = ops.as_mask_batch(source)
    bottom, right = min(y + source.shape[-2], out.shape[-2]), min(x + source.shape[-1], out.shape[-1])
    region = out[:, y:bottom, x:right]
    region[...] = _COMBINE[operation](region, source[:, :bottom - y, :right - x])
    return single(np.clip(out, 0, 1))


def feather_mask(ctx: NodeContext, mask: np.ndarray, left: int, top: int, right: int, bottom: int,
                 **_: Any) -> NodeResult:
    out = ops.as_mask_batch(mask).astype(np.float32, copy=True)
    h, w = out.shape[-2:]
    left, right, top, bottom = min(left, w), min(right, w), min(top, h), min(bottom, h)
    for x in range(left):
        out[:, :, x] *= (x + 1) / left
    # Quirk of ComfyUI: the right and bottom ramps index -0 first, i.e. the left/top edge.
    for x in range(right):
        out[:, :, -x] *= (x + 1) / right
    for y in range(top):
        out[:, y, :] *= (y + 1) / top
    for y in range(bottom):
        out[:, -y, :] *= (y + 1) / bottom
    return single(out)


def grow_mask(ctx: NodeContext, mask: np.ndarray, expand: int, tapered_corners: bool = True,
              **_: Any) -> NodeResult:
    """Grey dilation (or erosion for a negative ``expand``) with a 3x3 cross or square, repeated."""
    out = ops.as_mask_batch(mask).astype(np.float32, copy=True)
    pick = np.maximum if expand > 0 else np.minimum
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
               if not (tapered_corners and dy and dx)]
    h, w = out.shape[-2:]
    for _step in range(abs(expand)):
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1)), mode="edge")
        result = out.copy()
        for dy, dx in offsets:
            pick(result, padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w], out=result)
        out = result
    return single(out)


def join_image_with_alpha(ctx: NodeContext, image: np.ndarray, alpha: np.ndarray, **_: Any) -> NodeResult:
    count = min(len(image), len(ops.as_mask_batch(alpha)))
    h, w = image.shape[1:3]
    opacity = 1 - ops.resize_planes(ops.as_mask_batch(alpha), w, h, "bilinear")
    return single(np.concatenate([image[:count, ..., :3], opacity[:count, ..., None]], axis=-1))


def split_image_with_alpha(ctx: NodeContext, image: np.ndarray, **_: Any) -> NodeResult:
    rgb = np.ascontiguousarray(image[..., :3])
    alpha = image[..., 3] if image.shape[-1] > 3 else np.ones(image.shape[:3], dtype=np.float32)
    return NodeResult((rgb, 1 - alpha))


NODES: dict[str, NodeFunction] = {
    "ImageToMask": timed(image_to_mask),
    "MaskToImage": timed(mask_to_image),
    "ImageColorToMask": timed(image_color_to_mask),
    "SolidMask": timed(solid_mask),
    "InvertMask": timed(invert_mask),
    "CropMask": timed(crop_mask),
    "ThresholdMask": timed(threshold_mask),
    "MaskComposite": timed(mask_composite),
    "FeatherMask": timed(feather_mask),
    "GrowMask": timed(grow_mask),
    "JoinImageWithAlpha": timed(join_image_with_alpha),
    "SplitImageWithAlpha": timed(split_image_with_alpha),
}
