"""GET /object_info and /object_info/{node_class}, in process and through a real server."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from starlette.testclient import TestClient

from fakecomfy.testing import ServerThread

JSON = "application/json; charset=utf-8"
V1_KEYS = ["input", "input_order", "output", "output_is_list", "output_name", "name", "display_name",
           "description", "python_module", "category", "output_node"]
V3_KEYS = ["input", "input_order", "output", "output_is_list", "output_name", "output_tooltips",
           "output_matchtypes", "name", "display_name", "description", "python_module", "category",
           "output_node", "deprecated", "experimental", "api_node"]


@pytest.mark.parametrize("prefix", ["", "/api"], ids=["plain", "api"])
def test_object_info_serves_every_node_as_json(client: TestClient, prefix: str) -> None:
    r = client.get(prefix + "/object_info")
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    body = r.json()
    assert len(body) == 545 and next(iter(body)) == "KSampler"
    assert r.content == json.dumps(body).encode()  # aiohttp's json.dumps separators


@pytest.mark.parametrize("prefix", ["", "/api"], ids=["plain", "api"])
def test_one_node_is_wrapped_in_its_name(client: TestClient, prefix: str) -> None:
    r = client.get(prefix + "/object_info/KSampler")
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    body = r.json()
    assert list(body) == ["KSampler"]
    node = body["KSampler"]
    assert list(node) == [*V1_KEYS, "output_tooltips"]
    assert node["python_module"] == "nodes" and node["category"] == "sampling"
    assert node["input_order"] == {"required": list(node["input"]["required"])}
    assert node["input"]["required"]["seed"][1]["max"] == 18446744073709551615


@pytest.mark.parametrize("path", ["/object_info/NoSuchNode", "/api/object_info/NoSuchNode", "/object_info/ksampler"])
def test_unknown_node_is_an_empty_object_with_200(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    assert r.content == b"{}"


def test_v3_nodes_carry_their_extra_fields(client: TestClient) -> None:
    node = client.get("/object_info/UpscaleModelLoader").json()["UpscaleModelLoader"]
    assert list(node) == V3_KEYS
    assert node["python_module"] == "comfy_extras.nodes_upscale_model"
    assert node["output_tooltips"] == [None] and node["output_matchtypes"] is None
    assert node["deprecated"] is False and node["experimental"] is False and node["api_node"] is False
    assert node["input"]["required"]["model_name"][0] == "COMBO"
    assert list(node["input"]["required"]["model_name"][1]) == ["multiselect", "options"]


def test_hidden_inputs_keep_their_v1_and_v3_shapes(client: TestClient) -> None:
    save = client.get("/object_info/SaveImage").json()["SaveImage"]
    assert save["input"]["hidden"] == {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
    assert save["input_order"]["hidden"] == ["prompt", "extra_pnginfo"]
    gemini = client.get("/object_info/GeminiNode").json()["GeminiNode"]
    assert gemini["input"]["hidden"]["unique_id"] == ["UNIQUE_ID"] and gemini["api_node"] is True


def test_dropped_checkpoint_appears_in_both_routes(client: TestClient, base_dir: Path) -> None:
    (base_dir / "models" / "checkpoints" / "dropped.safetensors").write_bytes(b"")
    node = client.get("/object_info/CheckpointLoaderSimple").json()["CheckpointLoaderSimple"]
    assert "dropped.safetensors" in node["input"]["required"]["ckpt_name"][0]
    everything = client.get("/object_info").json()
    assert "dropped.safetensors" in everything["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    assert "dropped.safetensors" in everything["unCLIPCheckpointLoader"]["input"]["required"]["ckpt_name"][0]


def test_uploaded_image_becomes_a_load_image_choice(client: TestClient, base_dir: Path) -> None:
    png = (base_dir / "input" / "example.png").read_bytes()
    before = client.get("/object_info").json()["LoadImage"]["input"]["required"]["image"][0]
    assert "uploaded_one.png" not in before
    r = client.post("/upload/image", files={"image": ("uploaded_one.png", png, "image/png")})
    assert r.status_code == 200
    after = client.get("/object_info").json()["LoadImage"]["input"]["required"]["image"][0]
    assert after == sorted([*before, "uploaded_one.png"])


def test_captured_catalog_is_served_with_its_custom_nodes(make_client: Callable[..., TestClient],
                                                         tmp_path: Path) -> None:
    custom = {
        "input": {"required": {"text": ["STRING", {"multiline": True}]}},
        "input_order": {"required": ["text"]},
        "output": ["STRING"], "output_is_list": [False], "output_name": ["STRING"],
        "name": "Show Text", "display_name": "Show Text", "description": "", "python_module": "custom_nodes.x",
        "category": "utils", "output_node": True,
    }
    capture = tmp_path / "captured.json"
    capture.write_text(json.dumps({"Show Text": custom}), encoding="utf-8")
    client = make_client(object_info_files=[capture])
    assert client.get("/object_info/Show%20Text").json() == {"Show Text": custom}
    body = client.get("/object_info").json()
    assert list(body)[-1] == "Show Text" and len(body) == 546


def test_real_server_serves_object_info_with_content_length(make_server: Callable[..., ServerThread]) -> None:
    server = make_server()
    r = requests.get(server.url + "/object_info", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == JSON
    assert int(r.headers["Content-Length"]) == len(r.content) > 400_000
    assert r.json()["LoadImage"]["input"]["required"]["image"][0] == ["example.png"]
