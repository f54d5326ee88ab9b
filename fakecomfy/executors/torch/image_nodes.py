"""IMAGE nodes on tensors: making, loading, scaling, filtering, compositing and batching pictures."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import image_nodes as numpy_image_nodes
from fakecomfy.executors.numpy.image_nodes import scale_target
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.torch.adapted import adapt
from fakecomfy.executors.torch.resize import resize_images, upscale
from fakecomfy.executors.torch.values import repeat_to


def empty_image(ctx: NodeContext, width: int, height: int, batch_size: int = 1, color: int = 0,
                **_: Any) -> NodeResult:
    channels = [torch.full((batch_size, height, width, 1), ((color >> shift) & 0xFF) / 0xFF)
                for shift in (16, 8, 0)]
    return single(torch.cat(channels, dim=-1))


# ---- scaling --------------------------------------------------------------------------------
def image_scale(ctx: NodeContext, image: Any, upscale_method: str, width: int, height: int,
                crop: str = "disabled", **_: Any) -> NodeResult:
    target = scale_target(tuple(image.shape), width, height)
    if target is None:
        return single(image)
    return single(resize_images(image, *target, upscale_method, crop))


def image_scale_by(ctx: NodeContext, image: Any, upscale_method: str, scale_by: float, **_: Any) -> NodeResult:
    h, w = image.shape[1:3]
    return single(resize_images(image, round(w * scale_by), round(h * scale_by), upscale_method))


# ---- filters --------------------------------------------------------------------------------
def image_invert(ctx: NodeContext, image: Any, **_: Any) -> NodeResult:
    return single(1.0 - image)


def gaussian_kernel(size: int, sigma: float, device: Any = None) -> Any:
    """ComfyUI's 2-D blur kernel: a Gaussian of the distance over a -1..1 grid, normalised."""
    axis = torch.linspace(-1, 1, size, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    distance = torch.sqrt(x * x + y * y)
    g = torch.exp(-(distance * distance) / (2.0 * sigma * sigma))
    return g / g.sum()


def _convolve(image: Any, kernel: Any, radius: int) -> Any:
    """Each channel of ``[B, H, W, C]`` convolved with ``kernel`` over a reflect-padded border."""
    channels = image.shape[-1]
    weights = kernel.repeat(channels, 1, 1).unsqueeze(1)
    planes = F.pad(image.permute(0, 3, 1, 2), (radius, radius, radius, radius), "reflect")
    size = kernel.shape[-1]
    # padding the padded planes again and cutting the border off is how real computes it (the
    # sums are the same as a valid convolution's, so the floats are too)
    out = F.conv2d(planes, weights, padding=size // 2, groups=channels)[:, :, radius:-radius, radius:-radius]
    return out.permute(0, 2, 3, 1)


def image_blur(ctx: NodeContext, image: Any, blur_radius: int, sigma: float, **_: Any) -> NodeResult:
    if blur_radius == 0:
        return single(image)
    kernel = gaussian_kernel(blur_radius * 2 + 1, sigma, image.device)
    return single(_convolve(image, kernel, blur_radius))


def image_sharpen(ctx: NodeContext, image: Any, sharpen_radius: int, sigma: float, alpha: float,
                  **_: Any) -> NodeResult:
    if sharpen_radius == 0:
        return single(image)
    size = sharpen_radius * 2 + 1
    # minus the blur (times 10 alpha), with the centre raised so that the kernel sums to 1
    kernel = (gaussian_kernel(size, sigma, image.device) * -(alpha * 10)).to(image.dtype)
    centre = size // 2
    kernel[centre, centre] = kernel[centre, centre] - kernel.sum() + 1.0
    return single(torch.clamp(_convolve(image, kernel, sharpen_radius), 0, 1))


# ---- geometry -------------------------------------------------------------------------------
def image_pad_for_outpaint(ctx: NodeContext, image: Any, left: int, top: int, right: int, bottom: int,
                           feathering: int, **_: Any) -> NodeResult:
    b, h, w, c = image.shape
    padded = torch.ones((b, h + top + bottom, w + left + right, c), dtype=torch.float32) * 0.5
    padded[:, top:top + h, left:left + w, :] = image
    mask = torch.ones((h + top + bottom, w + left + right), dtype=torch.float32)
    inner = torch.zeros((h, w), dtype=torch.float32)
    if feathering > 0 and feathering * 2 < h and feathering * 2 < w:
        rows = torch.arange(h, dtype=torch.float64)[:, None].expand(h, w)
        cols = torch.arange(w, dtype=torch.float64)[None, :].expand(h, w)
        sides = [rows if top else torch.full((h, w), float(h), dtype=torch.float64),
                 h - rows if bottom else torch.full((h, w), float(h), dtype=torch.float64),
                 cols if left else torch.full((h, w), float(w), dtype=torch.float64),
                 w - cols if right else torch.full((h, w), float(w), dtype=torch.float64)]
        distance = torch.stack(sides).amin(dim=0)
        ramp = (feathering - distance) / feathering  # in float64, as Python computes each pixel's
        inner = torch.where(distance < feathering, ramp * ramp, 0.0).to(torch.float32)
    mask[top:top + h, left:left + w] = inner
    return NodeResult((padded, mask.unsqueeze(0)))


def alpha_fix(destination: Any, source: Any) -> tuple[Any, Any]:
    """Real's channel matching for compositing: a source with more channels loses them, a
    destination with fewer gains an opaque alpha."""
    if destination.shape[-1] < source.shape[-1]:
        source = source[..., :destination.shape[-1]]
    elif destination.shape[-1] > source.shape[-1]:
        destination = F.pad(destination, (0, 1))
        destination[..., -1] = 1.0
    return destination, source


def composite(destination: Any, source: Any, x: int, y: int, mask: Any | None, multiplier: int,
              resize_source: bool) -> Any:
    """Paste ``source`` ``[B, C, h, w]`` into ``destination`` (changed in place: pass a copy) at
    (x, y) / multiplier, weighted by ``mask`` stretched over the source."""
    source = source.to(destination.device)
    if resize_source:
        source = F.interpolate(source, size=(destination.shape[-2], destination.shape[-1]), mode="bilinear")
    source = repeat_to(source, destination.shape[0])
    x = max(-source.shape[-1] * multiplier, min(x, destination.shape[-1] * multiplier))
    y = max(-source.shape[-2] * multiplier, min(y, destination.shape[-2] * multiplier))
    left, top = x // multiplier, y // multiplier
    right, bottom = left + source.shape[-1], top + source.shape[-2]
    if mask is None:
        weight = torch.ones_like(source)
    else:
        planes = mask.to(destination.device, copy=True).reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        weight = repeat_to(F.interpolate(planes, size=(source.shape[-2], source.shape[-1]), mode="bilinear"),
                           source.shape[0])
    visible_w = destination.shape[-1] - left + min(0, x)
    visible_h = destination.shape[-2] - top + min(0, y)
    weight = weight[:, :, :visible_h, :visible_w]
    if weight.ndim < source.ndim:
        weight = weight.unsqueeze(1)
    inverse = torch.ones_like(weight) - weight
    pasted = weight * source[..., :visible_h, :visible_w]
    kept = inverse * destination[..., top:bottom, left:right]
    destination[..., top:bottom, left:right] = pasted + kept
    return destination


def image_composite_masked(ctx: NodeContext, destination: Any, source: Any, x: int, y: int,
                           resize_source: bool = False, mask: Any | None = None, **_: Any) -> NodeResult:
    destination, source = alpha_fix(destination, source)
    planes = destination.clone().movedim(-1, 1)
    out = composite(planes, source.movedim(-1, 1), x, y, mask, 1, resize_source)
    return single(out.movedim(1, -1))


# ---- batches --------------------------------------------------------------------------------
def image_batch(ctx: NodeContext, image1: Any, image2: Any, **_: Any) -> NodeResult:
    if image1.shape[-1] != image2.shape[-1]:  # the one without alpha gets an opaque one
        if image1.shape[-1] > image2.shape[-1]:
            image2 = F.pad(image2, (0, 1), mode="constant", value=1.0)
        else:
            image1 = F.pad(image1, (0, 1), mode="constant", value=1.0)
    if image1.shape[1:] != image2.shape[1:]:
        image2 = upscale(image2.movedim(-1, 1), image1.shape[2], image1.shape[1], "bilinear", "center").movedim(1, -1)
    return single(torch.cat((image1, image2), dim=0))


NODES: dict[str, NodeFunction] = {
    "EmptyImage": timed(empty_image),
    # real decodes files with Pillow and numpy too, then makes tensors of the arrays
    "LoadImage": adapt(numpy_image_nodes.NODES["LoadImage"]),
    "LoadImageOutput": adapt(numpy_image_nodes.NODES["LoadImageOutput"]),
    "LoadImageMask": adapt(numpy_image_nodes.NODES["LoadImageMask"]),
    "ImageScale": timed(image_scale),
    "ImageScaleBy": timed(image_scale_by),
    "ImageInvert": timed(image_invert),
    "ImageBlur": timed(image_blur),
    "ImageSharpen": timed(image_sharpen),
    "ImagePadForOutpaint": timed(image_pad_for_outpaint),
    "ImageCompositeMasked": timed(image_composite_masked),
    "ImageBatch": timed(image_batch),
}
