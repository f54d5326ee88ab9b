"""The client programs of ComfyUI's own API guides, run unchanged against a real fakecomfy server.

ComfyUI's ``script_examples`` show three ways to drive the server, and most hand-written clients
copy one of them. They are restated here in our own words (ComfyUI is GPL-3.0), keeping exactly
the requests the guides make:

- the WebSocket example: connect ``/ws?clientId=``, ``POST /prompt`` with that ``client_id``
  through ``urllib`` (so the body goes out as ``application/x-www-form-urlencoded``), read messages
  until ``executing`` with ``node: null`` for the prompt, then ``/history/{id}`` and ``/view``;
- its ``SaveImageWebsocket`` variant, which collects the PNGs from binary frames instead;
- the polling example: ``POST /prompt``, then ``GET /history/{id}`` until the entry appears.
"""
from __future__ import annotations

import io
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from PIL import Image

from fakecomfy.testing import ServerThread

WORKFLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"
WS_TIMEOUT = 10.0
WS_NODE = "save_image_websocket_node"  # the node id the guide's SaveImageWebsocket variant uses
FRAME_PREVIEW_IMAGE, FORMAT_PNG = 1, 2


def load_workflow(name: str, **latent: int) -> dict[str, Any]:
    """An API-format workflow from ``fixtures/workflows``, with the EmptyLatentImage size changed."""
    workflow: dict[str, Any] = json.loads((WORKFLOWS / f"{name}.json").read_text())
    for node in workflow.values():
        if node["class_type"] == "EmptyLatentImage":
            node["inputs"].update(latent)
    return workflow


def node_of(workflow: dict[str, Any], class_type: str) -> dict[str, Any]:
    return next(node for node in workflow.values() if node["class_type"] == class_type)


def pixels(png: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size, image.convert("RGB").tobytes()


# ---- the guide's client, function for function ---------------------------------------------------
class GuideClient:
    """What the guide's module-level functions do, bound to one server address and client id."""

    def __init__(self, server_address: str, client_id: str | None = None) -> None:
        self.server_address = server_address
        self.client_id = client_id or str(uuid.uuid4())

    def queue_prompt(self, prompt: dict[str, Any], prompt_id: str | None = None) -> dict[str, Any]:
        # The newer guide picks the prompt id itself; the older one reads it from the answer.
        body: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id}
        if prompt_id is not None:
            body["prompt_id"] = prompt_id
        request = urllib.request.Request(f"http://{self.server_address}/prompt",
                                         data=json.dumps(body).encode("utf-8"))
        with urllib.request.urlopen(request) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def get_image(self, filename: str, subfolder: str, folder_type: str) -> bytes:
        query = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": folder_type})
        with urllib.request.urlopen(f"http://{self.server_address}/view?{query}") as response:
            data: bytes = response.read()
        return data

    def get_history(self, prompt_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{self.server_address}/history/{prompt_id}") as response:
            history: dict[str, Any] = json.loads(response.read())
        return history

    def connect(self) -> websocket.WebSocket:
        ws = websocket.WebSocket()
        ws.connect(f"ws://{self.server_address}/ws?clientId={self.client_id}", timeout=WS_TIMEOUT)
        return ws

    def get_images(self, ws: websocket.WebSocket, prompt: dict[str, Any],
                   choose_prompt_id: bool = True) -> tuple[str, dict[str, list[bytes]]]:
        """The WebSocket example: wait for ``executing`` ``node: null``, then download the outputs."""
        wanted = str(uuid.uuid4()) if choose_prompt_id else None
        prompt_id: str = self.queue_prompt(prompt, wanted)["prompt_id"]
        assert wanted in (None, prompt_id)
        while True:
            out = ws.recv()
            if isinstance(out, str):
                message = json.loads(out)
                if message["type"] == "executing":
                    data = message["data"]
                    if data["node"] is None and data["prompt_id"] == prompt_id:
                        break  # execution is done
        return prompt_id, self.download_outputs(prompt_id)

    def download_outputs(self, prompt_id: str) -> dict[str, list[bytes]]:
        history = self.get_history(prompt_id)[prompt_id]
        output_images: dict[str, list[bytes]] = {}
        for node_id, node_output in history["outputs"].items():
            output_images[node_id] = [self.get_image(image["filename"], image["subfolder"], image["type"])
                                      for image in node_output.get("images", [])]
        return output_images

    def get_ws_images(self, ws: websocket.WebSocket, prompt: dict[str, Any]) -> dict[str, list[bytes]]:
        """The SaveImageWebsocket variant: keep the binary frames sent while that node runs."""
        prompt_id = self.queue_prompt(prompt, str(uuid.uuid4()))["prompt_id"]
        output_images: dict[str, list[bytes]] = {}
        current_node = ""
        while True:
            out = ws.recv()
            if isinstance(out, str):
                message = json.loads(out)
                if message["type"] == "executing" and message["data"]["prompt_id"] == prompt_id:
                    if message["data"]["node"] is None:
                        break
                    current_node = message["data"]["node"]
            elif current_node == WS_NODE:
                output_images.setdefault(current_node, []).append(out)
        return output_images

    def poll_history(self, prompt_id: str, interval: float = 0.02,
                     timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        """The polling example: ``GET /history/{id}`` until the entry is there (and how many tries)."""
        deadline = time.monotonic() + timeout
        tries = 0
        while time.monotonic() < deadline:
            tries += 1
            history = self.get_history(prompt_id)
            if prompt_id in history:
                return tries, history[prompt_id]
            time.sleep(interval)
        raise AssertionError(f"prompt {prompt_id} never reached /history within {timeout} s")


@pytest.fixture
def guide(make_server: Callable[..., ServerThread]) -> Iterator[GuideClient]:
    srv = make_server()
    yield GuideClient(f"{srv.host}:{srv.port}")


@pytest.fixture
def ws(guide: GuideClient) -> Iterator[websocket.WebSocket]:
    sock = guide.connect()
    yield sock
    sock.close()


# ---- the WebSocket example -----------------------------------------------------------------------
@pytest.mark.parametrize("choose_prompt_id", [True, False], ids=["client-chosen-id", "server-given-id"])
def test_websocket_example_downloads_the_saved_512px_png(guide: GuideClient, ws: websocket.WebSocket,
                                                          choose_prompt_id: bool) -> None:
    prompt_id, images = guide.get_images(ws, load_workflow("sd15_txt2img_api"), choose_prompt_id)
    assert list(images) == ["9"]
    [png] = images["9"]
    assert pixels(png)[0] == (512, 512)
    assert guide.get_history(prompt_id)[prompt_id]["status"]["status_str"] == "success"


def test_websocket_example_runs_img2img_on_the_stock_example_image(guide: GuideClient, ws: websocket.WebSocket,
                                                                    base_dir: Path) -> None:
    with Image.open(base_dir / "input" / "example.png") as source:
        size = source.size
    _, images = guide.get_images(ws, load_workflow("sd15_img2img_api"))
    [png] = images["8"]
    assert pixels(png)[0] == size


def test_websocket_example_runs_the_lora_workflow(guide: GuideClient, ws: websocket.WebSocket) -> None:
    _, images = guide.get_images(ws, load_workflow("sd15_lora_api", width=64, height=64))
    [png] = images["9"]
    assert pixels(png)[0] == (64, 64)


def test_websocket_example_gets_every_image_of_a_batch(guide: GuideClient, ws: websocket.WebSocket) -> None:
    _, images = guide.get_images(ws, load_workflow("sd15_txt2img_api", width=64, height=96, batch_size=3))
    assert [pixels(png)[0] for png in images["9"]] == [(64, 96)] * 3
    assert len({pixels(png)[1] for png in images["9"]}) == 3  # each batch item is its own picture


# ---- the SaveImageWebsocket variant --------------------------------------------------------------
def websocket_workflow(**latent: int) -> dict[str, Any]:
    """The txt2img workflow with SaveImage swapped for SaveImageWebsocket, as the guide does."""
    workflow = load_workflow("sd15_txt2img_api", **latent)
    del workflow["9"]
    workflow[WS_NODE] = {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}}
    return workflow


def test_websocket_image_save_variant_collects_png_frames(guide: GuideClient, ws: websocket.WebSocket) -> None:
    frames = guide.get_ws_images(ws, websocket_workflow(width=64, height=96, batch_size=2))[WS_NODE]
    assert len(frames) == 2
    for frame in frames:
        assert int.from_bytes(frame[:4], "big") == FRAME_PREVIEW_IMAGE
        assert int.from_bytes(frame[4:8], "big") == FORMAT_PNG
        assert pixels(frame[8:])[0] == (64, 96)  # the guide skips the 8-byte header and decodes


def test_websocket_image_save_frames_match_what_save_image_writes(guide: GuideClient,
                                                                   ws: websocket.WebSocket) -> None:
    [frame] = guide.get_ws_images(ws, websocket_workflow(width=64, height=64))[WS_NODE]
    _, saved = guide.get_images(ws, load_workflow("sd15_txt2img_api", width=64, height=64))
    assert pixels(frame[8:]) == pixels(saved["9"][0])


def test_websocket_image_save_leaves_no_history_output(guide: GuideClient, ws: websocket.WebSocket) -> None:
    prompt_id, images = guide.get_images(ws, websocket_workflow(width=64, height=64))
    assert images == {}
    assert guide.get_history(prompt_id)[prompt_id]["status"]["completed"] is True


# ---- the polling example -------------------------------------------------------------------------
def test_polling_example_waits_for_history_then_reads_outputs(make_server: Callable[..., ServerThread]) -> None:
    srv = make_server(node_times={"KSampler": 0.05})  # 4 steps: the first polls find nothing yet
    guide = GuideClient(f"{srv.host}:{srv.port}")
    workflow = load_workflow("sd15_txt2img_api", width=64, height=64)
    node_of(workflow, "KSampler")["inputs"]["steps"] = 4
    answer = guide.queue_prompt(workflow)
    assert list(answer) == ["prompt_id", "number", "node_errors"]

    tries, entry = guide.poll_history(answer["prompt_id"])
    assert tries > 1
    assert entry["status"]["completed"] is True
    [image] = entry["outputs"]["9"]["images"]
    assert pixels(guide.get_image(image["filename"], image["subfolder"], image["type"]))[0] == (64, 64)


# ---- seeds: same seed same pixels, another seed another picture ----------------------------------
def run_seeds(guide: GuideClient, ws: websocket.WebSocket, seeds: list[int]) -> list[tuple[str, bytes]]:
    """Run txt2img once per seed; the (file name, PNG) each run saved."""
    results = []
    for seed in seeds:
        workflow = load_workflow("sd15_txt2img_api", width=64, height=64)
        node_of(workflow, "KSampler")["inputs"]["seed"] = seed
        prompt_id, images = guide.get_images(ws, workflow)
        [entry] = guide.get_history(prompt_id)[prompt_id]["outputs"]["9"]["images"]
        results.append((entry["filename"], images["9"][0]))
    return results


def test_same_seed_gives_same_pixels_under_a_fresh_file_name(guide: GuideClient, ws: websocket.WebSocket) -> None:
    # Seed 2 in between keeps the third run from being served from the cache of the first.
    (name1, png1), (name2, png2), (name3, png3) = run_seeds(guide, ws, [1, 2, 1])
    assert [name1, name2, name3] == ["ComfyUI_00001_.png", "ComfyUI_00002_.png", "ComfyUI_00003_.png"]
    assert pixels(png1) == pixels(png3)
    assert pixels(png1)[1] != pixels(png2)[1]


def test_different_seeds_give_different_pictures(guide: GuideClient, ws: websocket.WebSocket) -> None:
    results = run_seeds(guide, ws, [10, 11, 12, 13])
    assert len({pixels(png)[1] for _, png in results}) == 4


def test_lora_changes_the_picture_unless_both_strengths_are_zero(guide: GuideClient,
                                                                 ws: websocket.WebSocket) -> None:
    lora = load_workflow("sd15_lora_api", width=64, height=64)
    plain = load_workflow("sd15_txt2img_api", width=64, height=64)
    for node_id in ("3", "6"):  # same seed, same positive text: only the LoRA differs
        plain[node_id]["inputs"].update({k: lora[node_id]["inputs"][k] for k in ("seed", "text")
                                         if k in lora[node_id]["inputs"]})
    switched_off = json.loads(json.dumps(lora))
    switched_off["10"]["inputs"].update(strength_model=0.0, strength_clip=0.0)

    with_lora, without, zero = (pixels(guide.get_images(ws, wf)[1]["9"][0])
                                for wf in (lora, plain, switched_off))
    assert with_lora != without
    assert zero == without  # ComfyUI's LoraLoader hands back the inputs untouched at strength 0


def test_identical_prompt_again_is_cached_and_reports_the_same_file(guide: GuideClient,
                                                                     ws: websocket.WebSocket) -> None:
    # Real ComfyUI re-runs nothing for an identical prompt: the output node's previous UI comes back.
    (name1, png1), (name2, png2) = run_seeds(guide, ws, [5, 5])
    assert name1 == name2 == "ComfyUI_00001_.png"
    assert png1 == png2
