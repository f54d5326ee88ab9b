"""Array operations shared by the node implementations: resizing, blurring, batching, latents."""
from __future__ import annotations

import numpy as np
from PIL import Image

from fakecomfy import images
from fakecomfy.executors.numpy.values import LATENT_SCALE

# ComfyUI's upscale method names and the Pillow filters standing in for torch's interpolation.
RESAMPLING = {
    "nearest-exact": Image.Resampling.NEAREST,
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "bislerp": Image.Resampling.BILINEAR,
}
REFLECT_PAD_ERROR = ("Argument #{arg}: Padding size should be less than the corresponding input dimension, "
                     "but got: padding ({pad}, {pad}) at dimension {dim} of input {shape}")


# ---- resizing ---------------------------------------------------------------------------------
def resize_planes(planes: np.ndarray, width: int, height: int, method: str = "bilinear") -> np.ndarray:
    """Resize the last two axes (``[..., H, W]``) of a float32 array."""
    lead, (h, w) = planes.shape[:-2], planes.shape[-2:]
    if (h, w) == (height, width):
        return planes.astype(np.float32, copy=True)
    flat = np.ascontiguousarray(planes, dtype=np.float32).reshape(-1, h, w)
    out = np.empty((flat.shape[0], height, width), dtype=np.float32)
    if width > 0 and height > 0:
        resample = RESAMPLING.get(method, Image.Resampling.BILINEAR)
        for i, plane in enumerate(flat):
            out[i] = np.asarray(Image.fromarray(plane, "F").resize((width, height), resample))
    return out.reshape(*lead, height, width)


def center_crop(planes: np.ndarray, width: int, height: int) -> np.ndarray:
    """ComfyUI's ``crop="center"``: cut ``[..., H, W]`` to the target aspect ratio first."""
    old_h, old_w = planes.shape[-2:]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    return planes[..., y:old_h - y, x:old_w - x]


def upscale(planes: np.ndarray, width: int, height: int, method: str, crop: str = "disabled") -> np.ndarray:
    """ComfyUI's ``common_upscale`` on ``[..., H, W]`` planes."""
    if crop == "center":
        planes = center_crop(planes, width, height)
    return resize_planes(planes, width, height, method)


def resize_images(batch: np.ndarray, width: int, height: int, method: str = "bilinear",
                  crop: str = "disabled") -> np.ndarray:
    """An IMAGE ``[B, H, W, C]`` resized to ``width`` x ``height``."""
    planes = np.moveaxis(batch, -1, 1)
    return np.ascontiguousarray(np.moveaxis(upscale(planes, width, height, method, crop), 1, -1))


def as_mask_batch(mask: np.ndarray) -> np.ndarray:
    """A MASK as ``[B, H, W]`` (ComfyUI accepts ``[H, W]`` too)."""
    return mask.reshape((-1, *mask.shape[-2:]))


def repeat_to(batch: np.ndarray, size: int) -> np.ndarray:
    """ComfyUI's ``repeat_to_batch_size``: cut or tile along the first axis."""
    if batch.shape[0] > size:
        return batch[:size]
    if batch.shape[0] < size:
        reps = -(-size // batch.shape[0])
        return np.concatenate([batch] * reps)[:size]
    return batch


def match_channels(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give two IMAGE batches the same channel count by adding an opaque alpha to the RGB one."""
    if a.shape[-1] == b.shape[-1]:
        return a, b

    def opaque(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.ones((*x.shape[:-1], 1), dtype=np.float32)], axis=-1)

    return (opaque(a), b) if a.shape[-1] < b.shape[-1] else (a, opaque(b))


# ---- blurring ---------------------------------------------------------------------------------
def gaussian_1d(radius: int, sigma: float) -> np.ndarray:
    """The separable half of ComfyUI's blur kernel (sampled over -1..1, normalised)."""
    t = np.linspace(-1, 1, 2 * radius + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return (g / g.sum()).astype(np.float32)


def gaussian_blur(batch: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """Blur ``[B, H, W, C]`` with reflect padding, like ComfyUI's ImageBlur."""
    b, h, w, c = batch.shape
    for arg, dim, size in ((4, 3, w), (6, 2, h)):  # torch checks the width first
        if radius >= size:
            raise RuntimeError(REFLECT_PAD_ERROR.format(arg=arg, pad=radius, dim=dim, shape=[b, c, h, w]))
    if _is_uniform(batch):
        return batch  # blurring a single colour changes nothing; skip the work
    g = gaussian_1d(radius, sigma)
    padded = np.pad(batch, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="reflect")
    rows = _convolve_axis(padded, g, axis=1)
    return _convolve_axis(rows, g, axis=2)


def _is_uniform(batch: np.ndarray) -> bool:
    """Is every picture of the batch a single colour (every pixel equal to its first)?"""
    return bool(np.all(batch == batch[:, :1, :1, :]))


def _convolve_axis(padded: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Valid 1-D convolution of ``padded`` along ``axis`` (a symmetric kernel)."""
    size = padded.shape[axis] - len(kernel) + 1
    out = np.zeros([size if i == axis else n for i, n in enumerate(padded.shape)], dtype=np.float32)
    tmp = np.empty_like(out)
    index: list[slice] = [slice(None)] * padded.ndim
    for j, weight in enumerate(kernel):
        index[axis] = slice(j, j + size)
        np.multiply(padded[tuple(index)], weight, out=tmp)
        out += tmp
    return out


# ---- latents ----------------------------------------------------------------------------------
def pixels_to_latent(pixels: np.ndarray) -> np.ndarray:
    """Our VAE's encoder: ``[B, H, W, 3]`` to ``[B, 4, H/8, W/8]`` (8x8 means, then colour)."""
    b, h, w, _ = pixels.shape
    lh, lw = h // LATENT_SCALE, w // LATENT_SCALE
    cut = pixels[:, :lh * LATENT_SCALE, :lw * LATENT_SCALE, :3]
    cells = cut.reshape(b, lh, LATENT_SCALE, lw, LATENT_SCALE, 3).mean(axis=(2, 4), dtype=np.float32)
    return np.stack([images.rgb_to_latent(cell) for cell in cells])


def latent_to_pixels(samples: np.ndarray, method: str = "bilinear") -> np.ndarray:
    """Our VAE's decoder: ``[B, 4, h, w]`` to ``[B, 8h, 8w, 3]``."""
    _b, _, h, w = samples.shape
    small = np.stack([images.latent_to_rgb(s) for s in samples])
    return resize_images(small, w * LATENT_SCALE, h * LATENT_SCALE, method)


def is_empty(samples: np.ndarray) -> bool:
    return not np.any(samples)
