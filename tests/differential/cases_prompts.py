"""Prompts at the edges of what real ComfyUI records: cached runs with and without a client_id,
a partly cached graph, and links whose slot is a bool or a float.

Every prompt names its id (``{uniq}-a``...) so the steps that read its history and job find it;
SaveImage with a ``{uniq}`` prefix gives file names that repeat. The first prompt clears
whatever the reference cached before (its cache keeps only the last prompt's nodes). Run
against a reference no one else is using while it records: another client's prompt between two
steps empties the cache the later steps rely on.
"""
from __future__ import annotations

import json
from typing import Any

from tests.differential.harness import Step

JSON = (("Content-Type", "application/json"),)
# what changes from run to run or server to server: queue numbers, times, Python details
TIMES = ("*.status.messages.*.1.timestamp", "*.prompt.0", "*.prompt.3.create_time")
JOB_TIMES = ("create_time", "execution_start_time", "execution_end_time", "priority",
             "execution_status.messages.*.1.timestamp", "workflow.extra_data.create_time",
             "execution_error.timestamp", "execution_error.traceback", "execution_error.current_outputs",
             "execution_status.messages.*.1.traceback", "execution_status.messages.*.1.current_outputs")
POSTED = ("number", "node_errors.*.errors.*.extra_info.traceback")
ERROR_DETAILS = ("*.status.messages.*.1.traceback", "*.status.messages.*.1.current_outputs")


def image(color: int, prefix: str, slot: Any = 0, **extra: Any) -> dict[str, Any]:
    """EmptyImage 8x8 -> SaveImage, the save's ``images`` linked at ``slot``."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", slot], "filename_prefix": prefix, **extra}}}


def post(name: str, prompt: dict[str, Any], suffix: str, setup: bool = False, **body: Any) -> Step:
    data = json.dumps({"prompt": prompt, "prompt_id": f"{{uniq}}-{suffix}", **body}).encode()
    return Step(name, "POST", "/prompt", JSON, data, ignore=POSTED, setup=setup)


def history(name: str, suffix: str, wait: float = 0.0) -> Step:
    return Step(name, path=f"/history/{{uniq}}-{suffix}", ignore=(*TIMES, *ERROR_DETAILS), wait=wait)


def job(name: str, suffix: str) -> Step:
    return Step(name, path=f"/api/jobs/{{uniq}}-{suffix}", ignore=JOB_TIMES)


def partial(color: int) -> dict[str, Any]:
    """Two branches: 1 -> 2 (cached from the step before) and 3 -> 4 (new)."""
    prompt = image(101, "{uniq}-p")
    prompt["3"] = {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}}
    prompt["4"] = {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "{uniq}-q"}}
    return prompt


STEPS = [
    post("flush the reference's cache", image(100, "{uniq}-f"), "f", setup=True),
    # the same prompt twice without a client_id: the second is cached and records no outputs
    post("first run without client_id", image(101, "{uniq}-p"), "a"),
    post("cached run without client_id", image(101, "{uniq}-p"), "b"),
    post("cached run with client_id", image(101, "{uniq}-p"), "c", client_id="{uniq}"),
    post("cached run with client_id null", image(101, "{uniq}-p"), "d", client_id=None),
    post("cached run with a numeric client_id", image(101, "{uniq}-p"), "e", client_id=5),
    post("partly cached without client_id", partial(102), "g"),
    post("partly cached with client_id", partial(103), "h", client_id="{uniq}"),
    history("history: first run", "a", wait=4.0),
    history("history: cached without client_id", "b"),
    history("history: cached with client_id", "c"),
    history("history: cached with client_id null", "d"),
    history("history: cached with a numeric client_id", "e"),
    history("history: partly cached without client_id", "g"),
    history("history: partly cached with client_id", "h"),
    job("job: first run", "a"),
    job("job: cached without client_id", "b"),
    job("job: cached with client_id", "c"),
    job("job: partly cached without client_id", "g"),
    job("job: partly cached with client_id", "h"),
    # links whose slot is not an int: a bool indexes as 0/1, a float fails validation's tuple index
    post("slot false", image(104, "{uniq}-s", slot=False), "s"),
    post("slot true", image(105, "{uniq}-t", slot=True), "t"),
    post("slot 0.0", image(106, "{uniq}-u", slot=0.0), "u"),
    post("slot 1.0", image(106, "{uniq}-u", slot=1.0), "v"),
    post("slot null", image(106, "{uniq}-u", slot=None), "w"),
    post("slot a string", image(106, "{uniq}-u", slot="0"), "x"),
    post("a bool as the source id", {**image(106, "{uniq}-u"), "2": {"class_type": "SaveImage", "inputs": {
        "images": [True, 0], "filename_prefix": "{uniq}-u"}}}, "y"),
    post("an undeclared input linked with slot 0.0", image(107, "{uniq}-z", extra=["1", 0.0]), "z",
         client_id="{uniq}"),
    post("slot -1", image(108, "{uniq}-n", slot=-1), "n"),
    history("history: slot false", "s", wait=3.0),
    history("history: undeclared input linked with slot 0.0", "z"),
    history("history: slot -1", "n"),
    job("job: undeclared input linked with slot 0.0", "z"),
]
