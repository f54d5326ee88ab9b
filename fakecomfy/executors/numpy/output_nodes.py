"""Output nodes: SaveImage, PreviewImage, SaveImageWebsocket, PreviewAny, MaskPreview."""
from __future__ import annotations

import json
import string
from typing import Any

import numpy as np

from fakecomfy.core.execution import Preview
from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import ops, saving
from fakecomfy.executors.numpy.registry import timed
from fakecomfy.executors.numpy.saving import TEMP_PREFIX_LETTERS
from fakecomfy.images import to_pil
from fakecomfy.png import png_batch
from fakecomfy.protocol import PreviewFormat

SAVE_COMPRESS_LEVEL = 4
PREVIEW_COMPRESS_LEVEL = 1
DEFAULT_PREFIX = "ComfyUI"


def save_images(ctx: NodeContext, batch: np.ndarray, prefix: str, file_type: str, compress_level: int,
                chunks: dict[str, str]) -> list[dict[str, str]]:
    """One PNG per batch item, the counter advancing per image; the UI entries naming them."""
    height, width = batch[0].shape[:2]
    target = saving.save_target(ctx, prefix, width, height, file_type)
    entries, names = [], []
    for number, data in enumerate(png_batch(batch, chunks, compress_level)):
        name = f"{target.filename.replace('%batch_num%', str(number))}_{target.counter + number:05}_.png"
        target.write(name, data)
        entries.append(saving.file_entry(name, target, file_type))
        names.append(name)
    ctx.env.files.saved(target, names)
    return entries


def save_image(ctx: NodeContext, images: np.ndarray, filename_prefix: str = DEFAULT_PREFIX, prompt: Any = None,
               extra_pnginfo: Any = None, **_: Any) -> NodeResult:
    chunks = saving.png_chunks(ctx, prompt, extra_pnginfo)
    return NodeResult((), {"images": save_images(ctx, images, filename_prefix, "output", SAVE_COMPRESS_LEVEL,
                                                 chunks)})


def preview_image(ctx: NodeContext, images: np.ndarray, prompt: Any = None, extra_pnginfo: Any = None,
                  **_: Any) -> NodeResult:
    """Like SaveImage into temp/, as ``ComfyUI_temp_<5 letters>`` fixed per node instance."""
    prefix = DEFAULT_PREFIX + saving.temp_prefix(ctx)
    chunks = saving.png_chunks(ctx, prompt, extra_pnginfo)
    return NodeResult((), {"images": save_images(ctx, images, prefix, "temp", PREVIEW_COMPRESS_LEVEL, chunks)})


def v3_preview_ui(ctx: NodeContext, batch: np.ndarray, prompt: Any = None, extra_pnginfo: Any = None,
                  letters: str = TEMP_PREFIX_LETTERS) -> dict[str, Any]:
    """The UI of a V3 node's image preview: a fresh random prefix on every run, plus ``animated``."""
    prefix = "ComfyUI_temp_" + "".join(ctx.env.ids.choice(letters) for _ in range(5))
    # V3 nodes write metadata only for a non-empty prompt / extra_pnginfo
    chunks = saving.png_chunks(ctx, prompt or None, extra_pnginfo or None)
    entries = save_images(ctx, batch, prefix, "temp", PREVIEW_COMPRESS_LEVEL, chunks)
    return {"images": entries, "animated": [False]}


def mask_preview(ctx: NodeContext, mask: np.ndarray, prompt: Any = None, extra_pnginfo: Any = None,
                 **_: Any) -> NodeResult:
    batch = np.repeat(ops.as_mask_batch(mask)[..., None], 3, axis=-1)
    return NodeResult((), v3_preview_ui(ctx, batch, prompt, extra_pnginfo, string.ascii_lowercase))


def save_image_websocket(ctx: NodeContext, images: np.ndarray, **_: Any) -> NodeResult:
    """Each image goes out as a PNG preview frame; ProgressBar values run 0..n-1 of n.

    It reports no UI, so no ``executed`` message and no history output (like ComfyUI's ``{}``).
    """
    total = int(images.shape[0])
    for step, item in enumerate(images):
        ctx.progress(step, total, Preview(to_pil(item), PreviewFormat.PNG, max_size=None))
    return NodeResult((), None)


def preview_any(ctx: NodeContext, source: Any = None, **_: Any) -> NodeResult:
    return NodeResult((), {"text": [preview_text(source)]})


def preview_text(source: Any) -> str:
    """PreviewAny's text: strings as they are, numbers via str(), the rest as indented JSON."""
    if isinstance(source, str):
        return source
    if isinstance(source, (bool, int, float)):
        return str(source)
    if source is None:
        return "None"
    try:
        return json.dumps(source, indent=4)
    except (TypeError, ValueError):
        return str(source)


NODES: dict[str, NodeFunction] = {
    "SaveImage": timed(save_image),
    "PreviewImage": timed(preview_image),
    "SaveImageWebsocket": timed(save_image_websocket),
    "PreviewAny": timed(preview_any),
    "MaskPreview": timed(mask_preview),
}
