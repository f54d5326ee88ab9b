"""What saving nodes share: where a file goes, its metadata, and the UI entry naming it."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fakecomfy import png
from fakecomfy.core.files import SaveOutsideOutputError, SaveTarget
from fakecomfy.executors.base import NodeContext

# PreviewImage's prefix letters. Quirk of ComfyUI: its alphabet has no "w" and two "p"s.
TEMP_PREFIX_LETTERS = "abcdefghijklmnopqrstupvxyz"
TEMP_PREFIX_STATE = "temp_prefix"


def save_target(ctx: NodeContext, prefix: str, width: int = 0, height: int = 0,
                file_type: str = "output") -> SaveTarget:
    """ComfyUI's ``get_save_image_path``; leaving the output folder is a plain ``Exception``."""
    try:
        return ctx.env.files.save_image_path(prefix, width, height, file_type)
    except SaveOutsideOutputError as exc:
        raise Exception(str(exc)) from None  # ComfyUI raises a bare Exception here


def file_entry(name: str, target: SaveTarget, file_type: str) -> dict[str, str]:
    """One ``{"filename", "subfolder", "type"}`` entry of a node's UI output."""
    return {"filename": name, "subfolder": target.subfolder, "type": file_type}


def png_chunks(ctx: NodeContext, prompt: Any, extra_pnginfo: Any) -> dict[str, str]:
    """The PNG text chunks SaveImage writes; none under ``--disable-metadata``."""
    if ctx.env.settings.disable_metadata:
        return {}
    extra = extra_pnginfo if isinstance(extra_pnginfo, Mapping) else None
    return png.metadata_chunks(prompt, extra)


def latent_metadata(ctx: NodeContext, prompt: Any, extra_pnginfo: Any) -> dict[str, str] | None:
    """SaveLatent's safetensors metadata: ``prompt`` is always there (``""`` without one)."""
    if ctx.env.settings.disable_metadata:
        return None
    metadata = {"prompt": "" if prompt is None else json.dumps(prompt)}
    if isinstance(extra_pnginfo, Mapping):
        metadata.update({key: json.dumps(value) for key, value in extra_pnginfo.items()})
    return metadata


def temp_prefix(ctx: NodeContext) -> str:
    """PreviewImage's ``_temp_xxxxx`` suffix, drawn once per node instance (kept in ``ctx.state``)."""
    suffix = ctx.state.get(TEMP_PREFIX_STATE)
    if not isinstance(suffix, str):
        suffix = "_temp_" + "".join(ctx.env.ids.choice(TEMP_PREFIX_LETTERS) for _ in range(5))
        ctx.state[TEMP_PREFIX_STATE] = suffix
    return suffix
