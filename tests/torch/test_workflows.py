"""Inpainting and hires-fix workflows on a server with ``executor="torch"``, and the arithmetic
they rest on (bislerp, VAEEncodeForInpaint) against facts recorded from real ComfyUI
(``data/resize_record.py``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.executors.torch.inpaint import masked_for_encoding  # noqa: E402
from fakecomfy.executors.torch.resize import bislerp  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.torch.parity_cases import INPUT_NAME, input_png  # noqa: E402

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "resize_facts.json").read_text())
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"


# ---- the recorded arithmetic ----------------------------------------------------------------
def bislerp_input(shape: list[int], seed: int) -> Any:
    """The recorder's input: seeded normal cells with a zero, a repeated and an opposite vector."""
    samples = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    samples[:, :, 0, 0] = 0
    samples[:, :, 0, 2] = -samples[:, :, 0, 1]
    return samples


@pytest.mark.parametrize("case", FACTS["bislerp"], ids=lambda c: f"{c['shape']}to{c['width']}x{c['height']}")
def test_bislerp_gives_real_comfyuis_values(case: dict[str, Any]) -> None:
    out = bislerp(bislerp_input(case["shape"], case["seed"]), case["width"], case["height"])
    assert torch.allclose(out, torch.tensor(case["out"]), atol=1e-6)


@pytest.mark.parametrize("case", FACTS["inpaint"], ids=lambda c: f"{c['shape']}grow{c['grow_mask_by']}")
def test_vae_encode_for_inpaint_greys_and_grows_as_real_does(case: dict[str, Any]) -> None:
    shape = case["shape"]
    generator = torch.Generator().manual_seed(case["seed"])
    pixels = torch.rand((shape[0], shape[1] + 5, shape[2] + 3, 3), generator=generator)
    mask = (torch.rand(shape, generator=generator) > 0.8).float()
    greyed, noise_mask = masked_for_encoding(pixels, mask, case["grow_mask_by"])
    assert torch.equal(greyed, torch.tensor(case["encoded"]))
    assert torch.equal(noise_mask, torch.tensor(case["noise_mask"]))


# ---- workflows through a server -------------------------------------------------------------
def sampler(latent: list[Any], seed: int, denoise: float = 1.0) -> dict[str, Any]:
    return {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": seed, "steps": 3, "cfg": 7.0,
                                                 "sampler_name": "euler", "scheduler": "normal",
                                                 "positive": ["6", 0], "negative": ["7", 0],
                                                 "latent_image": latent, "denoise": denoise}}


def graph(**nodes: dict[str, Any]) -> dict[str, Any]:
    """The loader and prompts, ``nodes`` (their ids as keywords, ``n3``...), and a VAEDecode of
    node ``last`` saved."""
    last = nodes.pop("last")["id"]
    out = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "10": {"class_type": "LoadImage", "inputs": {"image": INPUT_NAME}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": [last, 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "torch_workflow"}},
    }
    out.update({key.removeprefix("n"): node for key, node in nodes.items()})
    return out


def saved(comfy: FakeComfy, workflow: dict[str, Any]) -> np.ndarray:
    prompt_id = comfy.submit(workflow)
    comfy.wait(prompt_id)
    (picture,) = comfy.images(prompt_id)
    return np.asarray(picture.convert("RGB"), dtype=np.float32) / 255


def inpainting(seed: int) -> dict[str, Any]:
    encode = {"class_type": "VAEEncodeForInpaint",
              "inputs": {"pixels": ["10", 0], "vae": ["4", 2], "mask": ["10", 1], "grow_mask_by": 6}}
    return graph(n5=encode, n3=sampler(["5", 0], seed), last={"id": "3"})


def cell_means(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[0] // 8, pixels.shape[1] // 8
    return pixels[:h * 8, :w * 8].reshape(h, 8, w, 8, -1).mean(axis=(1, 3))


def input_cells() -> tuple[np.ndarray, Any]:
    """The input picture's RGB cell means (cut to whole cells as the VAE cuts) and its noise mask
    at latent size, as the sampler reads it."""
    from io import BytesIO

    from PIL import Image
    rgba = torch.from_numpy(np.asarray(Image.open(BytesIO(input_png())), dtype=np.float32) / 255)[None]
    _, noise_mask = masked_for_encoding(rgba[..., :3], 1 - rgba[..., 3], 6)
    latent_mask = torch.nn.functional.interpolate(noise_mask, size=(6, 8), mode="bilinear")[0, 0].numpy()
    return cell_means(rgba[0, 3:51, 3:67, :3].numpy()), latent_mask


def pixels_of(cells: np.ndarray) -> np.ndarray:
    return cells.repeat(8, 0).repeat(8, 1)


def test_inpainting_keeps_the_opaque_middle_and_repaints_the_clear_corners(comfy: FakeComfy) -> None:
    first, other, again = (saved(comfy, inpainting(seed)) for seed in (7, 8, 7))
    assert first.shape == (48, 64, 3)
    colours, latent_mask = input_cells()
    kept, repainted = latent_mask == 0, latent_mask == 1  # real leaves the unmasked latent as it was
    assert kept.sum() >= 4 and repainted.sum() >= 4
    # within the saved picture's 8-bit steps and the sampler's float rounding
    assert np.allclose(cell_means(first)[kept], colours[kept], atol=3 / 255)
    assert not np.allclose(cell_means(first)[repainted], colours[repainted], atol=0.05)
    assert np.array_equal(first, again)
    assert np.array_equal(first[pixels_of(kept)], other[pixels_of(kept)])
    assert not np.array_equal(first[pixels_of(repainted)], other[pixels_of(repainted)])


def test_inpaint_model_conditioning_feeds_the_sampler(comfy: FakeComfy) -> None:
    conditioning = {"class_type": "InpaintModelConditioning",
                    "inputs": {"positive": ["6", 0], "negative": ["7", 0], "vae": ["4", 2], "pixels": ["10", 0],
                               "mask": ["10", 1], "noise_mask": True}}
    ksampler = sampler(["5", 2], 7)
    ksampler["inputs"].update(positive=["5", 0], negative=["5", 1])
    assert saved(comfy, graph(n5=conditioning, n3=ksampler, last={"id": "3"})).shape == (54 // 8 * 8, 64, 3)


@pytest.mark.parametrize("node", [
    {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "upscale_method": "bislerp", "width": 96,
                                               "height": 72, "crop": "disabled"}},
    {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["3", 0], "upscale_method": "bislerp",
                                                 "scale_by": 1.5}},
], ids=["LatentUpscale", "LatentUpscaleBy"])
def test_hires_fix_in_latent_space_samples_the_upscaled_latent_again(comfy: FakeComfy, node: dict[str, Any]) -> None:
    empty = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 48, "batch_size": 1}}
    workflow = graph(n5=empty, n3=sampler(["5", 0], 7), n11=node, n12=sampler(["11", 0], 7, 0.5), last={"id": "12"})
    high = saved(comfy, workflow)
    assert high.shape == (72, 96, 3)
    assert not np.array_equal(high, saved(comfy, graph(n5=empty, n3=sampler(["5", 0], 7), n11=node,
                                                       n12=sampler(["11", 0], 8, 0.5), last={"id": "12"})))


def test_hires_fix_in_pixel_space_decodes_scales_and_encodes_again(comfy: FakeComfy) -> None:
    empty = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 48, "batch_size": 1}}
    workflow = graph(
        n5=empty, n3=sampler(["5", 0], 7),
        n13={"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        n14={"class_type": "ImageScale", "inputs": {"image": ["13", 0], "upscale_method": "bicubic", "width": 128,
                                                    "height": 96, "crop": "disabled"}},
        n15={"class_type": "VAEEncode", "inputs": {"pixels": ["14", 0], "vae": ["4", 2]}},
        n12=sampler(["15", 0], 7, 0.5), last={"id": "12"})
    assert saved(comfy, workflow).shape == (96, 128, 3)
