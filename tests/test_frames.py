"""fakecomfy.web.frames: every JSON frame is json.dumps' text of {"type", "data"}, whatever the
caches; binary preview frames have ComfyUI's layouts."""
from __future__ import annotations

import io
import json
import struct
from typing import Any

import pytest
from PIL import Image

from fakecomfy.core.execution import Preview
from fakecomfy.protocol import PreviewFormat
from fakecomfy.web.frames import FrameEncoder


def dumps_frame(event: str, data: Any) -> str:
    return json.dumps({"type": event, "data": data})


@pytest.mark.parametrize("data", [
    {"status": {"exec_info": {"queue_remaining": 3}}},
    {"status": {"exec_info": {"queue_remaining": 3}}, "sid": "abc"},  # the greeting: not cached
    {"status": {"exec_info": {"queue_remaining": True}}},  # json.dumps writes true, not 1
    {"status": {"exec_info": {"queue_remaining": 3, "x": 1}}},
    {"status": "odd"},
], ids=["broadcast", "greeting", "bool", "extra-key", "odd"])
def test_status_frames_are_json_dumps_text_and_the_cache_tells_shapes_apart(data: dict[str, Any]) -> None:
    frames = FrameEncoder()
    frames.json("status", {"status": {"exec_info": {"queue_remaining": 3}}})  # fills the cache
    assert frames.json("status", data) == dumps_frame("status", data)


def test_a_progress_state_entry_replaced_by_the_engine_is_encoded_again() -> None:
    frames = FrameEncoder()
    running = {"value": 0.0, "max": 1.0, "state": "running", "node_id": "1"}
    first = {"prompt_id": "p", "nodes": {"1": running}}
    assert frames.json("progress_state", first) == dumps_frame("progress_state", first)
    finished = {**running, "value": 1.0, "state": "finished"}
    second = {"prompt_id": "p", "nodes": {"1": finished, "2": running}}
    assert frames.json("progress_state", second) == dumps_frame("progress_state", second)
    other_prompt = {"prompt_id": "q", "nodes": {"1": running}}
    assert frames.json("progress_state", other_prompt) == dumps_frame("progress_state", other_prompt)


@pytest.mark.parametrize("data", [
    {"nodes": {}, "prompt_id": "p"},  # keys in another order
    {"prompt_id": "p", "nodes": {}, "extra": 1},
    {"prompt_id": 5, "nodes": {}},
], ids=["key-order", "extra-key", "non-string-id"])
def test_progress_state_of_another_shape_is_encoded_as_it_is(data: dict[str, Any]) -> None:
    assert FrameEncoder().json("progress_state", data) == dumps_frame("progress_state", data)


def test_the_check_sees_every_json_frame() -> None:
    seen: list[str] = []
    frames = FrameEncoder(check=seen.append)
    text = frames.json("executing", {"node": None, "prompt_id": "p"})
    assert seen == [text]


def test_preview_frames_have_comfyuis_layouts() -> None:
    picture = Image.new("RGB", (16, 8), (10, 200, 30))
    legacy = FrameEncoder.preview(Preview(picture, PreviewFormat.PNG, max_size=None), None)
    assert struct.unpack(">II", legacy[:8]) == (1, 2)  # PREVIEW_IMAGE, PNG
    assert Image.open(io.BytesIO(legacy[8:])).size == (16, 8)
    metadata = {"node_id": "3", "prompt_id": "p", "image_type": "image/jpeg"}
    framed = FrameEncoder.preview(Preview(picture, PreviewFormat.JPEG, max_size=512), metadata)
    kind, length = struct.unpack(">II", framed[:8])
    assert (kind, json.loads(framed[8:8 + length])) == (4, metadata)
    assert framed[8:8 + length] == json.dumps(metadata).encode()
    assert Image.open(io.BytesIO(framed[8 + length:])).format == "JPEG"
