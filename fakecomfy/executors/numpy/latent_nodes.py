"""LATENT nodes: empty latents, resizing and batching, VAE encode/decode, .latent files."""
from __future__ import annotations

from typing import Any

import numpy as np

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops, saving
from fakecomfy.executors.numpy.image_nodes import composite
from fakecomfy.executors.numpy.latent_files import latent_file_bytes, load_latent_samples
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.numpy.values import (
    LATENT_SCALE,
    PICTURE_KEY,
    Picture,
    Vae,
    empty_latent,
    picture_of,
    with_samples,
)

CONV2D_INPUT_ERROR = "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {shape}"
CHANNELS_ERROR = ("Given groups=1, weight of size {weight}, expected input{shape} to have {expected} channels, "
                  "but got {got} channels instead")
# The first layer a latent meets in the VAE decoder: a 1x1 conv for 4 channels, conv_in for 16.
_DECODER_WEIGHT = {4: [4, 4, 1, 1], 16: [512, 16, 3, 3]}

Latent = dict[str, Any]


# ---- empty latents --------------------------------------------------------------------------
def empty_latent_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1, **_: Any) -> NodeResult:
    return single(empty_latent(batch_size, 4, height // LATENT_SCALE, width // LATENT_SCALE))


def empty_sd3_latent_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1,
                           **_: Any) -> NodeResult:
    return single(empty_latent(batch_size, 16, height // LATENT_SCALE, width // LATENT_SCALE))


def empty_hunyuan_latent_video(ctx: NodeContext, width: int, height: int, length: int, batch_size: int = 1,
                               **_: Any) -> NodeResult:
    frames = (length - 1) // 4 + 1
    shape = (batch_size, 16, frames, height // LATENT_SCALE, width // LATENT_SCALE)
    return single({"samples": np.zeros(shape, dtype=np.float32)})


# ---- resizing -------------------------------------------------------------------------------
def _rescaled(latent: Latent, width: int, height: int, method: str, crop: str = "disabled") -> Latent:
    """``latent`` at ``width`` x ``height`` cells; a drawn picture is resized along with it."""
    samples = ops.upscale(latent["samples"], width, height, method, crop)
    picture = picture_of(latent)
    if picture is not None:
        planes = np.moveaxis(picture.pixels, -1, 1)
        pixels = ops.upscale(planes, width * LATENT_SCALE, height * LATENT_SCALE, method, crop)
        picture = Picture(np.ascontiguousarray(np.clip(np.moveaxis(pixels, 1, -1), 0, 1)), picture.seed)
    return with_samples(latent, samples, picture)


def latent_upscale(ctx: NodeContext, samples: Latent, upscale_method: str, width: int, height: int,
                   crop: str = "disabled", **_: Any) -> NodeResult:
    if width == 0 and height == 0:
        return single(samples)
    h, w = samples["samples"].shape[-2:]
    if width == 0:
        height = max(64, height)
        width = max(64, round(w * height / h))
    elif height == 0:
        width = max(64, width)
        height = max(64, round(h * width / w))
    else:
        width, height = max(64, width), max(64, height)
    return single(_rescaled(samples, width // LATENT_SCALE, height // LATENT_SCALE, upscale_method, crop))


def latent_upscale_by(ctx: NodeContext, samples: Latent, upscale_method: str, scale_by: float,
                      **_: Any) -> NodeResult:
    latent = samples.copy()  # real copies the latent first: a value that is no dict fails here
    h, w = latent["samples"].shape[-2:]
    return single(_rescaled(latent, round(w * scale_by), round(h * scale_by), upscale_method))


# ---- batches --------------------------------------------------------------------------------
def latent_from_batch(ctx: NodeContext, samples: Latent, batch_index: int, length: int, **_: Any) -> NodeResult:
    source = samples["samples"]
    start = min(source.shape[0] - 1, batch_index)
    count = min(source.shape[0] - start, length)
    out = dict(samples)
    out["samples"] = source[start:start + count].copy()
    if "noise_mask" in samples:
        masks = samples["noise_mask"]
        if masks.shape[0] > 1:
            out["noise_mask"] = ops.repeat_to(masks, source.shape[0])[start:start + count].copy()
    indexes = samples.get("batch_index")
    out["batch_index"] = list(range(start, start + count)) if indexes is None else indexes[start:start + count]
    picture = picture_of(samples)
    if picture is not None:
        out[PICTURE_KEY] = Picture(picture.pixels[start:start + count], picture.seed)
    return single(out)


def repeat_latent_batch(ctx: NodeContext, samples: Latent, amount: int, **_: Any) -> NodeResult:
    source = samples["samples"]
    out = dict(samples)
    out["samples"] = np.concatenate([source] * amount)
    masks = samples.get("noise_mask")
    if masks is not None and masks.shape[0] > 1:
        out["noise_mask"] = np.concatenate([ops.repeat_to(masks, source.shape[0])] * amount)
    indexes = samples.get("batch_index")
    if indexes:
        offset = max(indexes) - min(indexes) + 1
        out["batch_index"] = indexes + [i + k * offset for k in range(1, amount) for i in indexes]
    picture = picture_of(samples)
    if picture is not None:
        out[PICTURE_KEY] = Picture(np.concatenate([picture.pixels] * amount), picture.seed)
    return single(out)


def latent_composite(ctx: NodeContext, samples_to: Latent, samples_from: Latent, x: int, y: int,
                     feather: int = 0, **_: Any) -> NodeResult:
    target, source = samples_to["samples"], samples_from["samples"]
    mask = None
    if feather // LATENT_SCALE:
        rows = min(source.shape[-2], target.shape[-2] - y // LATENT_SCALE)
        cols = min(source.shape[-1], target.shape[-1] - x // LATENT_SCALE)
        mask = _feather_mask(rows, cols, feather // LATENT_SCALE, x, y, target.shape[-2:])
    return single(with_samples(samples_to, composite(target, source, x, y, mask, LATENT_SCALE, False)))


def _feather_mask(rows: int, cols: int, feather: int, x: int, y: int, target: tuple[int, ...]) -> np.ndarray:
    """LatentComposite's edge ramps, only on the sides that lie inside the target."""
    mask = np.ones((rows, cols), dtype=np.float32)
    top, left = y // LATENT_SCALE, x // LATENT_SCALE
    for t in range(feather):
        rate = (t + 1) / feather
        if y:
            mask[t] *= rate
        if top + rows < target[0]:
            mask[rows - 1 - t] *= rate
        if x:
            mask[:, t] *= rate
        if left + cols < target[1]:
            mask[:, cols - 1 - t] *= rate
    return mask[None]


def latent_composite_masked(ctx: NodeContext, destination: Latent, source: Latent, x: int, y: int,
                            resize_source: bool = False, mask: np.ndarray | None = None, **_: Any) -> NodeResult:
    out = composite(destination["samples"], source["samples"], x, y, mask, LATENT_SCALE, resize_source)
    return single(with_samples(destination, out))


def set_latent_noise_mask(ctx: NodeContext, samples: Latent, mask: np.ndarray, **_: Any) -> NodeResult:
    out = dict(samples)
    out["noise_mask"] = mask.reshape((-1, 1, *mask.shape[-2:]))
    return single(out)


# ---- the VAE --------------------------------------------------------------------------------
def check_decodable(vae: Vae, samples: np.ndarray) -> None:
    """Fail the way ComfyUI's image VAEs fail on latents they cannot take."""
    if samples.ndim != 4:
        raise RuntimeError(CONV2D_INPUT_ERROR.format(shape=list(samples.shape)))
    expected, got = vae.latent_channels, samples.shape[1]
    if got != expected:
        weight = _DECODER_WEIGHT.get(expected, [expected, expected, 1, 1])
        raise RuntimeError(CHANNELS_ERROR.format(weight=weight, shape=list(samples.shape), expected=expected, got=got))


def decode(vae: Vae, latent: Latent) -> np.ndarray:
    samples = latent["samples"]
    check_decodable(vae, samples)
    picture = picture_of(latent)
    if picture is not None:
        return picture.pixels
    return np.clip(ops.latent_to_pixels(samples), 0, 1)


def encode(vae: Vae, pixels: np.ndarray) -> Latent:
    """Our encoder; the pixels ride along so that decoding gives them back unblurred."""
    pixels = _crop_to_cells(pixels[..., :3])
    four = ops.pixels_to_latent(pixels)
    samples = four if vae.latent_channels == 4 else four[:, np.arange(vae.latent_channels) % 4]
    return {"samples": samples, PICTURE_KEY: Picture(np.ascontiguousarray(pixels), 0)}


def _crop_to_cells(pixels: np.ndarray) -> np.ndarray:
    """ComfyUI's VAE crops pictures to whole latent cells, keeping the middle."""
    h, w = pixels.shape[1:3]
    top, left = (h % LATENT_SCALE) // 2, (w % LATENT_SCALE) // 2
    return pixels[:, top:top + h - h % LATENT_SCALE, left:left + w - w % LATENT_SCALE]


def vae_decode(ctx: NodeContext, vae: Vae, samples: Latent, **_: Any) -> NodeResult:
    return single(decode(vae, samples))


def vae_encode(ctx: NodeContext, vae: Vae, pixels: np.ndarray, **_: Any) -> NodeResult:
    return single(encode(vae, pixels))


def vae_encode_for_inpaint(ctx: NodeContext, vae: Vae, pixels: np.ndarray, mask: np.ndarray,
                           grow_mask_by: int = 6, **_: Any) -> NodeResult:
    h, w = pixels.shape[1:3]
    masks = ops.resize_planes(ops.as_mask_batch(mask), w, h, "bilinear")
    top, left = (h % LATENT_SCALE) // 2, (w % LATENT_SCALE) // 2
    pixels = _crop_to_cells(pixels[..., :3])
    masks = masks[:, top:top + pixels.shape[1], left:left + pixels.shape[2]]
    hard = np.round(masks)
    keep = (1 - hard)[..., None]
    latent = encode(vae, (pixels - 0.5) * keep + 0.5)  # masked pixels become mid grey
    latent["noise_mask"] = _grow(hard, grow_mask_by)[:, None]
    return single(latent)


def _grow(mask: np.ndarray, size: int) -> np.ndarray:
    """A box dilation of a 0/1 ``[B, H, W]`` mask: ComfyUI's ``clamp(conv2d(mask, ones(size, size)))``
    with its padding of ``ceil((size - 1) / 2)``, cut back to the mask's size."""
    if size == 0:
        return mask
    before = -(-(size - 1) // 2)
    out = mask
    for axis in (1, 2):  # a box maximum is a row maximum of a column maximum
        pad = [(0, 0)] * 3
        pad[axis] = (before, size)
        padded = np.pad(out, pad)
        grown = np.zeros_like(out)
        index: list[slice] = [slice(None)] * 3
        for k in range(size):
            index[axis] = slice(k, k + out.shape[axis])
            np.maximum(grown, padded[tuple(index)], out=grown)
        out = grown
    return out


# ---- .latent files --------------------------------------------------------------------------
def save_latent(ctx: NodeContext, samples: Latent, filename_prefix: str = "ComfyUI", prompt: Any = None,
                extra_pnginfo: Any = None, **_: Any) -> NodeResult:
    target = saving.save_target(ctx, filename_prefix)
    name = f"{target.filename}_{target.counter:05}_.latent"
    data = latent_file_bytes(samples["samples"], saving.latent_metadata(ctx, prompt, extra_pnginfo))
    target.write(name, data)
    return NodeResult((), {"latents": [saving.file_entry(name, target, "output")]})


def load_latent(ctx: NodeContext, latent: str, **_: Any) -> NodeResult:
    return single({"samples": load_latent_samples(ctx.env.files.annotated_path(latent))})


NODES: dict[str, NodeFunction] = {
    "EmptyLatentImage": timed(empty_latent_image),
    "EmptySD3LatentImage": timed(empty_sd3_latent_image),
    "EmptyHunyuanLatentVideo": timed(empty_hunyuan_latent_video),
    "LatentUpscale": timed(latent_upscale),
    "LatentUpscaleBy": timed(latent_upscale_by),
    "LatentFromBatch": timed(latent_from_batch),
    "RepeatLatentBatch": timed(repeat_latent_batch),
    "LatentComposite": timed(latent_composite),
    "LatentCompositeMasked": timed(latent_composite_masked),
    "SetLatentNoiseMask": timed(set_latent_noise_mask),
    "VAEDecode": timed(vae_decode),
    "VAEDecodeTiled": timed(vae_decode),
    "VAEEncode": timed(vae_encode),
    "VAEEncodeTiled": timed(vae_encode),
    "VAEEncodeForInpaint": timed(vae_encode_for_inpaint),
    "SaveLatent": timed(save_latent),
    "LoadLatent": timed(load_latent),
}
