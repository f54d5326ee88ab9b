"""The fallback for every node without its own implementation (custom nodes included).

It works from the node's ``/object_info`` definition alone: each declared output gets a value
of its type (passed through from an input of the same type when there is one, otherwise a
stand-in), lists where ``output_is_list`` says so; output nodes that take images preview them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fakecomfy import images
from fakecomfy.executors.base import NodeContext, NodeResult
from fakecomfy.executors.numpy import output_nodes
from fakecomfy.executors.numpy.values import (
    LATENT_SCALE,
    Clip,
    ClipVision,
    ControlNet,
    Guider,
    Model,
    Noise,
    Opaque,
    Sampler,
    UpscaleModel,
    Vae,
    empty_latent,
)

STANDIN_SIZE = 64
MAX_STANDIN_SIZE = 1024  # a stand-in picture never gets bigger than this, whatever the widgets say
MATCHTYPE = "COMFY_MATCHTYPE_V3"


def fallback(ctx: NodeContext, definition: dict[str, Any], inputs: dict[str, Any]) -> NodeResult:
    """Run a node known only by its definition: outputs of the declared types, a preview UI."""
    ctx.sleep(ctx.node_time)
    declared = declared_inputs(definition)
    class_type = str(definition.get("name", ctx.class_type))
    listed = definition.get("output_is_list") or []
    outputs = []
    for slot, kind in enumerate(definition.get("output") or []):
        value = _output_value(kind, declared, inputs, class_type)
        outputs.append([value] if slot < len(listed) and listed[slot] else value)
    ui = _output_ui(ctx, definition, declared, inputs) if definition.get("output_node") else None
    return NodeResult(tuple(outputs), ui)


def declared_inputs(definition: dict[str, Any]) -> dict[str, Any]:
    """Input name → declared type (a type name, or the options list of a V1 combo)."""
    found: dict[str, Any] = {}
    for section in ("required", "optional"):
        specs = (definition.get("input") or {}).get(section) or {}
        for name, spec in specs.items():
            if isinstance(spec, (list, tuple)) and spec:
                found[name] = spec[0]
    return found


def _output_value(kind: Any, declared: dict[str, Any], inputs: dict[str, Any], class_type: str) -> Any:
    if isinstance(kind, list):  # a V1 combo output: its first option
        return kind[0] if kind else ""
    for name, declared_kind in declared.items():
        if declared_kind == kind and name in inputs:
            return inputs[name]  # most nodes transform a value of the type they return
    return standin(kind, _size_hint(inputs), class_type)


def _size_hint(inputs: dict[str, Any]) -> tuple[int, int, int]:
    """(width, height, batch) from the node's own widgets, if it has such widgets."""
    def pick(name: str, default: int, limit: int) -> int:
        value = inputs.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return min(value, limit)
        return default

    return (pick("width", STANDIN_SIZE, MAX_STANDIN_SIZE), pick("height", STANDIN_SIZE, MAX_STANDIN_SIZE),
            pick("batch_size", 1, 64))


def standin(kind: str, size: tuple[int, int, int] = (STANDIN_SIZE, STANDIN_SIZE, 1), label: str = "") -> Any:
    """A plausible value of type ``kind`` (an ``/object_info`` type name)."""
    width, height, batch = size
    kind = kind.split(",")[0]
    if kind == "IMAGE":
        picture = images.render(0, label, width, height, "standin")
        return np.repeat(picture[None], batch, axis=0)
    if kind == "MASK":
        return np.zeros((batch, height, width), dtype=np.float32)
    if kind == "LATENT":
        return empty_latent(batch, 4, max(1, height // LATENT_SCALE), max(1, width // LATENT_SCALE))
    if kind == "CONDITIONING":
        return [[np.zeros((1, 77, 768), dtype=np.float32), {"pooled_output": np.zeros((1, 768), dtype=np.float32)}]]
    if kind == "SIGMAS":
        return np.append(np.geomspace(14.6146, 0.0292, 20), 0.0).astype(np.float32)
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple(label)
    return Opaque(kind)


_SIMPLE: dict[str, Callable[[str], Any]] = {
    "INT": lambda label: 0,
    "FLOAT": lambda label: 0.0,
    "STRING": lambda label: "",
    "BOOLEAN": lambda label: False,
    "COMBO": lambda label: "",
    "*": lambda label: None,
    "MODEL": lambda label: Model("sd15", label),
    "CLIP": lambda label: Clip("sd15", label),
    "VAE": lambda label: Vae(label),
    "CONTROL_NET": lambda label: ControlNet(label),
    "UPSCALE_MODEL": lambda label: UpscaleModel(label),
    "CLIP_VISION": lambda label: ClipVision(label),
    "SAMPLER": lambda label: Sampler("euler"),
    "NOISE": lambda label: Noise(0),
    "GUIDER": lambda label: Guider(Model("sd15", label), [], None, 1.0),
}


def _output_ui(ctx: NodeContext, definition: dict[str, Any], declared: dict[str, Any],
               inputs: dict[str, Any]) -> dict[str, Any] | None:
    """An output node that takes pictures previews them (V1 like PreviewImage, V3 like its UI)."""
    batch = _first_of_type("IMAGE", declared, inputs)
    if batch is None:
        mask = _first_of_type("MASK", declared, inputs)
        if mask is not None:
            batch = np.repeat(mask.reshape((-1, *mask.shape[-2:]))[..., None], 3, axis=-1)
    if batch is None or batch.ndim != 4 or batch.shape[0] == 0:
        return None
    prompt, extra = inputs.get("prompt"), inputs.get("extra_pnginfo")
    if "api_node" in definition:  # only V3 schemas carry this key
        return output_nodes.v3_preview_ui(ctx, batch, prompt, extra)
    return output_nodes.preview_image(ctx, batch, prompt=prompt, extra_pnginfo=extra).ui


def _first_of_type(kind: str, declared: dict[str, Any], inputs: dict[str, Any]) -> np.ndarray | None:
    for name, declared_kind in declared.items():
        value = inputs.get(name)
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            value = value[0]
        if declared_kind == kind and isinstance(value, np.ndarray):
            return value
    return None
