"""The torch family's nodes pass real ComfyUI's value types: tensors of its shapes and dtypes."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.executors.base import NodeContext, NodeResult  # noqa: E402
from fakecomfy.executors.torch import NODES, describe, fallback, vae  # noqa: E402
from tests.test_numpy_nodes import FAKE_CHECKPOINT, make_env  # noqa: E402
from tests.torch.parity_cases import INPUT_NAME, input_png  # noqa: E402


class Runner:
    """Calls the torch family's nodes the way the engine does."""

    def __init__(self, base: Path) -> None:
        self.env = make_env(base)

    def __call__(self, class_type: str, **inputs: Any) -> NodeResult:
        ctx = NodeContext(self.env, "1", class_type, "p1", {}, {}, {})
        return NODES[class_type](ctx, **inputs)

    def out(self, class_type: str, **inputs: Any) -> Any:
        return self(class_type, **inputs).outputs[0]


@pytest.fixture
def run(base_dir: Path) -> Runner:
    shutil.copy(FAKE_CHECKPOINT, base_dir / "models" / "checkpoints" / "fake.safetensors")
    (base_dir / "input" / INPUT_NAME).write_bytes(input_png())
    return Runner(base_dir)


def test_load_image_gives_an_image_and_the_inverted_alpha(run: Runner) -> None:
    image, mask = run("LoadImage", image=INPUT_NAME).outputs
    assert isinstance(image, torch.Tensor) and image.dtype == torch.float32 and image.shape == (1, 54, 70, 3)
    assert mask.shape == (1, 54, 70)
    alpha = run.out("LoadImageMask", image=INPUT_NAME, channel="alpha")
    assert torch.equal(mask, alpha)
    assert float(mask.min()) == 0.0 and float(mask.max()) == 1.0  # opaque middle, clear corners


def test_a_txt2img_chain_passes_comfyui_shapes(run: Runner) -> None:
    _, clip, stand_in_vae = run("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors").outputs
    latent = run.out("EmptyLatentImage", width=64, height=48, batch_size=2)
    assert latent["samples"].shape == (2, 4, 6, 8) and latent["samples"].dtype == torch.float32
    cond = run.out("CLIPTextEncode", text="a cat", clip=clip)
    assert cond[0][0].shape == (1, 77, 768) and isinstance(cond[0][1]["pooled_output"], torch.Tensor)
    assert torch.equal(cond[0][0], run.out("CLIPTextEncode", text="a cat", clip=clip)[0][0])
    assert not torch.equal(cond[0][0], run.out("CLIPTextEncode", text="a dog", clip=clip)[0][0])
    pixels = run.out("VAEDecode", vae=stand_in_vae, samples=latent)
    assert pixels.shape == (2, 48, 64, 3) and pixels.dtype == torch.float32
    upscaled = run.out("LatentUpscaleBy", samples=latent, upscale_method="bislerp", scale_by=1.5)
    assert upscaled["samples"].shape == (2, 4, 9, 12)


def test_the_stand_in_vae_gives_back_smooth_pictures() -> None:
    colour = torch.tensor([0.2, 0.55, 0.9])
    picture = colour.expand(1, 24, 16, 3)
    latent = vae.encode(picture)
    assert latent.shape == (1, 4, 3, 2)
    assert torch.allclose(vae.decode(latent), picture, atol=1e-5)
    assert torch.allclose(vae.decode(torch.zeros(1, 4, 1, 1)), torch.full((1, 8, 8, 3), 0.5))
    assert vae.encode(picture, 16).shape == (1, 16, 3, 2)


def test_vae_encode_crops_to_whole_cells(run: Runner) -> None:
    _, _, stand_in_vae = run("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors").outputs
    latent = run.out("VAEEncode", vae=stand_in_vae, pixels=torch.rand(1, 53, 70, 3))
    assert latent["samples"].shape == (1, 4, 6, 8)


def test_set_latent_noise_mask_keeps_the_latent_and_adds_a_plane_mask(run: Runner) -> None:
    latent = run.out("EmptyLatentImage", width=32, height=32, batch_size=1)
    masked = run.out("SetLatentNoiseMask", samples=latent, mask=torch.ones(32, 32))
    assert masked["samples"] is latent["samples"] and masked["noise_mask"].shape == (1, 1, 32, 32)
    assert "noise_mask" not in latent


def test_nodes_of_the_numpy_family_run_on_tensors(run: Runner) -> None:
    flipped = run.out("ImageFlip", image=torch.rand(1, 4, 6, 3), flip_method="x-axis: vertically")
    assert isinstance(flipped, torch.Tensor) and flipped.shape == (1, 4, 6, 3)


def test_the_fallback_makes_tensors(run: Runner) -> None:
    definition = {"name": "Custom", "input": {"required": {"image": ["IMAGE"]}}, "output": ["IMAGE", "MASK"]}
    ctx = NodeContext(run.env, "1", "Custom", "p1", {}, {}, {})
    image, mask = fallback(ctx, definition, {"image": torch.rand(1, 8, 8, 3)}).outputs
    assert isinstance(image, torch.Tensor) and isinstance(mask, torch.Tensor)


def test_describe_prints_values_as_torch_does() -> None:
    assert describe({"samples": torch.zeros(1, 2)}) == "{'samples': tensor([[0., 0.]])}"
    assert describe(np.ones(2, dtype=np.float32)) == "tensor([1., 1.])"
