"""GraphExecutor without HTTP: event sequences, progress_state, cache rules, failures, history parts.

Every prompt runs through the real validation first (like POST /prompt) and then straight
through ``executor.execute`` with a :class:`Recorder` as the reporter.
"""
from __future__ import annotations

import functools
import gc
import io
import itertools
import json
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image

from fakecomfy.app import build_model
from fakecomfy.core.execution import Completion, Preview, QueueItem
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.validation import validate_prompt
from fakecomfy.executors.base import NodeContext, NodeResult
from fakecomfy.executors.engine import GraphExecutor
from fakecomfy.executors.numpy import IS_CHANGED, NODES, describe, fallback
from fakecomfy.settings import Settings
from fakecomfy.web.frames import FrameEncoder, encode_preview
from tests import workflows
from tests.conftest import SHARED
from tests.workflows import Prompt, blur_chain

FAKE_CHECKPOINT = SHARED / "fixtures" / "models" / "checkpoints" / "fake.safetensors"
CID = "client-1"


class Recorder:
    """A Reporter that keeps every event, binary previews included, in the order sent."""

    def __init__(self, metadata_sids: frozenset[str] = frozenset()) -> None:
        self.events: list[tuple[str, Any, str | None]] = []
        self.metadata_sids = metadata_sids
        self.hooks: list[Callable[[str, Any], None]] = []

    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        self.events.append((event, data, sid))
        for hook in self.hooks:
            hook(event, data)

    def send_preview(self, preview: Preview, metadata: dict[str, Any], sid: str | None) -> None:
        kind = "preview4" if sid is not None and self.supports_preview_metadata(sid) else "preview1"
        self.events.append((kind, {"preview": preview, "metadata": metadata}, sid))

    def supports_preview_metadata(self, sid: str | None) -> bool:
        return sid in self.metadata_sids

    def flush(self) -> None:
        pass

    def types(self) -> list[str]:
        return [e for e, _, _ in self.events]

    def of(self, event: str) -> list[Any]:
        return [d for e, d, _ in self.events if e == event]

    def labels(self) -> list[str]:
        """Compact labels: ``executing:2``, ``progress:1/3``, ``state:1=finished,2=running``."""
        out = []
        for event, data, _ in self.events:
            if event in ("executing", "executed"):
                out.append(f"{event}:{data['node']}")
            elif event == "progress":
                out.append(f"progress:{data['value']}/{data['max']}")
            elif event == "progress_state":
                out.append("state:" + ",".join(f"{k}={v['state']}" for k, v in data["nodes"].items()))
            else:
                out.append(event)
        return out


class Engine:
    """One model's executor, running prompts synchronously."""

    def __init__(self, model: ComfyModel) -> None:
        self.model = model
        self.executor = model.executor
        self.counter = 0

    def item(self, prompt: Prompt, client_id: str | None = CID, extra: dict[str, Any] | None = None,
             prompt_id: str | None = None) -> QueueItem:
        result = validate_prompt(prompt, None, self.model.catalog, self.model.files)
        assert result.ok, result.error
        self.counter += 1
        extra_data = dict(extra or {})
        if client_id is not None:
            extra_data["client_id"] = client_id
        return QueueItem(self.counter, prompt_id or f"p{self.counter}", result.prompt, extra_data,
                         result.good_outputs)

    def run(self, prompt: Prompt, client_id: str | None = CID, extra: dict[str, Any] | None = None,
            recorder: Recorder | None = None, prompt_id: str | None = None) -> tuple[Completion, Recorder]:
        recorder = recorder or Recorder()
        completion = self.executor.execute(self.item(prompt, client_id, extra, prompt_id), recorder)
        return completion, recorder


def make_engine(base: Path, **settings: Any) -> Engine:
    s = Settings(base_directory=base, log_requests=False, **settings)
    return Engine(build_model(s, FolderPaths.from_settings(s, base)))


@pytest.fixture
def base(base_dir: Path) -> Path:
    shutil.copyfile(FAKE_CHECKPOINT, base_dir / "models" / "checkpoints" / "fake.safetensors")
    return base_dir


@pytest.fixture
def engine(base: Path) -> Engine:
    return make_engine(base)


# ---- prompts ----------------------------------------------------------------------------------
empty_save = functools.partial(workflows.empty_save, prefix="run/basic")
txt2img = functools.partial(workflows.txt2img, prefix="run/t2i", steps=3)


def node_order(recorder: Recorder) -> list[str]:
    return [d["node"] for d in recorder.of("executing")]


# ---- the event sequence -----------------------------------------------------------------------
def test_empty_save_sends_the_exact_sequence_of_fact_5(engine: Engine) -> None:
    completion, rec = engine.run(empty_save())
    assert rec.labels() == [
        "execution_start", "execution_cached",
        "state:1=running", "executing:1", "state:1=finished",
        "state:1=finished,2=running", "executing:2", "executed:2", "state:1=finished,2=finished",
        "execution_success",
    ]
    assert all(sid == CID for _, _, sid in rec.events)
    start, cached, success = rec.of("execution_start")[0], rec.of("execution_cached")[0], rec.of("execution_success")[0]
    assert list(start) == ["prompt_id", "timestamp"] and isinstance(start["timestamp"], int)
    assert cached == {"nodes": [], "prompt_id": "p1", "timestamp": cached["timestamp"]}
    assert list(cached) == ["nodes", "prompt_id", "timestamp"]
    assert list(success) == ["prompt_id", "timestamp"]
    assert rec.of("executing")[0] == {"node": "1", "display_node": "1", "prompt_id": "p1"}
    assert rec.of("executed") == [{"node": "2", "display_node": "2", "output": {"images": [
        {"filename": "basic_00001_.png", "subfolder": "run", "type": "output"}]}, "prompt_id": "p1"}]
    assert completion.status == "success" and completion.completed


def test_history_parts_on_success(engine: Engine) -> None:
    completion, rec = engine.run(empty_save())
    assert completion.outputs == {"2": {"images": [{"filename": "basic_00001_.png", "subfolder": "run",
                                                    "type": "output"}]}}
    assert completion.meta == {"2": {"node_id": "2", "display_node": "2", "parent_node": None,
                                     "real_node_id": "2"}}
    # status.messages: the prompt-level events with exactly the data that was sent
    assert [m[0] for m in completion.messages] == ["execution_start", "execution_cached", "execution_success"]
    sent = {e: d for e, d, _ in rec.events}
    assert all(data == sent[event] for event, data in completion.messages)


def test_progress_state_entries_are_cumulative_with_float_start_and_finish(engine: Engine) -> None:
    _, rec = engine.run(empty_save())
    states = rec.of("progress_state")
    first = states[0]
    assert first == {"prompt_id": "p1", "nodes": {"1": {
        "value": 0.0, "max": 1.0, "state": "running", "node_id": "1", "prompt_id": "p1",
        "display_node_id": "1", "parent_node_id": None, "real_node_id": "1"}}}
    assert list(first["nodes"]["1"]) == ["value", "max", "state", "node_id", "prompt_id", "display_node_id",
                                         "parent_node_id", "real_node_id"]
    assert isinstance(first["nodes"]["1"]["value"], float) and isinstance(first["nodes"]["1"]["max"], float)
    last = states[-1]["nodes"]
    assert list(last) == ["1", "2"]
    for entry in last.values():
        assert (entry["value"], entry["max"], entry["state"]) == (1.0, 1.0, "finished")
        assert isinstance(entry["value"], float)


def test_progress_state_messages_encode_as_json_dumps_of_their_data(engine: Engine) -> None:
    """The engine sends plain data and replaces an entry when it changes; the wire layer
    encodes each entry once: every frame must still be json.dumps of its data, through sampler
    steps (ints), starts (floats) and cached nodes (ints 1/1), prompt after prompt."""
    frames = FrameEncoder()
    engine.run(txt2img(steps=2))
    for prompt in (txt2img(steps=2), txt2img(steps=3)):  # all cached, then the sampler again
        _, rec = engine.run(prompt)
        states = rec.of("progress_state")
        assert states
        for data in states:
            assert type(data) is dict
            assert frames.json("progress_state", data) == json.dumps({"type": "progress_state", "data": data})


def test_sampler_progress_values_are_ints_and_finish_keeps_them(engine: Engine) -> None:
    _, rec = engine.run(txt2img(steps=3))
    sampler = [d["nodes"]["3"] for d in rec.of("progress_state") if "3" in d["nodes"]]
    seen = [(s["value"], s["max"], s["state"]) for s in sampler]
    # running 0.0/1.0, then the ProgressBar's 1..3 of 3, then finished 3/3; repeated as others finish
    assert seen[:5] == [(0.0, 1.0, "running"), (1, 3, "running"), (2, 3, "running"), (3, 3, "running"),
                        (3, 3, "finished")]
    assert all(type(v) is int and type(m) is int for v, m, _ in seen[1:])
    assert [(d["value"], d["max"]) for d in rec.of("progress")] == [(1, 3), (2, 3), (3, 3)]
    assert rec.of("progress")[0] == {"value": 1, "max": 3, "prompt_id": "p1", "node": "3"}


def test_txt2img_runs_the_negative_prompt_before_the_positive_one(engine: Engine) -> None:
    _, rec = engine.run(txt2img())
    assert node_order(rec) == ["4", "5", "7", "6", "3", "8", "9"]


def _encode(text: str, clip: list[Any]) -> dict[str, Any]:
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": clip}}


def _img2img() -> Prompt:
    prompt = txt2img()
    return {"1": prompt["4"], "2": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
            "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
            "4": _encode("pos", ["1", 1]), "5": _encode("neg", ["1", 1]),
            "6": {**prompt["3"], "inputs": {**prompt["3"]["inputs"], "denoise": 0.6, "model": ["1", 0],
                                            "positive": ["4", 0], "negative": ["5", 0], "latent_image": ["3", 0]}},
            "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
            "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "run/i2i"}}}


def _hires() -> Prompt:
    prompt = txt2img()
    prompt["10"] = {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}}
    prompt["11"] = {"class_type": "PreviewImage", "inputs": {"images": ["10", 0]}}
    prompt["12"] = {"class_type": "LatentUpscaleBy", "inputs": {"upscale_method": "nearest-exact", "scale_by": 1.5,
                                                                "samples": ["3", 0]}}
    prompt["13"] = {**prompt["3"], "inputs": {**prompt["3"]["inputs"], "latent_image": ["12", 0]}}
    prompt["8"]["inputs"]["samples"] = ["13", 0]
    return prompt


def _batch() -> Prompt:
    prompt = txt2img()
    prompt["10"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["8", 0], "amount": 2}}
    prompt["11"] = {"class_type": "ImageBatch", "inputs": {"image1": ["10", 0], "image2": ["8", 0]}}
    prompt["12"] = {"class_type": "SaveImage", "inputs": {"images": ["11", 0], "filename_prefix": "run/rep"}}
    return prompt


def _conditioning() -> Prompt:
    prompt = txt2img()
    prompt["20"] = {"class_type": "CLIPSetLastLayer", "inputs": {"stop_at_clip_layer": -2, "clip": ["4", 1]}}
    prompt["6"], prompt["7"], prompt["21"] = (_encode(t, ["20", 0]) for t in ("pos", "neg", "area"))
    prompt["22"] = {"class_type": "ConditioningSetArea", "inputs": {"width": 64, "height": 64, "x": 0, "y": 0,
                                                                    "strength": 1.0, "conditioning": ["21", 0]}}
    prompt["23"] = {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["6", 0],
                                                                    "conditioning_2": ["22", 0]}}
    prompt["24"] = {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["7", 0]}}
    prompt["3"]["inputs"].update(positive=["23", 0], negative=["24", 0])
    return prompt


def _composite(source_first: bool) -> Prompt:
    links = {"destination": ["1", 0], "source": ["2", 0]}
    if source_first:
        links = {"source": ["2", 0], "destination": ["1", 0]}
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}},
            "2": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 2}},
            "3": {"class_type": "ImageCompositeMasked", "inputs": {**links, "x": 0, "y": 0, "resize_source": False}},
            "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}}


def _string_ids() -> Prompt:
    """txt2img with string ids, listed output first (the order then follows the inputs' key order)."""
    p = txt2img()
    rename = {"9": "SaveImage.0", "8": "VAEDecode.0", "3": "KSampler.0", "6": "CLIPTextEncode.0",
              "7": "CLIPTextEncode.1", "5": "EmptyLatentImage.0", "4": "CheckpointLoaderSimple.0"}
    out: Prompt = {}
    for old in ("9", "8", "3", "6", "7", "5", "4"):
        inputs = {k: [rename[v[0]], v[1]] if isinstance(v, list) else v for k, v in p[old]["inputs"].items()}
        out[rename[old]] = {"class_type": p[old]["class_type"], "inputs": inputs}
    return out


@pytest.mark.parametrize(("build", "order"), [
    (_img2img, "1 2 3 5 4 6 7 8"),
    (_hires, "4 5 7 6 3 10 11 12 13 8 9"),
    (_batch, "4 5 7 6 3 8 9 10 11 12"),
    (_conditioning, "4 5 20 7 24 21 22 6 23 3 8 9"),
    (lambda: _composite(False), "2 1 3 4"),
    (lambda: _composite(True), "1 2 3 4"),
    (_string_ids, "CheckpointLoaderSimple.0 EmptyLatentImage.0 CLIPTextEncode.1 CLIPTextEncode.0 KSampler.0 "
                  "VAEDecode.0 SaveImage.0"),
], ids=["img2img", "hires-fix", "batch", "conditioning", "inputs-order-destination-first",
        "inputs-order-source-first", "string-ids"])
def test_execution_order_of_fact_38(engine: Engine, build: Callable[[], Prompt], order: str) -> None:
    _, rec = engine.run(build())
    assert node_order(rec) == order.split()


def test_model_nodes_send_no_progress(engine: Engine) -> None:
    _, rec = engine.run(txt2img(steps=2))
    assert {d["node"] for d in rec.of("progress")} == {"3"}


def test_nodes_that_feed_no_output_never_appear(engine: Engine) -> None:
    prompt = empty_save()
    prompt["9"] = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    _, rec = engine.run(prompt)
    mentioned = set(node_order(rec))
    for data in rec.of("progress_state"):
        mentioned |= set(data["nodes"])
    assert "9" not in mentioned and mentioned == {"1", "2"}


def test_no_client_id_sends_only_progress_events_and_broadcasts_them(engine: Engine) -> None:
    completion, rec = engine.run(empty_save(), client_id=None)
    assert set(rec.types()) == {"progress_state"}
    assert all(sid is None for _, _, sid in rec.events)
    # history still records every prompt-level event
    assert [m[0] for m in completion.messages] == ["execution_start", "execution_cached", "execution_success"]


def test_a_client_id_that_is_no_string_reaches_nobody(engine: Engine) -> None:
    """Real routes to ``client_id`` whenever it is not None; a number names no socket."""
    completion, rec = engine.run(txt2img(steps=1), client_id=None, extra={"client_id": 7,
                                                                          "preview_method": "latent2rgb"})
    assert rec.events == []
    assert completion.status == "success"


# ---- sampler progress and previews --------------------------------------------------------------
def test_no_previews_without_preview_method(engine: Engine) -> None:
    _, rec = engine.run(txt2img(steps=2))
    assert not [t for t in rec.types() if t.startswith("preview")]
    assert len(rec.of("progress")) == 2


def test_legacy_client_gets_progress_state_progress_then_preview(engine: Engine) -> None:
    _, rec = engine.run(txt2img(steps=2), extra={"preview_method": "latent2rgb"})
    labels = [t for t in rec.labels() if t.startswith(("state:", "progress", "preview"))]
    sampler_part = labels[labels.index("progress:1/2") - 1:]
    assert sampler_part[:6] == ["state:4=finished,5=finished,7=finished,6=finished,3=running", "progress:1/2",
                                "preview1", "state:4=finished,5=finished,7=finished,6=finished,3=running",
                                "progress:2/2", "preview1"]


def test_metadata_client_gets_progress_state_preview_then_progress(base: Path) -> None:
    engine = make_engine(base)
    _, rec = engine.run(txt2img(steps=2), extra={"preview_method": "latent2rgb"},
                        recorder=Recorder(metadata_sids=frozenset({CID})))
    seq = [t for t in rec.types() if t in ("progress_state", "progress", "preview4", "preview1")]
    first = seq.index("preview4")
    assert seq[first - 1:first + 5] == ["progress_state", "preview4", "progress", "progress_state", "preview4",
                                        "progress"]
    assert "preview1" not in seq
    metadata = rec.of("preview4")[0]["metadata"]
    assert metadata == {"node_id": "3", "prompt_id": "p1", "display_node_id": "3", "parent_node_id": None,
                        "real_node_id": "3", "image_type": "image/jpeg"}
    assert list(metadata) == ["node_id", "prompt_id", "display_node_id", "parent_node_id", "real_node_id",
                              "image_type"]


@pytest.mark.parametrize(("width", "height", "size"), [(64, 64, (512, 512)), (64, 96, (341, 512))],
                         ids=["square", "portrait"])
def test_latent2rgb_previews_are_jpegs_contained_in_512(engine: Engine, width: int, height: int,
                                                        size: tuple[int, int]) -> None:
    _, rec = engine.run(txt2img(steps=1, width=width, height=height), extra={"preview_method": "latent2rgb"})
    preview = rec.of("preview1")[0]["preview"]
    assert preview.format == "JPEG"
    with Image.open(io.BytesIO(encode_preview(preview))) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", size, "RGB")


def test_no_client_id_previews_are_legacy_broadcasts(base: Path) -> None:
    engine = make_engine(base)
    _, rec = engine.run(txt2img(steps=2), client_id=None, extra={"preview_method": "latent2rgb"},
                        recorder=Recorder(metadata_sids=frozenset({CID})))
    assert set(rec.types()) == {"progress_state", "progress", "preview1"}
    assert all(sid is None for _, _, sid in rec.events)
    seq = [t for t in rec.types() if t != "progress_state"]
    assert seq == ["progress", "preview1", "progress", "preview1"]


def test_ksampler_with_denoise_still_reports_every_step(engine: Engine) -> None:
    _, rec = engine.run(txt2img(steps=3, denoise=0.6))
    assert [(d["value"], d["max"]) for d in rec.of("progress")] == [(1, 3), (2, 3), (3, 3)]


def test_outputs_the_cache_drops_are_freed_at_once(engine: Engine) -> None:
    """Not when the garbage collector gets round to the finished run: a big picture's memory is
    free for the next prompt's sampler."""
    engine.run(txt2img(seed=1))
    entry = cast(GraphExecutor, engine.executor).cache.get("8")
    assert entry is not None
    picture = weakref.ref(entry.outputs[0])
    del entry
    gc.disable()
    try:
        engine.run(txt2img(seed=2))
        assert picture() is None
    finally:
        gc.enable()


def _sampler_timeline(engine: Engine, seed: int) -> tuple[float, float]:
    """A 1024 px batch-4 txt2img: (time from the first to the last progress, sampler's time from
    its ``executing`` to VAEDecode's) over the sampler's time, and the sampler's time over the
    prompt's."""
    prompt = txt2img(width=1024, height=1024, steps=10, seed=seed)
    prompt["5"]["inputs"]["batch_size"] = 4
    rec, times = Recorder(), []
    rec.hooks.append(lambda event, data: times.append((event, data.get("node"), time.perf_counter())))
    engine.run(prompt, recorder=rec)
    started, ended = (next(t for e, n, t in times if e == "executing" and n == node) for node in ("3", "8"))
    progress = [t for e, _, t in times if e == "progress"]
    assert len(progress) == 10
    return (progress[-1] - progress[0]) / (ended - started), (ended - started) / (times[-1][2] - times[0][2])


def test_sampler_progress_is_spread_over_its_work_and_the_sampler_does_most(engine: Engine) -> None:
    """Like a real sampler's: progress i after about i/steps of its work (so the first and last
    are about 9/10 of its time apart), and the sampler takes most of a heavy prompt's time (the
    decode and the PNGs are cheap). Fractions of a run's own times, the best of three runs, so
    that a loaded machine does not fail it; a sampler that sends its progress in one burst does."""
    spreads, shares = zip(*(_sampler_timeline(engine, seed) for seed in (1, 2, 3)), strict=False)
    assert max(spreads) > 0.6, spreads
    assert max(shares) > 0.8, shares


def _advanced(node_id: str, latent: list[Any], start: int, end: int, leftover: str) -> dict[str, Any]:
    return {"class_type": "KSamplerAdvanced", "inputs": {
        "add_noise": "enable", "noise_seed": 5, "steps": 3, "cfg": 7.0, "sampler_name": "euler",
        "scheduler": "normal", "start_at_step": start, "end_at_step": end,
        "return_with_leftover_noise": leftover, "model": ["4", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": latent}}


def test_ksampler_advanced_reports_the_steps_of_its_window(engine: Engine) -> None:
    prompt = txt2img()
    del prompt["3"]
    prompt["10"] = _advanced("10", ["5", 0], 0, 2, "enable")
    prompt["11"] = _advanced("11", ["10", 0], 2, 10000, "disable")
    prompt["8"]["inputs"]["samples"] = ["11", 0]
    _, rec = engine.run(prompt)
    assert node_order(rec) == ["4", "5", "7", "6", "10", "11", "8", "9"]
    assert [(d["node"], d["value"], d["max"]) for d in rec.of("progress")] == [
        ("10", 1, 2), ("10", 2, 2), ("11", 1, 1)]
    final = rec.of("progress_state")[-1]["nodes"]
    assert (final["10"]["value"], final["10"]["max"]) == (2, 2)
    assert (final["11"]["value"], final["11"]["max"]) == (1, 1)


# ---- caching ----------------------------------------------------------------------------------
def test_fully_cached_rerun_reports_the_previous_output(engine: Engine, base: Path) -> None:
    first, _ = engine.run(empty_save())
    files = sorted((base / "output" / "run").iterdir())
    completion, rec = engine.run(empty_save())
    assert rec.labels() == ["execution_start", "execution_cached", "executed:2", "state:2=finished",
                            "execution_success"]
    assert rec.of("execution_cached")[0]["nodes"] == ["1", "2"]
    assert rec.of("executed")[0]["output"] == first.outputs["2"]
    entry = rec.of("progress_state")[0]["nodes"]["2"]
    assert (entry["value"], entry["max"]) == (1, 1) and type(entry["value"]) is int
    assert sorted((base / "output" / "run").iterdir()) == files  # nothing written again
    assert completion.outputs == first.outputs and completion.meta == first.meta


def test_cache_is_keyed_by_inputs_not_prompt_id(engine: Engine) -> None:
    engine.run(empty_save(), prompt_id="a")
    _, rec = engine.run(empty_save(prefix="run/other"), prompt_id="b")
    assert rec.of("execution_cached")[0]["nodes"] == ["1"]
    assert node_order(rec) == ["2"]


def test_cached_list_is_in_prompt_key_order(engine: Engine) -> None:
    engine.run(txt2img(seed=1))
    _, rec = engine.run(txt2img(seed=2))
    assert rec.of("execution_cached")[0]["nodes"] == ["4", "5", "6", "7"]
    assert node_order(rec) == ["3", "8", "9"]
    assert rec.of("executed")[0]["output"]["images"][0]["filename"] == "t2i_00002_.png"


def test_a_prompt_keeps_only_the_cached_results_it_uses(engine: Engine) -> None:
    engine.run(empty_save(color=1))
    _, second = engine.run(empty_save(color=2))
    assert second.of("execution_cached")[0]["nodes"] == []
    _, third = engine.run(empty_save(color=1))
    assert third.of("execution_cached")[0]["nodes"] == []  # dropped when the second prompt started
    assert node_order(third) == ["1", "2"]


def test_an_unused_branch_keeps_its_cached_result(engine: Engine) -> None:
    """Every node of the prompt counts as used, even one that feeds no output."""
    engine.run(empty_save(color=1))
    prompt = empty_save(color=2)
    prompt["5"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 1}}
    engine.run(prompt)
    _, rec = engine.run(empty_save(color=1))
    # the EmptyImage survived through the unused node "5"; the first SaveImage did not
    assert rec.of("execution_cached")[0]["nodes"] == ["1"]


def test_free_memory_drops_the_cache(engine: Engine) -> None:
    engine.run(empty_save())
    engine.executor.free(unload_models=True, free_memory=False)
    _, kept = engine.run(empty_save())
    assert kept.of("execution_cached")[0]["nodes"] == ["1", "2"]
    engine.executor.free(unload_models=False, free_memory=True)
    _, rec = engine.run(empty_save())
    assert rec.of("execution_cached")[0]["nodes"] == []
    assert rec.of("executed")[0]["output"]["images"][0]["filename"] == "basic_00002_.png"


def _preview_prompt(color: int, class_type: str = "PreviewImage") -> Prompt:
    prompt = empty_save(color=color)
    prompt["4"] = {"class_type": class_type, "inputs": {"images": ["1", 0]}}
    del prompt["2"]
    if class_type == "SaveImage":
        prompt["4"]["inputs"]["filename_prefix"] = "run/swap"
    return prompt


def _temp_name(rec: Recorder) -> str:
    return str(rec.of("executed")[0]["output"]["images"][0]["filename"])


def test_preview_image_keeps_its_random_prefix_across_prompts(engine: Engine) -> None:
    _, first = engine.run(_preview_prompt(1))
    _, second = engine.run(_preview_prompt(2))
    a, b = _temp_name(first), _temp_name(second)
    assert a.startswith("ComfyUI_temp_") and a.endswith("_00001_.png")
    assert b == a.replace("_00001_", "_00002_")


def test_a_node_instance_is_dropped_when_its_id_changes_class(engine: Engine) -> None:
    _, first = engine.run(_preview_prompt(1))
    engine.run(_preview_prompt(2, "SaveImage"))
    _, third = engine.run(_preview_prompt(3))
    assert _temp_name(third).endswith("_00001_.png")  # a fresh instance, a fresh prefix
    assert _temp_name(third) != _temp_name(first)


def test_a_cached_output_node_without_ui_still_gets_executed(base: Path) -> None:
    engine = make_engine(base)
    nodes = {**NODES, "PreviewAny": lambda ctx, **_: NodeResult((), None)}
    engine.executor = GraphExecutor("test", engine.model.env, nodes, fallback, IS_CHANGED, describe)
    prompt: Prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 7}},
                      "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    first, rec1 = engine.run(prompt)
    assert rec1.of("executed") == [] and first.outputs == {}
    second, rec2 = engine.run(prompt)
    assert rec2.of("executed") == [{"node": "2", "display_node": "2", "output": None, "prompt_id": "p2"}]
    assert second.outputs == {} and second.meta == {}


# ---- errors -----------------------------------------------------------------------------------
def test_execution_error_sequence_and_data(engine: Engine, base: Path) -> None:
    completion, rec = engine.run(txt2img(ckpt="fake.safetensors"))
    assert rec.labels() == ["execution_start", "execution_cached", "state:4=running", "executing:4",
                            "execution_error"]
    error = rec.of("execution_error")[0]
    assert list(error) == ["prompt_id", "node_id", "node_type", "executed", "exception_message",
                           "exception_type", "traceback", "current_inputs", "current_outputs", "timestamp"]
    path = base / "models" / "checkpoints" / "fake.safetensors"
    assert error["exception_message"] == f"ERROR: Could not detect model type of: {path.resolve()}\n\n"
    assert (error["node_id"], error["node_type"], error["exception_type"]) == ("4", "CheckpointLoaderSimple",
                                                                               "RuntimeError")
    assert error["executed"] == [] and error["current_inputs"] == {"ckpt_name": ["fake.safetensors"]}
    assert sorted(error["current_outputs"]) == sorted(txt2img())
    assert error["traceback"] and all(isinstance(line, str) for line in error["traceback"])
    assert (completion.status, completion.completed) == ("error", False)
    assert completion.outputs == {} and completion.meta == {}
    assert [m[0] for m in completion.messages] == ["execution_start", "execution_cached", "execution_error"]


def _escaping_save(prefix: str = "../escape/x") -> Prompt:
    return empty_save(prefix=prefix)


def test_current_inputs_keep_primitives_and_str_the_rest(engine: Engine) -> None:
    _, rec = engine.run(_escaping_save())
    error = rec.of("execution_error")[0]
    assert error["exception_type"] == "Exception"
    assert error["exception_message"].startswith("**** ERROR: Saving image outside the output folder")
    inputs = error["current_inputs"]
    assert list(inputs) == ["images", "filename_prefix", "prompt", "extra_pnginfo"]
    assert inputs["filename_prefix"] == ["../escape/x"]
    assert inputs["extra_pnginfo"] == [None]
    assert inputs["images"][0].startswith("tensor(")
    assert inputs["prompt"][0].startswith("{'1': {'class_type': 'EmptyImage', 'inputs': {'width': 64")


def test_current_inputs_of_a_failing_sampler(engine: Engine) -> None:
    prompt = txt2img()
    prompt["5"] = {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 64, "height": 64, "length": 1,
                                                                       "batch_size": 1}}
    prompt["3"]["inputs"]["seed"] = 121
    _, rec = engine.run(prompt)
    error = rec.of("execution_error")[0]
    assert (error["node_id"], error["exception_type"]) == ("3", "RuntimeError")
    assert "Expected 3D (unbatched) or 4D (batched) input to conv2d" in error["exception_message"]
    inputs = error["current_inputs"]
    assert inputs["seed"] == [121] and inputs["cfg"] == [7.0] and inputs["sampler_name"] == ["euler"]
    assert inputs["model"][0].startswith("<comfy.model_patcher.ModelPatcher object at 0x")
    assert inputs["latent_image"][0].startswith("{'samples': tensor(")
    assert not rec.of("progress")  # the model fails before the first step


def test_results_before_an_error_stay_cached(engine: Engine) -> None:
    engine.run(_escaping_save())
    _, rec = engine.run(empty_save())
    assert rec.of("execution_cached")[0]["nodes"] == ["1"]


def test_executed_lists_only_nodes_run_in_this_prompt(engine: Engine) -> None:
    _, ran = engine.run(_escaping_save())
    assert ran.of("execution_error")[0]["executed"] == ["1"]
    _, cached = engine.run(_escaping_save("../escape/y"))
    assert cached.of("execution_cached")[0]["nodes"] == ["1"]
    assert cached.of("execution_error")[0]["executed"] == []


def test_no_progress_state_after_an_error(engine: Engine) -> None:
    _, rec = engine.run(_escaping_save())
    after = rec.types()[rec.types().index("execution_error") + 1:]
    assert after == []
    last = rec.of("progress_state")[-1]["nodes"]
    assert last["2"]["state"] == "running"  # the failing node gets no error state


def test_no_client_id_error_sends_nothing_but_progress_state(engine: Engine) -> None:
    completion, rec = engine.run(_escaping_save(), client_id=None)
    assert set(rec.types()) == {"progress_state"}
    assert completion.messages[-1][0] == "execution_error"


# ---- interrupts -------------------------------------------------------------------------------
def _interrupt_when(engine: Engine, rec: Recorder, event: str, match: Callable[[Any], bool]) -> None:
    def hook(ev: str, data: Any) -> None:
        if ev == event and match(data):
            engine.model.interrupt.set()

    rec.hooks.append(hook)


def test_interrupt_is_noticed_at_the_next_node(base: Path) -> None:
    """An interrupt while a (non-sampler) node runs lets it finish; the next node stops."""
    engine = make_engine(base, node_times={"ImageBlur": 0.5})
    rec = Recorder()

    def hook(event: str, data: Any) -> None:
        if event == "executing" and data["node"] == "2":  # interrupt once the blur is under way
            threading.Timer(0.15, engine.model.interrupt.set).start()

    rec.hooks.append(hook)
    completion, _ = engine.run(blur_chain(), recorder=rec)
    assert rec.labels()[-5:] == ["executing:2", "state:1=finished,2=finished",
                                 "state:1=finished,2=finished,3=running", "executing:3", "execution_interrupted"]
    data = rec.of("execution_interrupted")[0]
    assert data == {"prompt_id": "p1", "node_id": "3", "node_type": "ImageScale", "executed": ["1", "2"],
                    "timestamp": data["timestamp"]}
    assert (completion.status, completion.completed, completion.outputs) == ("error", False, {})
    assert completion.messages[-1] == ["execution_interrupted", data]


def test_interrupt_pending_when_a_node_starts_stops_it_after_executing(engine: Engine) -> None:
    rec = Recorder()
    _interrupt_when(engine, rec, "executing", lambda d: d["node"] == "2")
    engine.run(blur_chain(), recorder=rec)
    assert rec.labels()[-3:] == ["state:1=finished,2=running", "executing:2", "execution_interrupted"]
    assert rec.of("execution_interrupted")[0]["executed"] == ["1"]


def test_interrupt_without_client_id_is_broadcast(engine: Engine) -> None:
    rec = Recorder()
    _interrupt_when(engine, rec, "progress_state", lambda d: d["nodes"].get("1", {}).get("state") == "finished")
    engine.run(blur_chain(), client_id=None, recorder=rec)
    assert rec.events[-1][0] == "execution_interrupted" and rec.events[-1][2] is None
    assert set(rec.types()) == {"progress_state", "execution_interrupted"}


def _sampler_after_preview() -> Prompt:
    """A PreviewImage that finishes first, then a 4-step sampler pass."""
    prompt = txt2img(steps=4)
    prompt["1"] = {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 9}}
    prompt["2"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    return prompt


def test_interrupt_stops_a_sampler_inside_its_step(base: Path) -> None:
    engine = make_engine(base, node_times={"KSampler": 0.5})
    rec = Recorder()
    stamps: dict[str, float] = {}

    def hook(event: str, data: Any) -> None:
        if event == "progress" and data["value"] == 1:
            stamps["progress"] = time.monotonic()
            engine.model.interrupt.set()
        if event == "execution_interrupted":
            stamps["interrupted"] = time.monotonic()

    rec.hooks.append(hook)
    completion, _ = engine.run(_sampler_after_preview(), recorder=rec, extra={"preview_method": "latent2rgb"})
    assert stamps["interrupted"] - stamps["progress"] < 0.3  # a step takes 0.5 s
    assert rec.labels()[-3:] == ["progress:1/4", "preview1", "execution_interrupted"]
    assert [(d["value"], d["max"]) for d in rec.of("progress")] == [(1, 4)]
    data = rec.of("execution_interrupted")[0]
    assert (data["node_id"], data["node_type"]) == ("3", "KSampler")
    assert sorted(data["executed"]) == ["1", "2", "4", "5", "6", "7"]
    # history keeps the output node that finished before the interrupt
    assert (completion.status, completion.completed) == ("error", False)
    assert list(completion.outputs) == ["2"] and list(completion.meta) == ["2"]
    assert completion.outputs["2"]["images"][0]["type"] == "temp"


def test_interrupt_flag_from_before_the_prompt_is_cleared(engine: Engine) -> None:
    engine.model.interrupt.set()
    completion, rec = engine.run(empty_save())
    assert completion.status == "success" and "execution_interrupted" not in rec.types()


# ---- node time ----------------------------------------------------------------------------------
def test_node_time_is_spent_once_per_node(base: Path) -> None:
    engine = make_engine(base, node_times={"ImageBlur": 0.3})
    started = time.monotonic()
    engine.run(blur_chain())
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.6  # spent twice would be 0.6


def test_sampler_node_time_is_per_step(base: Path) -> None:
    engine = make_engine(base, node_times={"KSampler": 0.1})
    started = time.monotonic()
    engine.run(txt2img(steps=3))
    assert time.monotonic() - started >= 0.3


def test_node_time_of_a_fallback_node(base: Path) -> None:
    engine = make_engine(base, node_times={"ImageInvert": 0.2})
    prompt = empty_save()
    prompt["3"] = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    prompt["2"]["inputs"]["images"] = ["3", 0]
    started = time.monotonic()
    engine.run(prompt)
    assert time.monotonic() - started >= 0.2


def test_a_node_reads_its_context(base: Path) -> None:
    """Node functions see their id, class, prompt id and persistent per-instance state."""
    engine = make_engine(base)
    seen: list[tuple[str, str, str, int]] = []

    def probe(ctx: NodeContext, **_: Any) -> NodeResult:
        ctx.state["runs"] = ctx.state.get("runs", 0) + 1
        seen.append((ctx.node_id, ctx.class_type, ctx.prompt_id, ctx.state["runs"]))
        return NodeResult((), {"text": [str(ctx.state["runs"])]})

    always_changed = itertools.count()  # an IS_CHANGED that differs every time: never cached
    engine.executor = GraphExecutor("test", engine.model.env, {**NODES, "PreviewAny": probe}, fallback,
                                    {"PreviewAny": lambda env, inputs: next(always_changed)}, describe)
    prompt: Prompt = {"7": {"class_type": "PreviewAny", "inputs": {"source": "x"}}}
    engine.run(prompt)
    engine.run(prompt)
    assert seen == [("7", "PreviewAny", "p1", 1), ("7", "PreviewAny", "p2", 2)]
