"""How real ComfyUI calls a node at run time: undeclared inputs (a link reaches the node's method,
a widget value is dropped), the Python error a wrong-typed value raises inside a node, and what an
``execution_error`` lists.

Every prompt names its id (``{uniq}-a``...) so the steps that read its history find it. Colours
are unusual so no earlier prompt's cache serves them; the first prompt clears what the reference
cached before. ``current_outputs`` is left out: real lists the prompt's nodes in the order of a
Python set, which its str hashes decide per process. Tensor values in ``current_inputs`` print as
torch prints them on real, so those entries are left out too.
"""
from __future__ import annotations

import json
from typing import Any

from tests.differential.harness import Step

JSON = (("Content-Type", "application/json"),)
POSTED = ("number", "node_errors.*.errors.*.extra_info.traceback")
ERRORS = "*.status.messages.*.1"
IGNORED = ("*.prompt.0", "*.prompt.3.create_time", f"{ERRORS}.timestamp", f"{ERRORS}.traceback",
           f"{ERRORS}.current_outputs",
           f"{ERRORS}.current_inputs.images", f"{ERRORS}.current_inputs.image", f"{ERRORS}.current_inputs.zextra",
           f"{ERRORS}.current_inputs.prompt")


def empty(color: int) -> dict[str, Any]:
    return {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}}


def post(name: str, prompt: dict[str, Any], suffix: str, setup: bool = False) -> Step:
    data = json.dumps({"prompt": prompt, "prompt_id": f"{{uniq}}-{suffix}"}).encode()
    return Step(name, "POST", "/prompt", JSON, data, ignore=POSTED, setup=setup)


def history(name: str, suffix: str, wait: float = 0.0) -> Step:
    return Step(name, path=f"/history/{{uniq}}-{suffix}", ignore=IGNORED, wait=wait)


def undeclared(color: int, class_type: str, inputs: dict[str, Any], consumer: dict[str, Any] | None) -> dict[str, Any]:
    """EmptyImage -> the node (given an undeclared link and an undeclared value) -> consumer."""
    prompt = {"1": empty(color), "2": {"class_type": class_type,
                                       "inputs": {**inputs, "zextra": ["1", 0], "plain": 5}}}
    if consumer is not None:
        prompt["3"] = consumer
    return prompt


def wrong_type(class_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A node given a string where a link belongs, its output shown by PreviewAny."""
    return {"1": {"class_type": class_type, "inputs": inputs},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}


STEPS = [
    post("flush the reference's cache", {"1": empty(7300), "2": {"class_type": "SaveImage", "inputs": {
        "images": ["1", 0], "filename_prefix": "{uniq}-f"}}}, "f", setup=True),
    post("PreviewImage with an undeclared link", undeclared(7301, "PreviewImage", {"images": ["1", 0]}, None), "a"),
    post("ImageInvert with an undeclared link", undeclared(7302, "ImageInvert", {"image": ["1", 0]}, {
        "class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}), "b"),
    post("a V3 node with an undeclared link", undeclared(7303, "ImageToMask", {"image": ["1", 0], "channel": "red"}, {
        "class_type": "MaskPreview", "inputs": {"mask": ["2", 0]}}), "c"),
    post("an undeclared value alone", {"1": empty(7304), "2": {"class_type": "SaveImage", "inputs": {
        "images": ["1", 0], "filename_prefix": "{uniq}-v", "plain": 5}}}, "d"),
    post("ImageInvert given a string", wrong_type("ImageInvert", {"image": "x"}), "e"),
    post("InvertMask given a string", wrong_type("InvertMask", {"mask": "x"}), "g"),
    post("LatentUpscaleBy given a string", wrong_type("LatentUpscaleBy", {
        "samples": "x", "upscale_method": "nearest-exact", "scale_by": 1.5}), "h"),
    history("history: PreviewImage with an undeclared link", "a", wait=4.0),
    history("history: ImageInvert with an undeclared link", "b"),
    history("history: a V3 node with an undeclared link", "c"),
    history("history: an undeclared value alone", "d"),
    history("history: ImageInvert given a string", "e"),
    history("history: InvertMask given a string", "g"),
    history("history: LatentUpscaleBy given a string", "h"),
]
