"""IMAGE nodes: making, loading, scaling, filtering, combining and batching pictures."""
from __future__ import annotations

import struct
from typing import Any

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import UpscaleModel

NO_ALPHA_MASK_SIZE = 64  # ComfyUI's LoadImage gives a 64x64 empty mask for opaque pictures


def empty_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1, color: int = 0,
                **_: Any) -> NodeResult:
    # One float32 pixel (struct rounds each value to float32 exactly as numpy does) viewed over
    # the whole batch: no pixel memory at all, and savers recognise a solid picture. The view is
    # read-only because bytes are (nodes never write into their inputs, so sharing is safe).
    # Built with the ndarray constructor: np.array and np.broadcast_to take much slower paths.
    pixel = _RGB_FLOAT32.pack(*(((color >> shift) & 0xFF) / 0xFF for shift in (16, 8, 0)))
    picture = np.ndarray((batch_size, height, width, 3), dtype=np.float32, buffer=pixel,
                         strides=(0, 0, 0, _RGB_FLOAT32.size // 3))
    return single(picture)


_RGB_FLOAT32 = struct.Struct("=3f")


# ---- loading --------------------------------------------------------------------------------
def load_image(ctx: NodeContext, image: str, **_: Any) -> NodeResult:
    """Every frame of the file that has the first frame's size; alpha becomes an inverted MASK."""
    path = str(ctx.env.files.annotated_path(image))
    pictures: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    with Image.open(path) as img:
        for frame in ImageSequence.Iterator(img):
            frame = ImageOps.exif_transpose(frame)
            if frame.mode == "I":
                frame = frame.point(lambda v: v * (1 / 255))
            rgb = frame.convert("RGB")
            if pictures and rgb.size != (pictures[0].shape[1], pictures[0].shape[0]):
                continue
            pictures.append(np.asarray(rgb, dtype=np.float32) / np.float32(255))
            masks.append(_alpha_mask(frame))
            if img.format == "MPO":
                break  # like ComfyUI: only the first picture of an MPO file
    return NodeResult((np.stack(pictures), np.stack(masks)))


def _alpha_mask(frame: Image.Image) -> np.ndarray:
    if "A" in frame.getbands():
        alpha = frame.getchannel("A")
    elif frame.mode == "P" and "transparency" in frame.info:
        alpha = frame.convert("RGBA").getchannel("A")
    else:
        return np.zeros((NO_ALPHA_MASK_SIZE, NO_ALPHA_MASK_SIZE), dtype=np.float32)
    return 1 - np.asarray(alpha, dtype=np.float32) / np.float32(255)


def load_image_mask(ctx: NodeContext, image: str, channel: str, **_: Any) -> NodeResult:
    path = str(ctx.env.files.annotated_path(image))
    with Image.open(path) as img:
        frame = ImageOps.exif_transpose(img)
        if frame.getbands() != ("R", "G", "B", "A"):
            if frame.mode == "I":
                frame = frame.point(lambda v: v * (1 / 255))
            frame = frame.convert("RGBA")
        band = channel[0].upper()
        if band not in frame.getbands():
            return single(np.zeros((1, NO_ALPHA_MASK_SIZE, NO_ALPHA_MASK_SIZE), dtype=np.float32))
        mask = np.asarray(frame.getchannel(band), dtype=np.float32) / np.float32(255)
    return single((1 - mask if band == "A" else mask)[None])


# ---- scaling --------------------------------------------------------------------------------
def scale_target(shape: tuple[int, ...], width: int, height: int) -> tuple[int, int] | None:
    """ImageScale's size for a ``[B,H,W,C]`` batch: a 0 side keeps the aspect ratio, both 0
    keep the picture (None)."""
    if width == 0 and height == 0:
        return None
    h, w = shape[1:3]
    if width == 0:
        width = max(1, round(w * height / h))
    elif height == 0:
        height = max(1, round(h * width / w))
    return width, height


def image_scale(ctx: NodeContext, image: np.ndarray, upscale_method: str, width: int, height: int,
                crop: str = "disabled", **_: Any) -> NodeResult:
    target = scale_target(image.shape, width, height)
    if target is None:
        return single(image)
    return single(ops.resize_images(image, *target, upscale_method, crop))


def image_scale_by(ctx: NodeContext, image: np.ndarray, upscale_method: str, scale_by: float,
                   **_: Any) -> NodeResult:
    h, w = image.shape[1:3]
    return single(ops.resize_images(image, round(w * scale_by), round(h * scale_by), upscale_method))


def image_scale_to_total_pixels(ctx: NodeContext, image: np.ndarray, upscale_method: str, megapixels: float,
                                resolution_steps: int = 1, **_: Any) -> NodeResult:
    h, w = image.shape[1:3]
    scale = (megapixels * 1024 * 1024 / (w * h)) ** 0.5
    step = max(1, resolution_steps)
    width, height = round(w * scale / step) * step, round(h * scale / step) * step
    return single(ops.resize_images(image, max(step, width), max(step, height), upscale_method))


def image_upscale_with_model(ctx: NodeContext, upscale_model: UpscaleModel, image: np.ndarray,
                             **_: Any) -> NodeResult:
    h, w = image.shape[1:3]
    scale = getattr(upscale_model, "scale", 4)
    return single(np.clip(ops.resize_images(image[..., :3], w * scale, h * scale, "bicubic"), 0, 1))


# ---- filters --------------------------------------------------------------------------------
def image_invert(ctx: NodeContext, image: np.ndarray, **_: Any) -> NodeResult:
    return single(1.0 - image)  # a float on the left, as real computes it (its errors name a float)


def image_blur(ctx: NodeContext, image: np.ndarray, blur_radius: int, sigma: float, **_: Any) -> NodeResult:
    if blur_radius == 0:
        return single(image)
    return single(ops.gaussian_blur(image, blur_radius, sigma))


def image_sharpen(ctx: NodeContext, image: np.ndarray, sharpen_radius: int, sigma: float, alpha: float,
                  **_: Any) -> NodeResult:
    if sharpen_radius == 0:
        return single(image)
    # ComfyUI's kernel is (1 + a) at the centre minus a times the blur kernel, a = 10 * alpha.
    amount = np.float32(alpha * 10)
    blurred = ops.gaussian_blur(image, sharpen_radius, sigma)
    return single(np.clip((1 + amount) * image - amount * blurred, 0, 1))


def _blend_mode(a: np.ndarray, b: np.ndarray, mode: str) -> np.ndarray:
    if mode == "normal":
        return b
    if mode == "multiply":
        return a * b
    if mode == "screen":
        return 1 - (1 - a) * (1 - b)
    if mode == "overlay":
        return np.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b))
    if mode == "soft_light":
        g = np.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, np.sqrt(a))
        return np.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (g - a))
    if mode == "difference":
        return a - b
    raise ValueError(f"Unsupported blend mode: {mode}")


def image_blend(ctx: NodeContext, image1: np.ndarray, image2: np.ndarray, blend_factor: float, blend_mode: str,
                **_: Any) -> NodeResult:
    image1, image2 = ops.match_channels(image1, image2)
    if image1.shape != image2.shape:
        image2 = ops.resize_images(image2, image1.shape[2], image1.shape[1], "bicubic", "center")
    blended = _blend_mode(image1, image2, blend_mode)
    factor = np.float32(blend_factor)
    return single(np.clip(image1 * (1 - factor) + blended * factor, 0, 1).astype(np.float32))


def image_add_noise(ctx: NodeContext, image: np.ndarray, seed: int, strength: float, **_: Any) -> NodeResult:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return single(np.clip(image + noise * np.float32(strength), 0, 1))


# ---- geometry -------------------------------------------------------------------------------
def image_crop(ctx: NodeContext, image: np.ndarray, width: int, height: int, x: int, y: int,
               **_: Any) -> NodeResult:
    x, y = min(x, image.shape[2] - 1), min(y, image.shape[1] - 1)
    return single(image[:, y:y + height, x:x + width, :])


def image_flip(ctx: NodeContext, image: np.ndarray, flip_method: str, **_: Any) -> NodeResult:
    axis = 1 if flip_method.startswith("x") else 2
    return single(np.ascontiguousarray(np.flip(image, axis=axis)))


def image_rotate(ctx: NodeContext, image: np.ndarray, rotation: str, **_: Any) -> NodeResult:
    turns = {"90": 1, "180": 2, "270": 3}.get(rotation.split(" ")[0], 0)
    return single(np.ascontiguousarray(np.rot90(image, k=turns, axes=(2, 1))))


def image_pad_for_outpaint(ctx: NodeContext, image: np.ndarray, left: int, top: int, right: int, bottom: int,
                           feathering: int, **_: Any) -> NodeResult:
    b, h, w, c = image.shape
    padded = np.full((b, h + top + bottom, w + left + right, c), 0.5, dtype=np.float32)
    padded[:, top:top + h, left:left + w] = image
    mask = np.ones((h + top + bottom, w + left + right), dtype=np.float32)
    inner = np.zeros((h, w), dtype=np.float32)
    if feathering > 0 and feathering * 2 < h and feathering * 2 < w:
        i, j = np.arange(h)[:, None], np.arange(w)[None, :]
        distance = np.minimum.reduce([
            np.broadcast_to(i if top else h, (h, w)), np.broadcast_to(h - i if bottom else h, (h, w)),
            np.broadcast_to(j if left else w, (h, w)), np.broadcast_to(w - j if right else w, (h, w)),
        ])
        ramp = (feathering - distance) / feathering
        inner = np.where(distance < feathering, ramp * ramp, 0).astype(np.float32)
    mask[top:top + h, left:left + w] = inner
    return NodeResult((padded, mask[None]))


def composite(destination: np.ndarray, source: np.ndarray, x: int, y: int, mask: np.ndarray | None,
              multiplier: int, resize_source: bool) -> np.ndarray:
    """Paste ``source`` ``[B, C, h, w]`` onto a copy of ``destination`` at (x, y) / multiplier,
    weighted by ``mask`` (stretched over the source)."""
    out = destination.copy()
    if resize_source:
        source = ops.resize_planes(source, out.shape[-1], out.shape[-2], "bilinear")
    source = ops.repeat_to(source, out.shape[0])
    top = min(max(0, y) // multiplier, out.shape[-2])
    left = min(max(0, x) // multiplier, out.shape[-1])
    rows = min(source.shape[-2], out.shape[-2] - top)
    cols = min(source.shape[-1], out.shape[-1] - left)
    weight: np.ndarray | float = 1.0
    if mask is not None:
        planes = ops.resize_planes(ops.as_mask_batch(mask)[:, None], source.shape[-1], source.shape[-2])
        weight = ops.repeat_to(planes, source.shape[0])[..., :rows, :cols]
    region = out[..., top:top + rows, left:left + cols]
    region[...] = weight * source[..., :rows, :cols] + (1 - weight) * region
    return out


def image_composite_masked(ctx: NodeContext, destination: np.ndarray, source: np.ndarray, x: int, y: int,
                           resize_source: bool = False, mask: np.ndarray | None = None, **_: Any) -> NodeResult:
    destination, source = ops.match_channels(destination, source)
    out = composite(np.moveaxis(destination, -1, 1), np.moveaxis(source, -1, 1), x, y, mask, 1, resize_source)
    return single(np.ascontiguousarray(np.moveaxis(out, 1, -1)))


# ---- batches --------------------------------------------------------------------------------
def image_batch(ctx: NodeContext, image1: np.ndarray, image2: np.ndarray, **_: Any) -> NodeResult:
    image1, image2 = ops.match_channels(image1, image2)
    if image1.shape[1:] != image2.shape[1:]:
        image2 = ops.resize_images(image2, image1.shape[2], image1.shape[1], "bilinear", "center")
    return single(np.concatenate([image1, image2]))


def repeat_image_batch(ctx: NodeContext, image: np.ndarray, amount: int, **_: Any) -> NodeResult:
    return single(np.concatenate([image] * amount))


def image_from_batch(ctx: NodeContext, image: np.ndarray, batch_index: int, length: int, **_: Any) -> NodeResult:
    start = min(image.shape[0] - 1, batch_index)
    count = min(image.shape[0] - start, length)
    return single(image[start:start + count].copy())


def get_image_size(ctx: NodeContext, image: np.ndarray, **_: Any) -> NodeResult:
    return NodeResult((int(image.shape[2]), int(image.shape[1]), int(image.shape[0])))


NODES: dict[str, NodeFunction] = {
    "EmptyImage": timed(empty_image),
    "LoadImage": timed(load_image),
    "LoadImageOutput": timed(load_image),
    "LoadImageMask": timed(load_image_mask),
    "ImageScale": timed(image_scale),
    "ImageScaleBy": timed(image_scale_by),
    "ImageScaleToTotalPixels": timed(image_scale_to_total_pixels),
    "ImageUpscaleWithModel": timed(image_upscale_with_model),
    "ImageInvert": timed(image_invert),
    "ImageBlur": timed(image_blur),
    "ImageSharpen": timed(image_sharpen),
    "ImageBlend": timed(image_blend),
    "ImageAddNoise": timed(image_add_noise),
    "ImageCrop": timed(image_crop),
    "ImageFlip": timed(image_flip),
    "ImageRotate": timed(image_rotate),
    "ImagePadForOutpaint": timed(image_pad_for_outpaint),
    "ImageCompositeMasked": timed(image_composite_masked),
    "ImageBatch": timed(image_batch),
    "RepeatImageBatch": timed(repeat_image_batch),
    "ImageFromBatch": timed(image_from_batch),
    "GetImageSize": timed(get_image_size),
}
