"""A server with ``executor="torch"`` runs a txt2img and an img2img workflow end to end."""
from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.torch.parity_cases import INPUT_NAME  # noqa: E402


def workflow(latent: dict[str, Any], denoise: float) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": latent,
        "3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": 7, "steps": 2, "cfg": 7.0,
                                                   "sampler_name": "euler", "scheduler": "normal",
                                                   "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0], "denoise": denoise}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "torch_serve"}},
    }


def test_txt2img_saves_a_picture_of_the_latent_size(comfy: FakeComfy) -> None:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 48, "batch_size": 2}}
    prompt_id = comfy.submit(workflow(latent, 1.0))
    comfy.wait(prompt_id)
    assert [image.size for image in comfy.images(prompt_id)] == [(64, 48), (64, 48)]


def test_img2img_saves_a_picture_of_the_input_cut_to_whole_cells(comfy: FakeComfy) -> None:
    graph = workflow({"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}, 0.5)
    graph["10"] = {"class_type": "LoadImage", "inputs": {"image": INPUT_NAME}}
    prompt_id = comfy.submit(graph)
    comfy.wait(prompt_id)
    assert [image.size for image in comfy.images(prompt_id)] == [(64, 48)]
