"""Published ComfyUI client libraries from PyPI, driven through their own public APIs.

Each test starts a real fakecomfy server, lets the library queue a workflow, wait for it the way
the library does (WebSocket events, queue polling or history polling), fetch the images through
the library and checks what came back. The versions are pinned in ``pyproject.toml``'s ``test``
extra; what each library sends is described above its tests.

Several libraries open their WebSocket only *after* ``POST /prompt``. Against a real ComfyUI the
sampler takes seconds, so the socket is up long before the prompt ends; the fake finishes a 64x64
prompt in milliseconds and could end it before the socket connects. Those tests give KSampler a
per-step time (``--node-time KSampler=...``), as a real server has.
"""
from __future__ import annotations

import asyncio
import copy
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import comfyapi
import pytest
import requests
from comfy_api_simplified import ComfyApiWrapper, ComfyWorkflowWrapper
from comfy_api_simplified.exceptions import ComfyApiError
from comfy_ui_api_workflow import Workflow, nodes
from comfy_ui_client import ComfyUIClient as UIClient
from comfy_ui_client.type import ImageRef
from comfyui_async_api_tool import ComfyClient
from comfyuiclient import ComfyUIClient as WorkflowClient
from comfyuiclient import ComfyUIClientAsync as AsyncWorkflowClient
from PIL import Image

from fakecomfy.testing import ServerThread

WORKFLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"
TXT2IMG = WORKFLOWS / "sd15_txt2img_api.json"
IMG2IMG = WORKFLOWS / "sd15_img2img_api.json"
STEP_SECONDS = 0.05
MakeServer = Callable[..., ServerThread]


def small_txt2img(seed: int = 1, steps: int = 4) -> dict[str, Any]:
    """The SD1.5 txt2img fixture at 64x64 and a few steps."""
    workflow: dict[str, Any] = json.loads(TXT2IMG.read_text())
    workflow["5"]["inputs"].update(width=64, height=64)
    workflow["3"]["inputs"].update(seed=seed, steps=steps)
    return workflow


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        size: tuple[int, int] = image.size
        return size


def png_pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        pixels: bytes = image.convert("RGB").tobytes()
        return pixels


def png_file(size: tuple[int, int], color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def host_of(srv: ServerThread) -> str:
    return f"{srv.host}:{srv.port}"


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def upload_broken_png(srv: ServerThread) -> str:
    """An upload that validates (the file exists) but fails at run time in LoadImage."""
    answer = requests.post(srv.url + "/upload/image", files={"image": ("broken.png", b"not a png")}).json()
    name: str = answer["name"]
    return name


def broken_image_workflow(image: str) -> dict[str, Any]:
    return {"1": {"class_type": "LoadImage", "inputs": {"image": image}, "_meta": {"title": "Load Image"}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "broken"},
                  "_meta": {"title": "Save Image"}}}


# ---- comfy-api-simplified: requests for HTTP, `websockets` (asyncio) after POST /prompt ----------
def test_simplified_queue_and_wait_images_downloads_the_png(make_server: MakeServer) -> None:
    api = ComfyApiWrapper(make_server(node_times={"KSampler": STEP_SECONDS}).url)
    workflow = ComfyWorkflowWrapper(str(TXT2IMG))
    workflow.set_node_param("Empty Latent Image", "width", 64)
    workflow.set_node_param("Empty Latent Image", "height", 96)
    workflow.set_node_param("KSampler", "steps", 4)
    workflow.set_node_param("Positive Prompt", "text", "a paper boat on a puddle")

    images = api.queue_and_wait_images(workflow, "Save Image")
    assert list(images) == ["ComfyUI_00001_.png"]
    assert png_size(images["ComfyUI_00001_.png"]) == (64, 96)


def test_simplified_collects_save_image_websocket_frames(make_server: MakeServer) -> None:
    api = ComfyApiWrapper(make_server(node_times={"KSampler": STEP_SECONDS}).url)
    raw = small_txt2img()
    raw["5"]["inputs"]["batch_size"] = 2
    raw["9"] = {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]},
                "_meta": {"title": "Websocket Save"}}
    # With binary frames in hand the library returns them and never reads /history.
    images = api.queue_and_wait_images(ComfyWorkflowWrapper(raw), "Websocket Save")
    assert list(images) == ["0", "1"]
    assert [png_size(png) for png in images.values()] == [(64, 64), (64, 64)]


def test_simplified_reports_validation_and_execution_errors(make_server: MakeServer) -> None:
    srv = make_server(node_times={"LoadImage": 0.2})  # the socket must be up before LoadImage fails
    api = ComfyApiWrapper(srv.url)
    bad_choice = small_txt2img()
    bad_choice["4"]["inputs"]["ckpt_name"] = "missing.safetensors"
    with pytest.raises(ComfyApiError, match="status code 400"):
        api.queue_prompt(bad_choice)
    with pytest.raises(ComfyApiError, match="Execution error occurred"):
        asyncio.run(api.queue_prompt_and_wait(broken_image_workflow(upload_broken_png(srv))))


def test_simplified_queue_position_and_interrupt(make_server: MakeServer) -> None:
    api = ComfyApiWrapper(make_server(node_times={"KSampler": STEP_SECONDS}).url)
    first = api.queue_prompt(small_txt2img(seed=1, steps=200))["prompt_id"]
    second = api.queue_prompt(small_txt2img(seed=2, steps=2))["prompt_id"]
    wait_until(lambda: bool(api.get_queue()["queue_running"]))
    assert (api.get_queue_size_before(first), api.get_queue_size_before(second)) == (0, 1)

    api.interrupt()
    wait_until(lambda: second in api.get_history(second))
    interrupted = api.get_history(first)[first]["status"]
    assert (interrupted["status_str"], interrupted["messages"][-1][0]) == ("error", "execution_interrupted")
    assert api.get_history(second)[second]["status"]["status_str"] == "success"


def test_simplified_info_and_upload_calls(make_server: MakeServer, tmp_path: Path) -> None:
    api = ComfyApiWrapper(make_server().url)
    assert api.get_system_stats()["system"]["comfyui_version"] == "0.8.0"
    assert api.get_embeddings() == []
    assert list(api.get_object_info("KSampler")) == ["KSampler"]
    assert "v1-5-pruned-emaonly.safetensors" in api.get_object_info()["CheckpointLoaderSimple"]["input"][
        "required"]["ckpt_name"][0]
    picture = tmp_path / "upload me.png"
    picture.write_bytes(png_file((8, 8), "blue"))
    assert api.upload_image(picture) == {"name": "upload me.png", "subfolder": "default_upload_folder",
                                         "type": "input"}
    assert api.get_image("upload me.png", "default_upload_folder", "input") == picture.read_bytes()


# ---- comfyui-workflow-client: requests + history polling (sync), aiohttp WebSocket (async) ------
def test_workflow_client_sync_generate_polls_history(make_server: MakeServer, tmp_path: Path) -> None:
    workflow_file = tmp_path / "workflow_api.json"
    workflow_file.write_text(json.dumps(small_txt2img()))
    client = WorkflowClient(host_of(make_server()), str(workflow_file))
    client.connect()
    try:
        client.set_data(key="KSampler", seed=123)
        client.set_data(key="Positive Prompt", text="a brass telescope on a desk")
        results = client.generate(["Save Image"])
    finally:
        client.close()
    assert list(results) == ["Save Image"]
    assert results["Save Image"].size == (64, 64)


def test_workflow_client_async_img2img_with_uploaded_picture(make_server: MakeServer) -> None:
    client = AsyncWorkflowClient(host_of(make_server()), str(IMG2IMG))
    source = Image.new("RGB", (96, 64), "orange")

    async def run() -> dict[str, Any]:
        await client.connect()  # this client connects the WebSocket before it posts
        try:
            # Uploads into input/temp/ and points LoadImage at "temp/temp.png".
            await client.set_data(key="Load Image", image=source)
            await client.set_data(key="KSampler", seed=77)
            result: dict[str, Any] = await client.generate(["Save Image"])
            return result
        finally:
            await client.close()

    results = asyncio.run(run())
    assert client.comfyui_prompt["2"]["inputs"]["image"] == "temp/temp.png"
    assert results["Save Image"].size == (96, 64)


# ---- comfy-ui-client: websocket-client after POST /prompt, urllib for HTTP ----------------------
# Its interrupt() is left out: it parses the reply as JSON, and ComfyUI answers POST /interrupt with
# an empty 200 body (real answers /interrupt so), so it raises JSONDecodeError against the real server as well.
def test_ui_client_get_outputs_reports_progress_and_images(make_server: MakeServer) -> None:
    client = UIClient(host_of(make_server(node_times={"KSampler": STEP_SECONDS})))
    progress: list[tuple[int, int, int]] = []
    executed: list[dict[str, Any]] = []
    outputs = client.get_outputs(small_txt2img(steps=4),
                                 handle_progress_event=lambda node, value, total: progress.append(
                                     (node, value, total)),
                                 handle_executed_event=executed.append)

    saved = outputs["images"]["9"]["output"][""]
    assert list(saved) == ["ComfyUI_00001_.png"]
    assert png_size(saved["ComfyUI_00001_.png"]) == (64, 64)
    # The socket opens after POST /prompt, so the first nodes may have run unseen; the sampler's
    # steps come in order and the nodes after it follow.
    sampler = [value for node, value, _ in progress if node == 3]
    assert sampler == sorted(sampler) and progress[-3:] == [(3, 4, 4), (8, 0, 0), (9, 0, 0)]
    assert [e["node"] for e in executed] == ["9"]


def test_ui_client_finds_a_cached_rerun_in_history(make_server: MakeServer) -> None:
    srv = make_server()
    first = UIClient(host_of(srv)).get_outputs(small_txt2img(seed=9))
    # An identical prompt is fully cached and ends within milliseconds: the library sees it gone
    # from /queue on the first ``status`` and finds it in /history by comparing the prompt.
    again = UIClient(host_of(srv)).get_outputs(small_txt2img(seed=9))
    assert again == first
    assert list(first["images"]["9"]["output"][""]) == ["ComfyUI_00001_.png"]


def test_ui_client_info_upload_and_history_calls(make_server: MakeServer, tmp_path: Path) -> None:
    client = UIClient(host_of(make_server()))
    assert client.get_system_stats()["system"]["comfyui_version"] == "0.8.0"
    assert client.get_embeddings() == []
    assert client.get_prompt() == {"exec_info": {"queue_remaining": 0}}
    assert client.get_queue() == {"queue_running": [], "queue_pending": []}
    assert client.get_object_info("SaveImage")["SaveImage"]["output_node"] is True

    picture, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.new("RGB", (16, 16), (0, 128, 0)).save(picture)
    Image.new("RGBA", (16, 16), (0, 0, 0, 77)).save(mask)
    assert client.upload_image(ImageRef("photo.png", "shots"), picture) == {
        "name": "photo.png", "subfolder": "shots", "type": "input"}
    # The library sends no ``subfolder`` with the mask, so the merged picture lands in input/.
    assert client.upload_mask(ImageRef("photo.png", "shots", "input"), mask) == {
        "name": "photo.png", "subfolder": "", "type": "input"}
    with Image.open(io.BytesIO(client.get_image("photo.png", "", "input"))) as merged:
        assert merged.getpixel((0, 0)) == (0, 128, 0, 77)

    outputs = client.get_outputs(small_txt2img())
    assert list(outputs["images"]["9"]["output"][""]) == ["ComfyUI_00001_.png"]
    [prompt_id] = client.get_history(None)
    client.delete_history([prompt_id])
    assert client.get_history(None) == {}


# ---- comfyapi: requests, polling /history at a chosen interval ---------------------------------
def test_comfyapi_submit_wait_and_download(make_server: MakeServer, tmp_path: Path) -> None:
    manager = comfyapi.ComfyAPIManager()
    manager.set_base_url(make_server(node_times={"KSampler": STEP_SECONDS}).url)
    manager.load_workflow(str(TXT2IMG))
    manager.edit_workflow(["5", "inputs", "width"], 64)
    manager.edit_workflow(["5", "inputs", "height"], 64)
    manager.edit_workflow(["3", "inputs", "steps"], 4)

    prompt_id = manager.submit_workflow()
    assert manager.check_queue(prompt_id) is False  # still sampling
    filename, url = manager.wait_for_finish(prompt_id, poll_interval=0.02)
    assert filename == "ComfyUI_00001_.png"
    assert manager.check_queue(prompt_id) is True
    saved = Path(manager.download_output(url, save_path=str(tmp_path)))
    assert png_size(saved.read_bytes()) == (64, 64)


def test_comfyapi_batch_of_seeds(make_server: MakeServer) -> None:
    manager = comfyapi.ComfyAPIManager()
    manager.set_base_url(make_server().url)
    manager.workflow = small_txt2img()
    prompt_ids = manager.batch_submit(seeds=[1, 2, 1], seed_node_path=["3", "inputs", "seed"])
    files = [manager.wait_for_finish(pid, poll_interval=0.02) for pid in prompt_ids]
    assert [name for name, _ in files] == ["ComfyUI_00001_.png", "ComfyUI_00002_.png", "ComfyUI_00003_.png"]
    first, second, third = (png_pixels(requests.get(url).content) for _, url in files)
    assert first == third != second


def test_comfyapi_raises_on_execution_error(make_server: MakeServer) -> None:
    srv = make_server()
    manager = comfyapi.ComfyAPIManager()
    manager.set_base_url(srv.url)
    manager.workflow = broken_image_workflow(upload_broken_png(srv))
    with pytest.raises(comfyapi.ExecutionError):
        manager.wait_for_finish(manager.submit_workflow(), poll_interval=0.02)


# ---- comfyui-async-api-tool: aiohttp, WebSocket after POST, /queue probing, multi-server -------
async def run_events(client: Any, workflow: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    return [event async for event in client.run(workflow, **kwargs)]


def pick_and_run(busy: ServerThread, urls: list[str], workflow: dict[str, Any],
                 listen: float) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The library's pick_server over ``urls``, then its run of ``workflow``; ``busy``'s queue is
    cleared and its prompt interrupted afterwards."""
    async def main() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        async with aiohttp.ClientSession() as session:
            client = ComfyClient(session, urls, max_listen_seconds=listen, fetch_image_timeout=10)
            picked = await client.pick_server()
            return picked, await run_events(client, workflow)

    try:
        return asyncio.run(main())
    finally:
        requests.post(busy.url + "/queue", json={"clear": True})
        requests.post(busy.url + "/interrupt")


def test_async_tool_run_streams_progress_then_the_image(make_server: MakeServer) -> None:
    srv = make_server(node_times={"KSampler": STEP_SECONDS})

    async def main() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            client = ComfyClient(session, srv.url, max_listen_seconds=10, fetch_image_timeout=10)
            return await run_events(client, small_txt2img(steps=2), values={"3": {"seed": 42}})

    events = asyncio.run(main())
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "image" and "error" not in kinds
    progress = [e["data"] for e in events if e["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert png_size(events[-1]["data"]) == (64, 64)
    assert events[-1]["generation_ms"] >= 2 * STEP_SECONDS * 1000 * 0.9


def test_async_tool_upload_then_img2img(make_server: MakeServer) -> None:
    srv = make_server(node_times={"KSampler": STEP_SECONDS})
    workflow = json.loads(IMG2IMG.read_text())
    workflow["6"]["inputs"]["steps"] = 2

    async def main() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with aiohttp.ClientSession() as session:
            client = ComfyClient(session, [srv.url], max_listen_seconds=10, fetch_image_timeout=10)
            uploaded = await client.upload_image(srv.url, png_file((48, 32), "purple"))
            events = await run_events(client, workflow, values={"2": {"image": uploaded["name"]}})
            return uploaded, events

    uploaded, events = asyncio.run(main())
    assert uploaded["subfolder"] == "" and uploaded["type"] == "input"
    assert events[-1]["type"] == "image"
    assert png_size(events[-1]["data"]) == (48, 32)


def test_async_tool_dispatches_to_the_idle_server(make_server: MakeServer) -> None:
    busy = make_server(node_times={"KSampler": STEP_SECONDS})
    idle = make_server(node_times={"KSampler": STEP_SECONDS})
    for seed in (1, 2):
        requests.post(busy.url + "/prompt", json={"prompt": small_txt2img(seed=seed, steps=200)})

    picked, events = pick_and_run(busy, [busy.url, idle.url], small_txt2img(steps=2), listen=10)
    assert picked is not None and (picked["ip"], picked["load"]) == (idle.url, 0)
    assert events[0]["data"]["server_url"] == idle.url
    assert events[-1]["type"] == "image"


def test_async_tool_routes_around_a_simulated_card_that_is_busy(make_server: MakeServer) -> None:
    """A fleet of simulated cards, no --node-time: an 8 GB card busy with an SDXL batch (at a tenth
    of the card's time, still seconds), and a 4090 with nothing queued; the library's router picks
    the 4090."""
    small = make_server(device_profile="rtx3070-8gb", device_time_scale=0.1)
    big = make_server(device_profile="rtx4090", device_time_scale=0.1)
    sdxl = small_txt2img(steps=30)
    sdxl["4"]["inputs"]["ckpt_name"] = "sd_xl_base_1.0.safetensors"
    sdxl["5"]["inputs"].update(width=1024, height=1024, batch_size=4)
    for seed in (1, 2):
        sdxl["3"]["inputs"]["seed"] = seed
        requests.post(small.url + "/prompt", json={"prompt": sdxl})

    picked, events = pick_and_run(small, [small.url, big.url], small_txt2img(steps=4), listen=30)
    stats = [requests.get(srv.url + "/system_stats").json()["devices"][0] for srv in (small, big)]
    assert picked is not None and picked["ip"] == big.url
    assert events[0]["data"]["server_url"] == big.url and events[-1]["type"] == "image"
    assert [s["name"] for s in stats] == ["cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync",
                                          "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync"]
    assert stats[1]["torch_vram_total"] > 0  # the 4090 holds the SD1.5 models it just ran


# ---- comfy-ui-api-workflow: a typed workflow builder (no HTTP of its own) ------------------------
def test_workflow_built_with_typed_nodes_runs(make_server: MakeServer) -> None:
    builder = Workflow()
    checkpoint = builder.add_node(nodes.model.loaders.CheckpointLoaderSimple,
                                  ckpt_name="v1-5-pruned-emaonly.safetensors")
    positive = builder.add_node(nodes.model.conditioning.CLIPTextEncode, text="a kite over dunes",
                                clip=checkpoint.output["CLIP"])
    negative = builder.add_node(nodes.model.conditioning.CLIPTextEncode, text="blurry",
                                clip=checkpoint.output["CLIP"])
    latent = builder.add_node(nodes.model.latent.EmptyLatentImage, width=64, height=48, batch_size=1)
    sampler = builder.add_node(nodes.model.sampling.KSampler, model=checkpoint.output["MODEL"],
                               positive=positive.output["CONDITIONING"], negative=negative.output["CONDITIONING"],
                               latent_image=latent.output["LATENT"], sampler_name="euler", scheduler="normal",
                               steps=3, cfg=7.0, seed=5)
    image = builder.add_node(nodes.model.latent.VAEDecode, samples=sampler.output["LATENT"],
                             vae=checkpoint.output["VAE"])
    builder.add_node(nodes.image.SaveImage, images=image.output["IMAGE"], filename_prefix="built")
    prompt = builder.get_comfy_ui_workflow_format()

    # The builder names nodes "KSampler_4" and so on; ComfyUI takes any string as a node id.
    api = ComfyApiWrapper(make_server().url)
    answer = api.queue_prompt(copy.deepcopy(prompt))
    assert answer["node_errors"] == {}
    wait_until(lambda: answer["prompt_id"] in api.get_history(answer["prompt_id"]))
    outputs = api.get_history(answer["prompt_id"])[answer["prompt_id"]]["outputs"]
    [save_id] = outputs
    assert prompt[save_id]["class_type"] == "SaveImage"
    [entry] = outputs[save_id]["images"]
    assert entry["filename"] == "built_00001_.png"
    assert png_size(api.get_image(entry["filename"], entry["subfolder"], entry["type"])) == (64, 48)
