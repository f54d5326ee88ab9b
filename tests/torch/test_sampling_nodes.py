"""KSampler and KSamplerAdvanced of the torch family, called directly with a NodeContext."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.app import build_model  # noqa: E402
from fakecomfy.core.execution import ExecutionEnv, InterruptFlag  # noqa: E402
from fakecomfy.core.paths import FolderPaths  # noqa: E402
from fakecomfy.executors.base import Interrupted, NodeContext  # noqa: E402
from fakecomfy.executors.numpy.values import Model  # noqa: E402
from fakecomfy.executors.torch import sampler_nodes, solvers  # noqa: E402
from fakecomfy.executors.torch.denoiser import load_model  # noqa: E402
from fakecomfy.settings import Settings  # noqa: E402

MODEL = Model("sd15", "standin.safetensors")
Progress = list[tuple[Any, Any, Any]]


def conditioning(text_seed: int) -> list[list[Any]]:
    generator = torch.Generator().manual_seed(text_seed)
    cond = torch.randn(1, 77, 768, generator=generator)
    return [[cond, {"pooled_output": torch.randn(1, 768, generator=generator)}]]


def empty(batch: int = 1, size: int = 8) -> dict[str, Any]:
    return {"samples": torch.zeros(batch, 4, size, size)}


@pytest.fixture
def env(base_dir: Path) -> ExecutionEnv:
    settings = Settings(base_directory=base_dir, log_requests=False)
    model = build_model(settings, FolderPaths.from_settings(settings, base_dir))
    return ExecutionEnv(settings, model.files, model.catalog, InterruptFlag())


class Sampler:
    def __init__(self, env: ExecutionEnv) -> None:
        self.env = env
        self.progress: Progress = []

    def __call__(self, class_type: str = "KSampler", extra_data: dict[str, Any] | None = None, **inputs: Any) -> Any:
        ctx = NodeContext(self.env, "3", class_type, "p1", {}, extra_data or {})
        ctx.on_progress = lambda v, m, p: self.progress.append((v, m, p))
        return sampler_nodes.NODES[class_type](ctx, **inputs).outputs[0]

    def ksampler(self, **overrides: Any) -> Any:
        inputs = {"model": MODEL, "seed": 5, "steps": 4, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                  "positive": conditioning(1), "negative": conditioning(2), "latent_image": empty(), "denoise": 1.0}
        return self("KSampler", **{**inputs, **overrides})


@pytest.fixture
def run(env: ExecutionEnv) -> Sampler:
    return Sampler(env)


def test_same_seed_gives_the_same_latent_and_another_seed_another(run: Sampler) -> None:
    first = run.ksampler()["samples"]
    assert torch.equal(first, run.ksampler()["samples"])
    assert not torch.allclose(first, run.ksampler(seed=6)["samples"])
    assert first.shape == (1, 4, 8, 8) and torch.isfinite(first).all()


def test_the_prompt_changes_the_latent(run: Sampler) -> None:
    assert not torch.allclose(run.ksampler()["samples"], run.ksampler(positive=conditioning(9))["samples"])


# dpm_fast and dpm_adaptive report their own steps (test_solvers_extra.py has dpm_adaptive's)
@pytest.mark.parametrize("name", [n for n in solvers.SOLVERS if n not in ("dpm_fast", "dpm_adaptive")])
def test_one_progress_update_per_step_for_every_sampler(run: Sampler, name: str) -> None:
    run.ksampler(sampler_name=name, steps=5)
    assert [(v, m) for v, m, _ in run.progress] == [(i, 5, ) for i in range(1, 6)]


def test_dpm_fast_reports_its_own_fewer_steps_of_the_schedules_count(run: Sampler) -> None:
    run.ksampler(sampler_name="dpm_fast", steps=5)  # 5 model calls in a third- and a second-order step
    assert [(v, m) for v, m, _ in run.progress] == [(1, 5), (2, 5)]


def test_cfg_one_skips_the_uncond_pass(run: Sampler, monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model(MODEL.name, 4)
    batches: list[int] = []
    original = type(model).forward

    def counting(self: Any, x: Any, s: Any, t: Any, *sampling: Any) -> Any:
        batches.append(x.shape[0])
        return original(self, x, s, t, *sampling)

    monkeypatch.setattr(type(model), "forward", counting)
    run.ksampler(cfg=1.0, steps=3)
    assert batches == [1, 1, 1]
    batches.clear()
    run.ksampler(cfg=7.0, steps=3)
    assert batches == [2, 2, 2]  # cond and uncond in one batch


def test_cfg_pp_samplers_ask_for_the_uncond_even_at_cfg_one(run: Sampler) -> None:
    # as real's cfg++ samplers disable the cfg-1 shortcut: the negative prompt still steers them
    a = run.ksampler(cfg=1.0, sampler_name="euler_cfg_pp", negative=conditioning(2))["samples"]
    b = run.ksampler(cfg=1.0, sampler_name="euler_cfg_pp", negative=conditioning(3))["samples"]
    assert torch.isfinite(a).all() and not torch.allclose(a, b)


def test_cfg_one_ignores_the_negative_prompt(run: Sampler) -> None:
    a = run.ksampler(cfg=1.0, negative=conditioning(2))["samples"]
    assert torch.equal(a, run.ksampler(cfg=1.0, negative=conditioning(3))["samples"])


def test_denoise_below_one_keeps_the_input_closer_and_reports_its_steps(run: Sampler) -> None:
    start = {"samples": torch.full((1, 4, 8, 8), 0.5)}
    light = run.ksampler(latent_image=start, denoise=0.2, steps=5)["samples"]
    full = run.ksampler(latent_image=start, denoise=1.0, steps=5)["samples"]
    assert (light - 0.5).abs().mean() < (full - 0.5).abs().mean()
    assert run.progress[-1][:2] == (5, 5)


def test_denoise_zero_returns_the_latent_unchanged(run: Sampler) -> None:
    start = {"samples": torch.full((1, 4, 8, 8), 0.5)}
    assert torch.equal(run.ksampler(latent_image=start, denoise=0.0)["samples"], start["samples"])
    assert run.progress == []


def advanced(run: Sampler, **overrides: Any) -> Any:
    inputs = {"model": MODEL, "add_noise": "enable", "noise_seed": 5, "steps": 6, "cfg": 7.0, "sampler_name": "euler",
              "scheduler": "karras", "positive": conditioning(1), "negative": conditioning(2),
              "latent_image": empty(), "start_at_step": 0, "end_at_step": 10000,
              "return_with_leftover_noise": "disable"}
    return run("KSamplerAdvanced", **{**inputs, **overrides})


def test_advanced_full_window_equals_ksampler(run: Sampler) -> None:
    plain = run.ksampler(steps=6, scheduler="karras")["samples"]
    assert torch.equal(advanced(run)["samples"], plain)


def test_advanced_split_in_two_windows_reports_each_window(run: Sampler) -> None:
    half = advanced(run, end_at_step=2, return_with_leftover_noise="enable")
    assert [(v, m) for v, m, _ in run.progress] == [(1, 2), (2, 2)]
    assert half["samples"].abs().max() > 3  # leftover noise
    run.progress.clear()
    rest = advanced(run, latent_image=half, start_at_step=2, add_noise="disable")
    assert [(v, m) for v, m, _ in run.progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    whole = advanced(run)["samples"]
    assert torch.allclose(rest["samples"], whole, atol=1e-4)  # euler resumed where it stopped


def test_advanced_window_past_the_end_returns_the_latent(run: Sampler) -> None:
    start = {"samples": torch.full((1, 4, 8, 8), 0.25)}
    assert torch.equal(advanced(run, latent_image=start, start_at_step=6)["samples"], start["samples"])


def test_previews_only_when_asked(run: Sampler) -> None:
    run.ksampler(steps=2)
    assert all(p is None for _, _, p in run.progress)
    run.progress.clear()
    run("KSampler", extra_data={"preview_method": "auto"}, model=MODEL, seed=5, steps=2, cfg=7.0,
        sampler_name="euler", scheduler="normal", positive=conditioning(1), negative=conditioning(2),
        latent_image=empty())
    assert all(p is not None for _, _, p in run.progress) and len(run.progress) == 2


def test_noise_mask_keeps_the_unmasked_area(run: Sampler) -> None:
    start = torch.full((1, 4, 8, 8), 0.5)
    mask = torch.zeros(1, 64, 64)
    mask[:, :, :32] = 1.0
    out = run.ksampler(latent_image={"samples": start, "noise_mask": mask})["samples"]
    assert torch.allclose(out[..., 5:], start[..., 5:], atol=1e-5)
    assert not torch.allclose(out[..., :3], start[..., :3], atol=1e-2)


def test_batch_gets_one_noise_per_item(run: Sampler) -> None:
    out = run.ksampler(latent_image=empty(batch=2))["samples"]
    assert out.shape[0] == 2


def test_interrupt_is_honoured_between_model_calls(run: Sampler) -> None:
    calls: list[int] = []

    def interrupt_on_third(v: Any, m: Any, p: Any) -> None:
        calls.append(v)
        if v == 2:
            run.env.interrupt.set()

    ctx = NodeContext(run.env, "3", "KSampler", "p1", {}, {})
    ctx.on_progress = interrupt_on_third
    with pytest.raises(Interrupted):
        sampler_nodes.ksampler(ctx, MODEL, 5, 6, 7.0, "heun", "normal", conditioning(1), conditioning(2), empty())
    assert calls == [1, 2]


def test_node_time_is_spent_per_step_and_interruptible(env: ExecutionEnv) -> None:
    env.settings.node_times["KSampler"] = 5.0
    ctx = NodeContext(env, "3", "KSampler", "p1", {}, {})
    threading.Timer(0.2, env.interrupt.set).start()
    with pytest.raises(Interrupted):
        sampler_nodes.ksampler(ctx, MODEL, 5, 3, 7.0, "euler", "normal", conditioning(1), conditioning(2), empty())
