"""Simulated GPUs (--device-profile): the profiles' arithmetic, ComfyUI's model management on
the simulated card (eviction, partial loading, out of memory), /system_stats and the flags."""
from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.core import gpu_profiles
from fakecomfy.core.faults import OOM_TIPS
from fakecomfy.core.gpu import EXTRA_RESERVED, MIN_INFERENCE, OutOfMemory, SimulatedDevice, VramState
from fakecomfy.core.gpu_profiles import FAMILIES, GIB, MIB, PIXEL_EXPONENT, ProfileError
from fakecomfy.settings import Settings
from fakecomfy.testing import FakeComfy

WORKFLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "workflows"
SDXL = FAMILIES["sdxl"]
SD15 = FAMILIES["sd15"]
RTX4090_FILE = Path(gpu_profiles.__file__).parent.parent / "data" / "device_profiles" / "rtx4090.json"


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def sdxl_txt2img(steps: int, batch: int = 1, size: int = 1024, seed: int = 1) -> dict[str, Any]:
    wf = workflow("sd15_txt2img_api.json")
    wf["4"]["inputs"]["ckpt_name"] = "sd_xl_base_1.0.safetensors"
    wf["5"]["inputs"].update(width=size, height=size, batch_size=batch)
    wf["3"]["inputs"].update(steps=steps, seed=seed)
    return wf


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def put_json(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def step_seconds(profile: gpu_profiles.DeviceProfile, fam: gpu_profiles.Family, rows: int, pixels: int) -> float:
    """The module docstring's formula, written out again."""
    rate = profile.speed.evals_per_s[fam.speed_key]
    return float(profile.speed.overhead_s + rows * (pixels / fam.reference_pixels) ** PIXEL_EXPONENT / rate)


# ---- profiles --------------------------------------------------------------------------------
def test_shipped_profiles_name_their_sources() -> None:
    profiles = gpu_profiles.shipped()
    assert {"rtx4090", "rtx3070-8gb", "a100-80gb", "cpu"} <= set(profiles)
    aliases = [a for p in profiles.values() for a in (p.name, *p.aliases)]
    assert len(aliases) == len(set(aliases)), "a name or alias is used twice"
    for profile in profiles.values():
        assert profile.sources, profile.name
        assert all(s["figure"] for s in profile.sources)
        assert any(s["url"].startswith("https://") for s in profile.sources), profile.name
        assert all(rate > 0 for rate in profile.speed.evals_per_s.values())
    assert profiles["rtx4090"].vram_total == 24217 * MIB
    assert profiles["cpu"].is_cpu and not profiles["rtx4090"].is_cpu


def test_profiles_load_by_alias_or_file(tmp_path: Path) -> None:
    assert gpu_profiles.load("4090").name == "rtx4090"
    assert gpu_profiles.load("8GB").name == "rtx3070-8gb"
    data = json.loads(RTX4090_FILE.read_text(encoding="utf-8"))
    data.update(name="my-card", aliases=[])
    data["device"]["vram_total_mib"] = 12288
    mine = tmp_path / "card.json"
    mine.write_text(json.dumps(data), encoding="utf-8")
    assert gpu_profiles.load(str(mine)).vram_total == 12 * GIB
    with pytest.raises(ProfileError, match="unknown device profile 'rtx9999'; shipped: a100-80gb, cpu"):
        gpu_profiles.load("rtx9999")
    del data["speed"]["evals_per_s"]["flux"]
    mine.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProfileError, match="bad or missing field 'flux'"):
        gpu_profiles.load(str(mine))


def test_an_unknown_profile_stops_the_server() -> None:
    with pytest.raises(ProfileError):
        FakeComfy.start(Settings(device_profile="no-such-card", log_requests=False))


def test_the_4090_profile_reproduces_its_sources() -> None:
    """SD1.5 at 512 px on the 4090: the diffusers figures (40.5 / 12.62 / 3.17 it/s at batch
    1 / 4 / 16) within 10 %, and A1111's 7.5 it/s at 1024 px within 25 % (another tool)."""
    card = gpu_profiles.load("rtx4090")
    for batch, its in ((1, 40.5), (4, 12.62), (16, 3.17)):
        assert 1 / step_seconds(card, SD15, 2 * batch, 512 * 512) == pytest.approx(its, rel=0.10)
    assert 1 / step_seconds(card, SD15, 2, 1024 * 1024) == pytest.approx(7.5, rel=0.25)
    a100 = gpu_profiles.load("a100-80gb")
    assert 1 / step_seconds(a100, SDXL, 2, 1024 * 1024) == pytest.approx(8.43, rel=0.05)  # fal's SDXL figure


# ---- model management -------------------------------------------------------------------------
def device(profile: str = "rtx3070-8gb", **flags: Any) -> SimulatedDevice:
    return SimulatedDevice(gpu_profiles.load(profile), time_scale=0.0, **flags)


def test_models_stay_loaded_and_are_evicted_smaller_first() -> None:
    gpu = device()
    for part, size in (("clip", SD15.clip_bytes), ("unet", SD15.unet_bytes), ("vae", SD15.vae_bytes)):
        gpu.load((part, "sd15.safetensors"), size)
    assert [m.key[0] for m in gpu.loaded] == ["vae", "unet", "clip"]  # most recent first
    gpu.load(("unet", "sd15.safetensors"), SD15.unet_bytes)  # already there: moved to the front
    assert [m.key[0] for m in gpu.loaded] == ["unet", "vae", "clip"]
    # SDXL's UNet needs 1.1 x 5.1 GB + real's 1.2 GiB of working memory: on 7.3 GiB usable the
    # smaller models go first, the VAE and the text encoder, then SD1.5's UNet
    gpu.load(("unet", "sdxl.safetensors"), SDXL.unet_bytes)
    assert [m.key for m in gpu.loaded] == [("unet", "sdxl.safetensors")]
    assert gpu.loaded[0].resident == SDXL.unet_bytes


def test_a_model_that_does_not_fit_is_loaded_partly_and_streams() -> None:
    gpu = device()
    flux = FAMILIES["flux"]
    work = gpu.sampling("flux1-dev.safetensors", flux, 1, 128 * 128, 1024 * 1024, conds=1, evals_per_step=1)
    entry = gpu.loaded[0]
    usable = gpu.capacity - gpu.profile.non_torch_vram
    assert 0 < entry.resident < flux.unet_bytes
    # real: what is left after the working memory, its 0.8 GiB and twice the reserve (both steps add it)
    assert entry.resident == usable - (gpu.estimate(flux, 1, 128 * 128) + MIN_INFERENCE + 2 * EXTRA_RESERVED)
    card = SimulatedDevice(gpu.profile)  # the same card with time on
    streamed = card.sampling("flux1-dev.safetensors", flux, 1, 128 * 128, 1024 * 1024, 1, 1)
    compute = step_seconds(card.profile, flux, 1, 1024 * 1024)
    offloaded = flux.unet_bytes - card.loaded[0].resident
    assert streamed.work_s == pytest.approx(compute + offloaded / (card.profile.speed.upload_gb_per_s * 1e9))
    assert work.work_s == 0.0  # time_scale 0


def test_cond_and_uncond_split_when_they_do_not_fit_together() -> None:
    card = SimulatedDevice(gpu_profiles.load("rtx3070-8gb"))
    small = card.sampling("sdxl", SDXL, 1, 128 * 128, 1024 * 1024, conds=2, evals_per_step=1)
    assert small.work_s == pytest.approx(step_seconds(card.profile, SDXL, 2, 1024 * 1024))  # one call
    assert card.loaded[0].offloaded == 0
    card.finish_work()
    big = card.sampling("sdxl", SDXL, 8, 128 * 128, 1024 * 1024, conds=2, evals_per_step=1)
    assert card.loaded[0].offloaded > 0  # the UNet gave weights back for the larger batch
    split = 2 * step_seconds(card.profile, SDXL, 8, 1024 * 1024)
    stream = 2 * card.loaded[0].offloaded / (card.profile.speed.upload_gb_per_s * 1e9)
    assert big.work_s == pytest.approx(split + stream)  # two calls, each streaming the rest


def test_out_of_memory_says_what_torch_says() -> None:
    gpu = device()
    with pytest.raises(OutOfMemory) as caught:
        gpu.sampling("sdxl", SDXL, 16, 128 * 128, 1024 * 1024, conds=2, evals_per_step=1)
    error = caught.value.error
    assert f"{type(error).__module__}.{type(error).__qualname__}" == "torch.OutOfMemoryError"
    peak = gpu.estimate(SDXL, 16, 128 * 128) * 1.5
    assert str(error).startswith(f"CUDA out of memory. Tried to allocate {peak / GIB:.2f} GiB. GPU 0 has a total "
                                 f"capacity of {gpu.capacity / GIB:.2f} GiB of which ")
    assert "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True" in str(error)


def test_vram_flags_change_the_numbers() -> None:
    normal, novram, high = device(), device(novram=True), device(gpu_only=True)
    assert (normal.state, novram.state, high.state) == (VramState.NORMAL, VramState.NONE, VramState.HIGH)
    assert device(lowvram=True).state is VramState.LOW
    flux = FAMILIES["flux"]
    novram.sampling("flux", flux, 1, 128 * 128, 1024 * 1024, 1, 1)
    assert novram.loaded[0].resident == 0
    with pytest.raises(OutOfMemory):  # --gpu-only never splits: 23.8 GB does not go on 8 GB
        high.load(("unet", "flux"), flux.unet_bytes)
    reserved = device(reserve_vram_gb=3.0)
    reserved.sampling("sdxl", SDXL, 1, 128 * 128, 1024 * 1024, 2, 1)
    normal.sampling("sdxl", SDXL, 1, 128 * 128, 1024 * 1024, 2, 1)
    assert reserved.loaded[0].resident < normal.loaded[0].resident  # real keeps 3 GB back
    assert device("cpu").state is VramState.DISABLED


# ---- through the server -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def card() -> Any:
    with FakeComfy.start(Settings(device_profile="rtx3070-8gb", device_time_scale=0.0, log_requests=False)) as fc:
        yield fc


def test_system_stats_follow_the_simulated_card(card: FakeComfy) -> None:
    card.control.reset()
    profile = gpu_profiles.load("rtx3070-8gb")
    stats = get_json(card.url + "/system_stats")
    entry = stats["devices"][0]
    assert entry == {"name": "cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync", "type": "cuda", "index": 0,
                     "vram_total": profile.vram_total, "vram_free": profile.vram_total - profile.non_torch_vram,
                     "torch_vram_total": 0, "torch_vram_free": 0}
    assert stats["system"]["ram_total"] == profile.ram_total
    card.wait(card.submit(workflow("sd15_txt2img_api.json")))
    after = get_json(card.url + "/system_stats")["devices"][0]
    on_card = SD15.unet_bytes + SD15.clip_bytes + SD15.vae_bytes
    assert after["torch_vram_total"] == on_card
    assert after["vram_free"] == entry["vram_free"] - on_card
    # the weights moved from RAM to the card; unloaded, they are back in RAM
    assert get_json(card.url + "/system_stats")["system"]["ram_free"] == stats["system"]["ram_free"]
    request = urllib.request.Request(card.url + "/free", data=b'{"unload_models": true}', method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + 5
    while get_json(card.url + "/system_stats")["devices"][0]["torch_vram_total"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert get_json(card.url + "/system_stats")["devices"][0] == entry
    assert get_json(card.url + "/system_stats")["system"]["ram_free"] == stats["system"]["ram_free"] - on_card


def test_batch_16_sdxl_at_1024_runs_out_of_memory_on_8_gb(card: FakeComfy) -> None:
    card.control.reset()
    entry = card.wait(card.submit(sdxl_txt2img(steps=4, batch=16)))
    assert entry["status"]["status_str"] == "error"
    error = dict(entry["status"]["messages"])["execution_error"]
    assert error["node_type"] == "KSampler"
    assert error["exception_type"] == "torch.OutOfMemoryError"
    # cond and uncond one at a time, each 16 x 128 x 128 latent pixels: 1.5 x 4096 MiB x 0.8 (SDXL)
    assert error["exception_message"].startswith("CUDA out of memory. Tried to allocate 6.14 GiB.")
    assert error["exception_message"].endswith("\n" + OOM_TIPS)
    assert card.device()["models"] == []  # real unloads every model after an OOM
    assert card.wait(card.submit(sdxl_txt2img(steps=4, batch=8)))["status"]["status_str"] == "success"
    # decoding (4.6 GB a picture by real's estimate) pushed the UNet out again
    assert [(m["part"], m["name"]) for m in card.device()["models"]] == [("vae", "sd_xl_base_1.0.safetensors")]


def test_switching_checkpoints_reloads_on_a_small_card(card: FakeComfy) -> None:
    card.control.reset()
    card.wait(card.submit(workflow("sdxl_refiner_api.json")))
    names = [(m["part"], m["name"]) for m in card.device()["models"]]
    # base and refiner do not both fit in 8 GB, and decoding 1024 px needs 4.6 GB by real's
    # estimate: the refiner's VAE pushed the UNets out
    assert names[0] == ("vae", "sd_xl_refiner_1.0.safetensors")
    assert ("unet", "sd_xl_base_1.0.safetensors") not in names
    gpu = device()
    gpu.load(("unet", "base"), SDXL.unet_bytes)
    gpu.load(("unet", "refiner"), FAMILIES["sdxl_refiner"].unet_bytes)
    assert [m.key[1] for m in gpu.loaded] == ["refiner"]


def test_the_control_plane_switches_profiles_and_reset_puts_it_back(card: FakeComfy) -> None:
    status, body = put_json(card.url + "/_fakecomfy/device", {"profile": "a100"})
    assert status == 200 and body["profile"] == "a100-80gb" and body["models"] == []
    assert get_json(card.url + "/system_stats")["devices"][0]["name"].endswith("A100-SXM4-80GB : cudaMallocAsync")
    assert get_json(card.url + "/_fakecomfy/state")["device_profile"] == "a100-80gb"
    status, body = put_json(card.url + "/_fakecomfy/device", {"profile": "rtx0"})
    assert status == 400 and "unknown device profile 'rtx0'" in body["error"]
    status, body = put_json(card.url + "/_fakecomfy/device", {"profile": str(RTX4090_FILE)})
    assert status == 400 and "a profile file only at start" in body["error"]  # no file reads for clients
    status, body = put_json(card.url + "/_fakecomfy/device", {"profile": None})
    assert body == {"profile": None}
    assert get_json(card.url + "/system_stats")["devices"][0]["type"] == "cpu"  # the executor's own
    card.control.reset()
    assert get_json(card.url + "/_fakecomfy/device")["profile"] == "rtx3070-8gb"


def test_the_cpu_profile_reports_the_cpu() -> None:
    with FakeComfy.start(Settings(device_profile="cpu", device_time_scale=0.0, log_requests=False)) as fc:
        entry = get_json(fc.url + "/system_stats")["devices"][0]
        assert (entry["name"], entry["type"], entry["index"]) == ("cpu", "cpu", None)
        assert entry["vram_total"] == 64 * GIB
        assert fc.wait(fc.submit(workflow("sd15_txt2img_api.json")))["status"]["status_str"] == "success"


# ---- time ----------------------------------------------------------------------------------------
def progress_times(fc: FakeComfy, prompt_id: str, node: str) -> list[float]:
    return [m["time"] for m in fc.control.messages("progress", prompt_id=prompt_id) if m["data"]["node"] == node]


def test_a_30_step_sdxl_run_on_the_4090_takes_what_the_profile_says() -> None:
    card = gpu_profiles.load("rtx4090")
    per_step = step_seconds(card, SDXL, 2, 1024 * 1024)  # cfg 8: cond and uncond in one call
    with FakeComfy.start(Settings(device_profile="rtx4090", log_requests=False)) as fc:
        fc.wait(fc.submit(sdxl_txt2img(steps=2, seed=1)), timeout=60)  # loads the models (cold)
        started = time.monotonic()
        prompt_id = fc.submit(sdxl_txt2img(steps=30, seed=2))
        entry = fc.wait(prompt_id, timeout=60)
        took = time.monotonic() - started
    assert entry["status"]["status_str"] == "success"
    decode = card.speed.vae_decode_s_per_mp * 1024 * 1024 / 1e6
    expected = 30 * per_step + decode  # the text encoders' outputs are cached
    assert expected <= took <= expected + 0.3
    times = progress_times(fc, prompt_id, "3")
    assert len(times) == 30
    assert (times[-1] - times[0]) / 29 == pytest.approx(per_step, abs=0.01)


def test_a_base_and_refiner_run_takes_real_time_without_node_times() -> None:
    """What ComfyUI's own preview-method end-to-end test expects of a server (each run of its
    SDXL base + refiner graph, 5 steps, random seeds, takes over 0.5 s): true on a simulated
    4090 with no --node-time; a default fake answers at once."""
    graph = workflow("sdxl_refiner_api.json")
    for node in graph.values():
        if "steps" in node["inputs"]:
            node["inputs"]["steps"] = 5
    graph["10"]["inputs"]["end_at_step"] = 4
    graph["11"]["inputs"]["start_at_step"] = 4
    runs: dict[str, list[float]] = {}
    for profile in ("rtx4090", None):
        with FakeComfy.start(Settings(device_profile=profile, log_requests=False)) as fc:
            runs[str(profile)] = []
            for seed in (11, 12, 13):
                g = copy.deepcopy(graph)
                g["10"]["inputs"]["noise_seed"] = seed
                started = time.monotonic()
                entry = fc.wait(fc.submit(g, extra_data={"preview_method": "auto"}), timeout=120)
                runs[str(profile)].append(time.monotonic() - started)
                assert entry["status"]["status_str"] == "success"
    assert min(runs["rtx4090"]) > 0.5
    assert runs["rtx4090"][0] > runs["rtx4090"][1] + 5  # the first reads both checkpoints from disk
    assert max(runs["None"]) < 0.5


def test_an_oom_fault_on_a_simulated_card_speaks_of_that_card(card: FakeComfy) -> None:
    card.control.reset()
    card.wait(card.submit(workflow("sd15_txt2img_api.json")))
    assert card.device()["models"]
    card.control.add_fault(kind="oom", node_class="KSampler")
    graph = workflow("sd15_txt2img_api.json")
    graph["3"]["inputs"]["seed"] = 99
    entry = card.wait(card.submit(graph))
    error = dict(entry["status"]["messages"])["execution_error"]
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert "GPU 0 has a total capacity of 7.79 GiB" in error["exception_message"]
    assert card.device()["models"] == []  # and every model is unloaded, as after a real one


def test_switching_checkpoints_costs_a_read_even_on_a_big_card() -> None:
    """Real's default cache keeps only what the last prompt used: a checkpoint another prompt
    dropped is gone from RAM and the card, and the next prompt that names it reads it again."""
    sdxl = sdxl_txt2img(steps=2, size=512)
    scale = 0.1
    with FakeComfy.start(Settings(device_profile="a100", device_time_scale=scale, log_requests=False)) as fc:
        def run(graph: dict[str, Any], seed: int) -> float:
            graph = copy.deepcopy(graph)
            graph["3"]["inputs"]["seed"] = seed
            started = time.monotonic()
            assert fc.wait(fc.submit(graph))["status"]["status_str"] == "success"
            return time.monotonic() - started

        sd15 = workflow("sd15_txt2img_api.json")
        run(sd15, 1)
        run(sdxl, 2)
        assert {m["name"] for m in fc.device()["models"]} == {"sd_xl_base_1.0.safetensors"}  # room, but gone
        again, warm = run(sd15, 3), run(sd15, 4)
    card = gpu_profiles.load("a100")
    read = scale * (SD15.unet_bytes + SD15.clip_bytes + SD15.vae_bytes) / (card.speed.disk_gb_per_s * 1e9)
    assert again - warm >= read


def test_a_controlnet_loads_with_the_model_and_costs_its_share_of_each_step() -> None:
    card = SimulatedDevice(gpu_profiles.load("rtx4090"))
    plain = card.sampling("sd15", SD15, 1, 64 * 64, 512 * 512, conds=2, evals_per_step=1)
    control = card.sampling("sd15", SD15, 1, 64 * 64, 512 * 512, conds=2, evals_per_step=1,
                            controls=[("canny.safetensors", 723_000_000)])
    assert control.work_s == pytest.approx(plain.work_s * 1.34)
    assert [m.key for m in card.loaded] == [("unet", "sd15"), ("controlnet", "canny.safetensors")]
    assert control.before_s == pytest.approx(723_000_000 / (card.profile.speed.upload_gb_per_s * 1e9))


def test_a_controlnet_workflow_puts_the_controlnet_on_the_card(card: FakeComfy) -> None:
    card.control.reset()
    graph = workflow("sd15_txt2img_api.json")
    graph["20"] = {"class_type": "ControlNetLoader",
                   "inputs": {"control_net_name": "control_v11p_sd15_canny_fp16.safetensors"}}
    graph["21"] = {"class_type": "LoadImage", "inputs": {"image": "example.png"}}
    graph["22"] = {"class_type": "ControlNetApply", "inputs": {"conditioning": ["6", 0], "control_net": ["20", 0],
                                                               "image": ["21", 0], "strength": 1.0}}
    graph["3"]["inputs"]["positive"] = ["22", 0]
    graph["8"]["inputs"]["samples"] = ["3", 0]
    entry = card.wait(card.submit(graph))
    assert entry["status"]["status_str"] == "success", entry["status"]
    parts = {(m["part"], m["name"]) for m in card.device()["models"]}
    assert ("controlnet", "control_v11p_sd15_canny_fp16.safetensors") in parts
