"""The bench's workloads: the prompt each one posts and the messages real ComfyUI sends for it.

Every prompt is new work for the server: EmptyImage gets a new colour, the samplers a new seed
(numbers from one counter, so no two prompts of a bench run are alike, across clients and runs).
``floor`` names the message list the protocol floor sends for the workload (``floor.py``).
"""
from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floor import Message, RunNode, prompt_messages

Prompt = dict[str, Any]  # an API-format workflow
WORKFLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "workflows"
STEPS = 20
SIZE = 512
_unique = itertools.count(int(time.time()))  # next() on a count is atomic: threads may share it


def _load(name: str) -> Prompt:
    with open(WORKFLOWS / name) as f:
        prompt: Prompt = json.load(f)
    return prompt


TXT2IMG = _load("sd15_txt2img_api.json")
IMG2IMG = _load("sd15_img2img_api.json")


def empty_image(size: int) -> Callable[[int], Prompt]:
    def build(index: int) -> Prompt:
        return {"1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1,
                                                             "color": next(_unique) % 16777216}},
                "2": {"class_type": "SaveImage",
                      "inputs": {"images": ["1", 0], "filename_prefix": f"bench{index}/img"}}}
    return build


def sampled(workflow: Prompt, sampler: str, save: str, prefix: str,
            **latent: int) -> Callable[[int], Prompt]:
    """``workflow`` with a new seed in ``sampler``, ``STEPS`` steps and its own file prefix."""
    def build(index: int) -> Prompt:
        prompt = copy.deepcopy(workflow)
        prompt[sampler]["inputs"].update(seed=next(_unique), steps=STEPS)
        prompt[save]["inputs"]["filename_prefix"] = f"bench{index}/{prefix}"
        for node in prompt.values():
            if node["class_type"] == "EmptyLatentImage":
                node["inputs"].update(latent)
        return prompt
    return build


# What runs in the steady state (with a new seed only the sampler and what follows it
# run; the rest is cached, listed in prompt key order). File names as client 0's first prompt
# writes them: the counter keeps five digits, so every prompt's executed message has this size.
FLOORS: dict[str, tuple[list[str], list[RunNode]]] = {
    "empty": ([], [RunNode("1"), RunNode("2", images=(("img_00001_.png", "bench0"),))]),
    "txt2img": (["4", "5", "6", "7"],
                [RunNode("3", steps=STEPS), RunNode("8"), RunNode("9", images=(("sd15_00001_.png", "bench0"),))]),
    "img2img": (["1", "2", "3", "4", "5"],
                [RunNode("6", steps=STEPS), RunNode("7"), RunNode("8", images=(("img2img_00001_.png", "bench0"),))]),
}


@dataclass(frozen=True)
class Workload:
    name: str                                  # for --rows
    label: str                                 # for the table
    build: Callable[[int], Prompt]  # client index -> a new prompt
    floor: str                                 # key of FLOORS
    concurrent: bool = False                   # --clients clients at once, else one

    def floor_messages(self, prompt_id: str) -> list[Message]:
        return floor_messages(self.floor, prompt_id)


def floor_messages(floor: str, prompt_id: str) -> list[Message]:
    cached, nodes = FLOORS[floor]
    return prompt_messages(prompt_id, cached, nodes)


WORKLOADS = [
    Workload("empty64", "EmptyImage 64 px", empty_image(64), "empty"),
    Workload("empty512", "EmptyImage 512 px", empty_image(512), "empty"),
    Workload("txt2img", f"SD1.5 txt2img {SIZE} px", sampled(TXT2IMG, "3", "9", "sd15", width=SIZE, height=SIZE),
             "txt2img"),
    Workload("img2img", "SD1.5 img2img 768 px", sampled(IMG2IMG, "6", "8", "img2img"), "img2img"),
    Workload("concurrent", "EmptyImage 64 px", empty_image(64), "empty", concurrent=True),
]
BY_NAME = {w.name: w for w in WORKLOADS}
# A real ComfyUI 0.8.0 (--cpu) on the 2-core reference machine, prompts/s (reported; the
# concurrent row with 8 clients); its txt2img and img2img rates are not known.
REAL_COMFYUI = {"empty64": 128.0, "empty512": 73.0, "concurrent": 201.0}
