"""SD3 and Flux graphs on the torch family: 16-channel latents from header-only checkpoints,
deterministic saved pixels through a server, and the sampling loop on the torch device."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core import defaults  # noqa: E402
from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.core.safetensors import build_file  # noqa: E402
from fakecomfy.executors.base import NodeContext  # noqa: E402
from fakecomfy.executors.torch import NODES, devices, sampler_nodes  # noqa: E402
from fakecomfy.executors.torch.denoiser import StandInModel  # noqa: E402
from fakecomfy.executors.torch.model_sampling import FluxSampling, sampling_of  # noqa: E402
from fakecomfy.settings import Settings  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.test_numpy_nodes import make_env  # noqa: E402

SD3_CHECKPOINT = "sd3_medium_incl_clips.safetensors"
SD3_KEYS = {
    "model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight": [1],
    "model.diffusion_model.x_embedder.proj.weight": [1],
    "first_stage_model.decoder.conv_in.weight": [1],
    "text_encoders.clip_l.transformer.text_model.final_layer_norm.weight": [1],
}


def with_sd3_checkpoint(base: Path) -> Path:
    """``base`` populated like the default directory, plus a header-only SD3 checkpoint."""
    defaults.populate(base)
    (base / "models" / "checkpoints" / SD3_CHECKPOINT).write_bytes(build_file(SD3_KEYS))
    return base


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ExecutionEnv:
    return make_env(with_sd3_checkpoint(tmp_path_factory.mktemp("sd3")))


def node(env: ExecutionEnv, class_type: str, **inputs: Any) -> Any:
    ctx = NodeContext(env, "1", class_type, "p1", {}, {}, {})
    return NODES[class_type](ctx, **inputs).outputs


def ksampler(env: ExecutionEnv, model: Any, clip: Any, latent: Any, seed: int = 3, **extra: Any) -> Any:
    (positive,) = node(env, "CLIPTextEncode", clip=clip, text="a lighthouse")
    (negative,) = node(env, "CLIPTextEncode", clip=clip, text="")
    inputs = {"model": model, "seed": seed, "steps": 4, "cfg": 4.5, "sampler_name": "euler",
              "scheduler": "simple", "positive": positive, "negative": negative, "latent_image": latent,
              "denoise": 1.0, **extra}
    return node(env, "KSampler", **inputs)[0]


def test_an_sd3_checkpoint_samples_16_channel_latents(env: ExecutionEnv) -> None:
    model, clip, vae = node(env, "CheckpointLoaderSimple", ckpt_name=SD3_CHECKPOINT)
    assert (model.arch, vae.latent_channels) == ("sd3", 16)
    (latent,) = node(env, "EmptySD3LatentImage", width=64, height=48, batch_size=2)
    assert latent["samples"].shape == (2, 16, 6, 8) and latent["samples"].dtype == torch.float32
    (sd3,) = node(env, "ModelSamplingSD3", model=model, shift=3.0)
    out = ksampler(env, sd3, clip, latent)["samples"]
    assert out.shape == (2, 16, 6, 8) and bool(torch.isfinite(out).all())
    (pixels,) = node(env, "VAEDecode", vae=vae, samples={"samples": out})
    assert pixels.shape == (2, 48, 64, 3)


def test_an_empty_4_channel_latent_gets_the_flow_models_16(env: ExecutionEnv) -> None:
    model, clip, _ = node(env, "CheckpointLoaderSimple", ckpt_name=SD3_CHECKPOINT)
    (latent,) = node(env, "EmptyLatentImage", width=32, height=32, batch_size=1)
    assert latent["samples"].shape == (1, 4, 4, 4)
    assert ksampler(env, model, clip, latent)["samples"].shape == (1, 16, 4, 4)


def test_model_sampling_flux_sets_the_shift_of_the_image_size(env: ExecutionEnv) -> None:
    (flux,) = node(env, "UNETLoader", unet_name="flux1-dev.safetensors", weight_dtype="default")
    (patched,) = node(env, "ModelSamplingFlux", model=flux, max_shift=1.15, base_shift=0.5, width=512, height=512)
    ms = sampling_of(patched)
    assert isinstance(ms, FluxSampling) and ms.shift == pytest.approx(0.5 + 0.65 * 768 / 3840)
    (clip,) = node(env, "DualCLIPLoader", clip_name1="clip_l.safetensors", clip_name2="t5xxl_fp16.safetensors",
                   type="flux")
    (latent,) = node(env, "EmptySD3LatentImage", width=32, height=32, batch_size=1)
    first = ksampler(env, patched, clip, latent, cfg=1.0)["samples"]
    assert torch.equal(first, ksampler(env, patched, clip, latent, cfg=1.0)["samples"])
    assert not torch.equal(first, ksampler(env, flux, clip, latent, cfg=1.0)["samples"])  # the default shift


# ---- the loop on the torch device -----------------------------------------------------------
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_the_sampling_loop_runs_on_the_torch_device(env: ExecutionEnv, device: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = torch.device(device)
    monkeypatch.setattr(devices, "torch_device", lambda: target)
    seen: list[tuple[Any, Any]] = []
    forward = StandInModel.forward

    def spy(self: Any, x: Any, sigma: Any, text: Any, sampling: Any) -> Any:
        seen.append((x.device, self.inp.weight.device))
        return forward(self, x, sigma, text, sampling)

    monkeypatch.setattr(StandInModel, "forward", spy)
    model, clip, _ = node(env, "CheckpointLoaderSimple", ckpt_name=SD3_CHECKPOINT)
    mask = torch.zeros(1, 32, 32)
    mask[:, :16] = 1.0
    latent = {"samples": torch.rand(1, 16, 4, 4), "noise_mask": mask}
    steps: list[Any] = []
    ctx = NodeContext(env, "3", "KSampler", "p1", {}, {}, {})
    ctx.on_progress = lambda value, total, preview: steps.append(value)
    (positive,) = node(env, "CLIPTextEncode", clip=clip, text="a lighthouse")
    guidance = sampler_nodes.Guidance(model, positive, positive, 2.0)
    noise = torch.randn(1, 16, 4, 4)
    sigmas = torch.tensor([1.0, 0.6, 0.2, 0.0])
    result = sampler_nodes.sample(ctx, guidance, "dpmpp_2m", 1, latent["samples"], mask, noise, sigmas)
    assert seen and all(x.type == target.type for x, _ in seen)
    assert all(x == weight for x, weight in seen)  # no copy to the model's device per call
    assert result.denoised is not None
    assert result.samples.device == devices.intermediate_device() == result.denoised.device
    assert steps == [1, 2, 3]


def test_a_device_run_gives_the_cpu_runs_numbers(env: ExecutionEnv) -> None:
    """The same sampling with the loop on the torch device and the result moved back matches a
    run computed wholly on the CPU (here both are the CPU: the numbers must not change)."""
    model, clip, _ = node(env, "CheckpointLoaderSimple", ckpt_name=SD3_CHECKPOINT)
    (latent,) = node(env, "EmptySD3LatentImage", width=32, height=32, batch_size=1)
    first = ksampler(env, model, clip, latent, seed=9, sampler_name="euler_ancestral")["samples"]
    assert first.device == devices.intermediate_device()
    assert torch.equal(first, ksampler(env, model, clip, latent, seed=9, sampler_name="euler_ancestral")["samples"])


# ---- an SD3 txt2img through a server --------------------------------------------------------
@pytest.fixture(scope="module")
def comfy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeComfy]:
    base = with_sd3_checkpoint(tmp_path_factory.mktemp("sd3_server"))
    with FakeComfy.start(Settings(base_directory=base, executor="torch", log_requests=False)) as handle:
        yield handle


def sd3_graph(seed: int) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD3_CHECKPOINT}},
        "13": {"class_type": "ModelSamplingSD3", "inputs": {"model": ["4", 0], "shift": 3.0}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "5": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 64, "height": 48, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["13", 0], "seed": seed, "steps": 5, "cfg": 4.5,
                                                   "sampler_name": "dpmpp_2m", "scheduler": "sgm_uniform",
                                                   "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0], "denoise": 1.0}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "sd3"}},
    }


def saved(comfy: FakeComfy, seed: int) -> np.ndarray:
    prompt_id = comfy.submit(sd3_graph(seed))
    comfy.wait(prompt_id)
    (picture,) = comfy.images(prompt_id)
    return np.asarray(picture.convert("RGB"))


def test_an_sd3_txt2img_saves_the_same_pixels_for_the_same_seed(comfy: FakeComfy) -> None:
    first = saved(comfy, 7)
    assert first.shape == (48, 64, 3)
    comfy.reset()  # the cache would answer the same prompt without running it
    assert np.array_equal(first, saved(comfy, 7))
    assert not np.array_equal(first, saved(comfy, 8))
