"""The numpy executor's node implementations, called directly with a NodeContext."""
from __future__ import annotations

import dataclasses
import inspect
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import pytest
from PIL import Image

from fakecomfy.app import build_model
from fakecomfy.core.execution import ExecutionEnv, InterruptFlag, Preview
from fakecomfy.core.paths import FolderPaths
from fakecomfy.executors.base import Interrupted, NodeContext, NodeResult
from fakecomfy.executors.numpy import NODES, describe, fallback
from fakecomfy.executors.numpy.buffers import BufferPool
from fakecomfy.executors.numpy.fallback import standin
from fakecomfy.executors.numpy.values import Model, Opaque
from fakecomfy.images import to_uint8
from fakecomfy.settings import Settings
from tests.conftest import SHARED

FAKE_CHECKPOINT = SHARED / "fixtures" / "models" / "checkpoints" / "fake.safetensors"
Progress = list[tuple[str, Any, Any, Preview | None]]


class Runner:
    """Runs node implementations the way the engine does, recording their progress."""

    def __init__(self, env: ExecutionEnv) -> None:
        self.env = env
        self.progress: Progress = []
        self.states: dict[str, dict[str, Any]] = {}

    def ctx(self, class_type: str, node_id: str = "1", extra_data: dict[str, Any] | None = None) -> NodeContext:
        state = self.states.setdefault(f"{node_id}:{class_type}", {})
        ctx = NodeContext(self.env, node_id, class_type, "p1", {}, extra_data or {}, state)
        ctx.on_progress = lambda v, m, p: self.progress.append((class_type, v, m, p))
        return ctx

    def __call__(self, class_type: str, node_id: str = "1", extra_data: dict[str, Any] | None = None,
                 **inputs: Any) -> NodeResult:
        return NODES[class_type](self.ctx(class_type, node_id, extra_data), **inputs)

    def out(self, class_type: str, **inputs: Any) -> Any:
        return self(class_type, **inputs).outputs[0]


@pytest.fixture
def base(base_dir: Path) -> Path:
    shutil.copy(FAKE_CHECKPOINT, base_dir / "models" / "checkpoints" / "fake.safetensors")
    return base_dir


def make_env(base: Path, **settings: Any) -> ExecutionEnv:
    s = Settings(base_directory=base, log_requests=False, **settings)
    model = build_model(s, FolderPaths.from_settings(s, base))
    return ExecutionEnv(s, model.files, model.catalog, InterruptFlag())


@pytest.fixture
def run(base: Path) -> Runner:
    return Runner(make_env(base))


@pytest.fixture
def sd15(run: Runner) -> tuple[Any, ...]:
    return run("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors").outputs


def txt2img(run: Runner, sd15: tuple[Any, ...], seed: int = 1, text: str = "a cat", steps: int = 3,
            extra_data: dict[str, Any] | None = None, width: int = 64, height: int = 64) -> np.ndarray:
    model, clip, vae = sd15
    latent = run.out("EmptyLatentImage", width=width, height=height, batch_size=1)
    samples = run.out("KSampler", extra_data=extra_data, model=model, seed=seed, steps=steps, cfg=7.0,
                      sampler_name="euler", scheduler="normal",
                      positive=run.out("CLIPTextEncode", text=text, clip=clip),
                      negative=run.out("CLIPTextEncode", text="blurry", clip=clip), latent_image=latent, denoise=1.0)
    return run.out("VAEDecode", samples=samples, vae=vae)


def image(run: Runner, width: int = 16, height: int = 8, batch: int = 1, color: int = 0) -> np.ndarray:
    return run.out("EmptyImage", width=width, height=height, batch_size=batch, color=color)


# ---- images ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("color", "rgb"), [(0, [0, 0, 0]), (255, [0, 0, 255]), (65280, [0, 255, 0]),
                                            (0x336699, [0x33, 0x66, 0x99])])
def test_empty_image_fills_the_color(run: Runner, color: int, rgb: list[int]) -> None:
    out = image(run, 5, 3, 2, color)
    assert out.shape == (2, 3, 5, 3) and out.dtype == np.float32
    assert np.round(out[1, 2, 4] * 255).tolist() == rgb


def test_empty_image_is_one_shared_read_only_pixel_with_numpys_float32_values(run: Runner) -> None:
    out = image(run, 64, 32, 3, 0x80FF01)
    assert not out.flags.writeable and out.strides[:-1] == (0, 0, 0)
    expected = np.array([0x80 / 0xFF, 0xFF / 0xFF, 0x01 / 0xFF], dtype=np.float32)
    assert np.array_equal(out, np.broadcast_to(expected, out.shape))
    with pytest.raises(ValueError):
        out[0, 0, 0, 0] = 1.0  # a node writing into its input would change every pixel


def test_load_image_inverts_alpha_into_the_mask(run: Runner, base: Path) -> None:
    Image.new("RGBA", (6, 4), (255, 0, 0, 64)).save(base / "input" / "alpha.png")
    picture, mask = run("LoadImage", image="alpha.png").outputs
    assert picture.shape == (1, 4, 6, 3) and mask.shape == (1, 4, 6)
    assert np.allclose(mask, 1 - 64 / 255)


def test_load_image_without_alpha_gives_an_empty_64px_mask(run: Runner) -> None:
    picture, mask = run("LoadImage", image="example.png").outputs
    assert picture.shape == (1, 768, 768, 3)
    assert mask.shape == (1, 64, 64) and not mask.any()


def test_load_image_of_a_non_image_fails_like_pillow(run: Runner, base: Path) -> None:
    (base / "input" / "bad.png").write_bytes(b"not a picture")
    with pytest.raises(PIL.UnidentifiedImageError) as err:
        run("LoadImage", image="bad.png")
    assert str(err.value) == f"cannot identify image file '{base / 'input' / 'bad.png'}'"


@pytest.mark.parametrize(("node", "inputs", "shape"), [
    ("ImageScale", {"upscale_method": "bilinear", "width": 32, "height": 0, "crop": "disabled"}, (1, 16, 32, 3)),
    ("ImageScaleBy", {"upscale_method": "area", "scale_by": 0.5}, (1, 4, 8, 3)),
    ("ImageCrop", {"width": 4, "height": 100, "x": 14, "y": 2}, (1, 6, 2, 3)),
    ("ImageRotate", {"rotation": "90 degrees"}, (1, 16, 8, 3)),
    ("ImagePadForOutpaint", {"left": 8, "top": 0, "right": 0, "bottom": 8, "feathering": 2}, (1, 16, 24, 3)),
    ("RepeatImageBatch", {"amount": 3}, (3, 8, 16, 3)),
    ("ImageBlur", {"blur_radius": 3, "sigma": 1.0}, (1, 8, 16, 3)),
    ("ImageSharpen", {"sharpen_radius": 2, "sigma": 1.0, "alpha": 1.0}, (1, 8, 16, 3)),
])
def test_image_node_output_shapes(run: Runner, node: str, inputs: dict[str, Any], shape: tuple[int, ...]) -> None:
    out = run(node, image=image(run, color=0x808080), **inputs).outputs[0]
    assert out.shape == shape and out.dtype == np.float32


def test_blur_radius_beyond_the_picture_fails_like_torch_reflect_padding(run: Runner) -> None:
    with pytest.raises(RuntimeError, match=r"padding \(31, 31\) at dimension 3 of input \[1, 3, 8, 16\]"):
        run("ImageBlur", image=image(run), blur_radius=31, sigma=10.0)


def test_image_upscale_with_model_scales_by_four(run: Runner) -> None:
    upscaler = run.out("UpscaleModelLoader", model_name="RealESRGAN_x4plus.safetensors")
    assert run.out("ImageUpscaleWithModel", upscale_model=upscaler, image=image(run)).shape == (1, 32, 64, 3)


def test_masks_move_between_images_and_alpha(run: Runner) -> None:
    mask = run.out("SolidMask", value=0.25, width=16, height=8)
    assert run.out("MaskToImage", mask=mask).shape == (1, 8, 16, 3)
    joined = run.out("JoinImageWithAlpha", image=image(run), alpha=mask)
    assert joined.shape == (1, 8, 16, 4) and np.allclose(joined[..., 3], 0.75)
    rgb, alpha_mask = run("SplitImageWithAlpha", image=joined).outputs
    assert rgb.shape == (1, 8, 16, 3) and np.allclose(alpha_mask, 0.25)
    grown = run.out("GrowMask", mask=run.out("ThresholdMask", mask=mask, value=0.5), expand=2, tapered_corners=True)
    assert grown.shape == (1, 8, 16) and not grown.any()


# ---- output nodes -----------------------------------------------------------------------------
def test_save_image_names_files_per_image_with_a_counter(run: Runner, base: Path) -> None:
    first = run("SaveImage", images=image(run, batch=3), filename_prefix="run/batch").ui
    second = run("SaveImage", images=image(run), filename_prefix="run/batch").ui
    assert first == {"images": [{"filename": f"batch_0000{i}_.png", "subfolder": "run", "type": "output"}
                                for i in (1, 2, 3)]}
    assert second is not None and second["images"][0]["filename"] == "batch_00004_.png"
    assert (base / "output" / "run" / "batch_00004_.png").is_file()


def test_save_image_expands_batch_num_and_size(run: Runner) -> None:
    ui = run("SaveImage", images=image(run, 48, 24, batch=2), filename_prefix="run/w%width%_h%height%_b%batch_num%").ui
    assert ui is not None
    assert [e["filename"] for e in ui["images"]] == ["w48_h24_b0_00001_.png", "w48_h24_b1_00002_.png"]


def test_save_image_writes_prompt_and_extra_pnginfo_unless_disabled(run: Runner, base: Path) -> None:
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {}}}
    run("SaveImage", images=image(run), filename_prefix="meta", prompt=prompt, extra_pnginfo={"workflow": {"id": 1}})
    with Image.open(base / "output" / "meta_00001_.png") as img:
        assert set(img.text) == {"prompt", "workflow"} and img.mode == "RGB"
    bare = Runner(make_env(base, disable_metadata=True))
    bare("SaveImage", images=image(run), filename_prefix="bare", prompt=prompt)
    with Image.open(base / "output" / "bare_00001_.png") as img:
        assert dict(img.text) == {}


def test_save_image_of_four_channels_writes_rgba(run: Runner, base: Path) -> None:
    rgba = run.out("JoinImageWithAlpha", image=image(run), alpha=run.out("SolidMask", value=0.0, width=16, height=8))
    run("SaveImage", images=rgba, filename_prefix="alpha")
    with Image.open(base / "output" / "alpha_00001_.png") as img:
        assert img.mode == "RGBA"


def test_save_image_outside_the_output_folder_is_a_plain_exception(run: Runner) -> None:
    with pytest.raises(Exception) as err:
        run("SaveImage", images=image(run), filename_prefix="../escape")
    assert type(err.value) is Exception
    assert str(err.value).startswith("**** ERROR: Saving image outside the output folder is not allowed.")


def test_preview_image_keeps_its_random_prefix_per_node_instance(run: Runner, base: Path) -> None:
    names = [run("PreviewImage", node_id="4", images=image(run)).ui["images"][0] for _ in range(2)]  # type: ignore[index]
    match = re.fullmatch(r"ComfyUI_temp_([a-vx-z]{5})_00001_\.png", names[0]["filename"])
    assert match and names[0]["type"] == "temp" and names[0]["subfolder"] == ""
    assert names[1]["filename"] == f"ComfyUI_temp_{match.group(1)}_00002_.png"
    assert (base / "temp" / names[1]["filename"]).is_file()


def test_save_image_websocket_streams_png_frames_and_reports_no_ui(run: Runner) -> None:
    result = run("SaveImageWebsocket", images=image(run, 32, 16, batch=3, color=255))
    assert result.ui is None and result.outputs == ()
    assert [(v, m) for _, v, m, _ in run.progress] == [(0, 3), (1, 3), (2, 3)]
    preview = run.progress[0][3]
    assert preview is not None and (preview.format, preview.max_size, preview.image.size) == ("PNG", None, (32, 16))


@pytest.mark.parametrize(("source", "text"), [("foo-bar", "foo-bar"), (7, "7"), (None, "None"),
                                              ({"a": [1]}, '{\n    "a": [\n        1\n    ]\n}')])
def test_preview_any_shows_text(run: Runner, source: Any, text: str) -> None:
    assert run("PreviewAny", source=source).ui == {"text": [text]}


def test_primitive_int_passes_its_value(run: Runner) -> None:
    assert run("PrimitiveInt", value=7).outputs == (7,)


# ---- models ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "arch"), [("v1-5-pruned-emaonly.safetensors", "sd15"),
                                            ("sd_xl_base_1.0.safetensors", "sdxl"),
                                            ("sd_xl_refiner_1.0.safetensors", "sdxl_refiner")])
def test_checkpoints_are_recognised_by_their_tensor_names(run: Runner, name: str, arch: str) -> None:
    model, clip, vae = run("CheckpointLoaderSimple", ckpt_name=name).outputs
    assert (model.arch, clip.arch, vae.latent_channels) == (arch, arch, 4)
    assert re.fullmatch(r"<comfy\.model_patcher\.ModelPatcher object at 0x[0-9a-f]+>", str(model))
    assert re.fullmatch(r"<comfy\.sd\.VAE object at 0x[0-9a-f]+>", describe(vae))


def test_a_file_that_is_not_a_model_fails_detection(run: Runner, base: Path) -> None:
    with pytest.raises(RuntimeError) as err:
        run("CheckpointLoaderSimple", ckpt_name="fake.safetensors")
    path = (base / "models" / "checkpoints" / "fake.safetensors").resolve()
    assert str(err.value) == f"ERROR: Could not detect model type of: {path}\n"


def test_a_lora_loaded_as_checkpoint_gets_the_hint(run: Runner, base: Path) -> None:
    shutil.copy(FAKE_CHECKPOINT, base / "models" / "checkpoints" / "my_lora.safetensors")
    with pytest.raises(RuntimeError, match=r"\n\nHINT: This seems to be a Lora file"):
        run("CheckpointLoaderSimple", ckpt_name="my_lora.safetensors")


def test_unet_loader_recognises_flux(run: Runner) -> None:
    assert run.out("UNETLoader", unet_name="flux1-dev.safetensors", weight_dtype="default").latent_channels == 16


# ---- sampling -------------------------------------------------------------------------------
def test_txt2img_is_deterministic_and_follows_seed_and_text(run: Runner, sd15: tuple[Any, ...]) -> None:
    first = txt2img(run, sd15)
    assert first.shape == (1, 64, 64, 3) and first.dtype == np.float32
    assert np.array_equal(first, txt2img(run, sd15))
    assert np.abs(first - txt2img(run, sd15, seed=2)).mean() > 0.02
    assert np.abs(first - txt2img(run, sd15, text="a dog")).mean() > 0.005


def test_sampler_reports_every_step_with_jpeg_previews_when_asked(run: Runner, sd15: tuple[Any, ...]) -> None:
    txt2img(run, sd15, extra_data={"preview_method": "latent2rgb"}, width=64, height=96)
    steps = [(v, m, p) for node, v, m, p in run.progress if node == "KSampler"]
    assert [(v, m) for v, m, _ in steps] == [(1, 3), (2, 3), (3, 3)]
    assert all(p is not None and (p.format, p.max_size, p.image.size) == ("JPEG", 512, (8, 12)) for _, _, p in steps)


def test_sampler_sends_no_previews_by_default(run: Runner, sd15: tuple[Any, ...]) -> None:
    txt2img(run, sd15)
    assert [p for node, _, _, p in run.progress if node == "KSampler"] == [None, None, None]


@pytest.mark.parametrize(("start", "end", "expected"), [(0, 2, [(1, 2), (2, 2)]), (2, 10000, [(1, 1)]), (3, 10000, [])])
def test_ksampler_advanced_reports_the_steps_of_its_window(run: Runner, sd15: tuple[Any, ...], start: int, end: int,
                                                           expected: list[tuple[int, int]]) -> None:
    model, clip, _ = sd15
    cond = run.out("CLIPTextEncode", text="x", clip=clip)
    run("KSamplerAdvanced", model=model, add_noise="enable", noise_seed=1, steps=3, cfg=7.0, sampler_name="euler",
        scheduler="normal", positive=cond, negative=cond, start_at_step=start, end_at_step=end,
        return_with_leftover_noise="disable", latent_image=run.out("EmptyLatentImage", width=64, height=64))
    assert [(v, m) for _, v, m, _ in run.progress] == expected


def test_video_latent_fails_in_the_sampler_before_any_progress(run: Runner, sd15: tuple[Any, ...]) -> None:
    model, clip, _ = sd15
    cond = run.out("CLIPTextEncode", text="x", clip=clip)
    video = run.out("EmptyHunyuanLatentVideo", width=64, height=64, length=1, batch_size=1)
    with pytest.raises(RuntimeError) as err:
        run("KSampler", model=model, seed=1, steps=3, cfg=8.0, sampler_name="euler", scheduler="normal",
            positive=cond, negative=cond, latent_image=video, denoise=1.0)
    assert str(err.value) == ("Expected 3D (unbatched) or 4D (batched) input to conv2d, "
                              "but got input of size: [2, 4, 1, 8, 8]")
    assert run.progress == []


def test_sd3_latent_fails_in_the_sd15_vae(run: Runner, sd15: tuple[Any, ...]) -> None:
    with pytest.raises(RuntimeError) as err:
        run("VAEDecode", samples=run.out("EmptySD3LatentImage", width=64, height=64, batch_size=1), vae=sd15[2])
    assert str(err.value) == ("Given groups=1, weight of size [4, 4, 1, 1], expected input[1, 16, 8, 8] "
                              "to have 4 channels, but got 16 channels instead")


def test_interrupt_stops_the_sampler_inside_a_step(base: Path, sd15: tuple[Any, ...]) -> None:
    run = Runner(make_env(base, node_times={"KSampler": 5.0}))
    started = time.perf_counter()
    timer = threading.Timer(0.05, run.env.interrupt.set)
    timer.start()
    try:
        with pytest.raises(Interrupted):
            txt2img(run, sd15, steps=4)
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 2
    assert [p for p in run.progress if p[0] == "KSampler"] == []


class CountdownFlag(InterruptFlag):
    """An interrupt flag that reads as set from its ``checks + 1``-th look on."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0 or super().is_set()


def test_interrupt_is_noticed_between_the_slices_of_a_step(base: Path, sd15: tuple[Any, ...]) -> None:
    """A one-step sampler on a big batch still stops part-way through drawing it."""
    flag = CountdownFlag(3)
    run = Runner(dataclasses.replace(make_env(base), interrupt=flag))
    model, clip, _ = sd15
    cond = run.out("CLIPTextEncode", text="x", clip=clip)
    with pytest.raises(Interrupted):
        run("KSampler", model=model, seed=1, steps=1, cfg=7.0, sampler_name="euler", scheduler="normal",
            positive=cond, negative=cond, denoise=1.0,
            latent_image=run.out("EmptyLatentImage", width=512, height=512, batch_size=4))
    assert flag.left == -1 and run.progress == []


def test_img2img_keeps_the_pictures_size_and_decodes_to_the_original(run: Runner, sd15: tuple[Any, ...]) -> None:
    pixels = image(run, 64, 40, color=0x4080C0)
    latent = run.out("VAEEncode", pixels=pixels, vae=sd15[2])
    assert latent["samples"].shape == (1, 4, 5, 8)
    assert np.array_equal(run.out("VAEDecode", samples=latent, vae=sd15[2]), pixels)
    bigger = run.out("LatentUpscaleBy", samples=latent, upscale_method="nearest-exact", scale_by=1.5)
    assert run.out("VAEDecode", samples=bigger, vae=sd15[2]).shape == (1, 64, 96, 3)  # round(7.5) == 8


def _sampled(run: Runner, sd15: tuple[Any, ...], latent: dict[str, Any], denoise: float = 1.0, seed: int = 1,
             text: str = "a cat") -> dict[str, Any]:
    model, clip, _ = sd15
    return run.out("KSampler", model=model, seed=seed, steps=3, cfg=7.0, sampler_name="euler", scheduler="normal",
                   positive=run.out("CLIPTextEncode", text=text, clip=clip),
                   negative=run.out("CLIPTextEncode", text="blurry", clip=clip), latent_image=latent, denoise=denoise)


def _photo(run: Runner, sd15: tuple[Any, ...], width: int = 64, height: int = 40) -> dict[str, Any]:
    """A latent of a detailed picture (not drawn in cells), as VAEEncode gives it."""
    pixels = np.random.default_rng(5).random((1, height, width, 3), dtype=np.float32)
    return run.out("VAEEncode", pixels=pixels, vae=sd15[2])


def _sampler_cases(run: Runner, sd15: tuple[Any, ...], case: str) -> dict[str, Any]:
    empty = run.out("EmptyLatentImage", width=64, height=48, batch_size=1)
    if case == "txt2img":
        return _sampled(run, sd15, empty)
    if case == "part-way-from-noise":
        return _sampled(run, sd15, empty, denoise=0.5)
    if case == "img2img":
        return _sampled(run, sd15, _photo(run, sd15), denoise=0.6)
    if case == "masked":
        mask = np.zeros((1, 40, 64), dtype=np.float32)
        mask[:, 8:24, 16:40] = 1
        return _sampled(run, sd15, run.out("SetLatentNoiseMask", samples=_photo(run, sd15), mask=mask), denoise=0.8)
    if case == "batch":
        return _sampled(run, sd15, run.out("EmptyLatentImage", width=32, height=16, batch_size=3))
    assert case == "upscaled"
    first = _sampled(run, sd15, empty)
    return _sampled(run, sd15, run.out("LatentUpscaleBy", samples=first, upscale_method="bilinear", scale_by=1.5),
                    denoise=0.5)


@pytest.mark.parametrize("case", ["txt2img", "part-way-from-noise", "img2img", "masked", "batch", "upscaled"])
def test_saved_pngs_hold_exactly_the_decoded_pixels(run: Runner, sd15: tuple[Any, ...], base: Path,
                                                    case: str) -> None:
    decoded = run.out("VAEDecode", samples=_sampler_cases(run, sd15, case), vae=sd15[2])
    ui = run("SaveImage", images=decoded, filename_prefix=case, prompt={"1": {}}).ui
    assert ui is not None and len(ui["images"]) == decoded.shape[0]
    for item, entry in zip(decoded, ui["images"], strict=False):
        with Image.open(base / "output" / entry["filename"]) as img:
            assert (img.mode, img.size, set(img.text)) == ("RGB", (decoded.shape[2], decoded.shape[1]), {"prompt"})
            assert np.array_equal(np.asarray(img), to_uint8(item))


@pytest.mark.parametrize("case", ["txt2img", "img2img"])
def test_the_same_prompt_saves_the_same_png_bytes(base: Path, case: str) -> None:
    files = []
    for prefix in ("first", "second"):
        run = Runner(make_env(base))  # a fresh executor: nothing cached, nothing remembered
        sd15 = run("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors").outputs
        decoded = run.out("VAEDecode", samples=_sampler_cases(run, sd15, case), vae=sd15[2])
        run("SaveImage", images=decoded, filename_prefix=f"{case}-{prefix}", prompt={"1": {"inputs": {"seed": 1}}})
        files.append((base / "output" / f"{case}-{prefix}_00001_.png").read_bytes())
    assert files[0] == files[1]


def test_batch_items_are_different_pictures(run: Runner, sd15: tuple[Any, ...]) -> None:
    decoded = run.out("VAEDecode", samples=_sampler_cases(run, sd15, "batch"), vae=sd15[2])
    assert all(np.abs(decoded[i] - decoded[j]).mean() > 0.02 for i, j in ((0, 1), (0, 2), (1, 2)))


def test_a_noise_mask_keeps_the_pixels_outside_it(run: Runner, sd15: tuple[Any, ...]) -> None:
    source = _photo(run, sd15)
    decoded = run.out("VAEDecode", samples=_sampler_cases(run, sd15, "masked"), vae=sd15[2])
    original = run.out("VAEDecode", samples=source, vae=sd15[2])
    assert np.array_equal(decoded[:, :8], original[:, :8]) and np.array_equal(decoded[:, 24:], original[:, 24:])
    assert np.abs(decoded[:, 8:24, 16:40] - original[:, 8:24, 16:40]).mean() > 0.05


@pytest.mark.parametrize(("denoise", "low", "high"), [(0.25, 0.1, 0.4), (0.75, 0.6, 0.9)])
def test_img2img_blends_from_the_input_picture_by_denoise(run: Runner, sd15: tuple[Any, ...], denoise: float,
                                                         low: float, high: float) -> None:
    source = _photo(run, sd15)
    original = run.out("VAEDecode", samples=source, vae=sd15[2])
    full = run.out("VAEDecode", samples=_sampled(run, sd15, source), vae=sd15[2])
    part = run.out("VAEDecode", samples=_sampled(run, sd15, source, denoise=denoise), vae=sd15[2])
    # how far from the input towards the fully sampled picture, per pixel, on average
    share = float(np.abs(part - original).mean() / np.abs(full - original).mean())
    assert low < share < high


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


def test_buffer_pool_reuses_a_dropped_arrays_memory_unless_a_view_of_it_lives() -> None:
    pool = BufferPool(min_bytes=16)
    first = pool.empty((4, 4))
    address = _address(first)
    del first
    second = pool.empty((4, 4))
    assert _address(second) == address and pool.kept() == 0
    second[:] = 7
    view = second[1:]
    del second
    third = pool.empty((4, 4))
    third[:] = 0
    assert _address(third) != address and np.all(view == 7)


def test_save_latent_then_load_latent_round_trips(run: Runner, base: Path) -> None:
    latent = {"samples": np.arange(32, dtype=np.float32).reshape(1, 4, 2, 4)}
    ui = run("SaveLatent", samples=latent, filename_prefix="latents/run", prompt={"1": {}}).ui
    assert ui == {"latents": [{"filename": "run_00001_.latent", "subfolder": "latents", "type": "output"}]}
    shutil.copy(base / "output" / "latents" / "run_00001_.latent", base / "input" / "run.latent")
    assert np.array_equal(run.out("LoadLatent", latent="run.latent")["samples"], latent["samples"])


def test_node_time_is_spent_once(base: Path) -> None:
    run = Runner(make_env(base, node_times={"EmptyImage": 0.05}))
    started = time.perf_counter()
    image(run)
    assert 0.05 <= time.perf_counter() - started < 0.5


# ---- the fallback and the whole catalog ---------------------------------------------------------
def test_fallback_runs_a_custom_node_from_its_definition(run: Runner) -> None:
    definition = {"name": "MyCustomNode",
                  "input": {"required": {"image": ["IMAGE"], "amount": ["INT", {"default": 2}]}},
                  "output": ["IMAGE", "MASK", "MY_TYPE", "INT", ["a", "b"]],
                  "output_is_list": [False, False, False, True, False], "output_node": False}
    picture = image(run)
    result = fallback(run.ctx("MyCustomNode"), definition, {"image": picture, "amount": 3})
    out_image, mask, custom, numbers, combo = result.outputs
    assert out_image is picture and mask.shape == (1, 64, 64) and numbers == [3] and combo == "a"
    assert isinstance(custom, Opaque) and str(custom).startswith("<fakecomfy.MY_TYPE object at 0x")
    assert result.ui is None


def test_fallback_output_node_with_images_previews_them(run: Runner) -> None:
    definition = {"name": "MySaver", "input": {"required": {"images": ["IMAGE"]}}, "output": [],
                  "output_is_list": [], "output_node": True}
    ui = fallback(run.ctx("MySaver"), definition, {"images": image(run)}).ui
    assert ui is not None and ui["images"][0]["type"] == "temp"


SKIPPED_INPUT_TYPES = {"COMFY_AUTOGROW_V3", "COMFY_DYNAMICCOMBO_V3", "COMFY_MATCHTYPE_V3"}


def synthesise(definition: dict[str, Any]) -> dict[str, Any] | None:
    """Default inputs for a node (None when they cannot be made up)."""
    inputs: dict[str, Any] = {}
    for name, spec in (definition["input"].get("required") or {}).items():
        kind, options = spec[0], (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
        if isinstance(kind, list) or kind == "COMBO":
            choices = kind if isinstance(kind, list) else options.get("options", [])
            if not choices:
                return None
            inputs[name] = choices[0]
        elif kind in SKIPPED_INPUT_TYPES:
            return None
        elif kind in ("INT", "FLOAT", "STRING", "BOOLEAN"):
            inputs[name] = options.get("default", options.get("min", standin(kind)))
        else:
            inputs[name] = standin(kind, label="input")
    hidden = definition["input"].get("hidden") or {}
    values: dict[str, Any] = {"prompt": {}, "extra_pnginfo": None, "unique_id": "1"}
    inputs.update({k: values[k] for k in hidden if k in values})
    return inputs


def test_every_catalog_node_runs_on_default_inputs(base_dir: Path) -> None:
    run = Runner(make_env(base_dir))  # only the stand-in models: every loader's first choice loads
    catalog = run.env.catalog
    ran = 0
    for class_type in catalog.class_types():
        definition = catalog.node(class_type)
        assert definition is not None
        inputs = synthesise(definition)
        if inputs is None:
            continue
        ctx = run.ctx(class_type)
        impl: Callable[..., NodeResult] | None = NODES.get(class_type)
        result = impl(ctx, **inputs) if impl else fallback(ctx, definition, inputs)
        assert len(result.outputs) == len(definition["output"]), class_type
        ran += 1
    assert ran > 450


def test_implementations_take_the_catalogs_input_names(run: Runner) -> None:
    for class_type, impl in NODES.items():
        definition = run.env.catalog.node(class_type)
        assert definition is not None, f"{class_type} is not in the catalog"
        declared = {name for section in ("required", "optional") for name in definition["input"].get(section) or {}}
        params = inspect.signature(impl).parameters
        named = {n for n, p in params.items() if n != "ctx" and p.kind is not inspect.Parameter.VAR_KEYWORD}
        required = {n for n in named if params[n].default is inspect.Parameter.empty}
        assert required <= declared, f"{class_type}: {sorted(required - declared)} not declared"


def test_models_print_like_comfyui_objects() -> None:
    assert describe({"samples": np.zeros((1, 1), dtype=np.float32)}) == "{'samples': tensor([[0.]])}"
    assert describe(Model("sd15", "x")).startswith("<comfy.model_patcher.ModelPatcher object at 0x")
