"""ComfyUI's sampling facts on torch: seeded noise, sigma schedules and sampler algorithms equal
what real ComfyUI computes (recorded by tests/torch/data/sampling_record.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.executors.torch import sampling, solvers  # noqa: E402

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "sampling_facts.json").read_text())


def _case(key: str) -> list[str]:
    return key.split("|")


@pytest.mark.parametrize("key", list(FACTS["noise"]))
def test_noise_is_what_real_draws_for_the_seed(key: str) -> None:
    seed, shape, index = _case(key)
    batch_index = None if index == "None" else json.loads(index)
    dims = [int(d) for d in shape.strip("()").split(",")]
    noise = sampling.prepare_noise(dims, int(seed), batch_index)
    assert torch.equal(noise.flatten(), torch.tensor(FACTS["noise"][key]))


def test_model_sigmas_are_sd15s() -> None:
    assert torch.equal(sampling.SD15.sigmas, torch.tensor(FACTS["model_sigmas"]))


@pytest.mark.parametrize("key", list(FACTS["sigmas"]))
def test_ksampler_sigmas_match_real(key: str) -> None:
    scheduler, sampler, steps, denoise = _case(key)
    got = sampling.ksampler_sigmas(scheduler, sampler, int(steps), float(denoise))
    # exact, nan included: kl_optimal of 1 step divides by zero on real too
    assert torch.allclose(got, torch.tensor(FACTS["sigmas"][key]), rtol=0, atol=0, equal_nan=True)


def test_denoise_below_one_takes_the_tail_of_a_longer_schedule() -> None:
    tail = sampling.ksampler_sigmas("karras", "euler", 10, 0.5)
    assert torch.equal(tail, sampling.schedule("karras", 20)[-11:])


def test_step_window_cuts_the_schedule_and_forces_the_last_sigma_to_zero() -> None:
    sigmas = sampling.schedule("normal", 10)
    window = sampling.step_window(sigmas, 2, 6, force_full_denoise=True)
    assert window is not None and len(window) == 5 and float(window[-1]) == 0.0
    assert torch.equal(window[:-1], sigmas[2:6])
    assert sampling.step_window(sigmas, 10, 20, force_full_denoise=False) is None


def test_beta_quantile_matches_known_values() -> None:
    assert sampling.beta_ppf(0.5, 0.6, 0.6) == pytest.approx(0.5, abs=1e-12)
    assert sampling.beta_ppf(0.5, 2.0, 2.0) == pytest.approx(0.5, abs=1e-12)
    assert sampling.beta_ppf(0.5, 2.0, 1.0) == pytest.approx(0.5 ** 0.5, abs=1e-12)  # I_x(2,1) = x^2


def _toy(x: Any, sigma: Any) -> Any:
    """The recorder's fixed denoiser."""
    s = sigma.view(-1, 1, 1, 1)
    return x / (1 + s ** 2) + 0.05 * torch.tanh(x) * s / (1 + s)


@pytest.mark.parametrize("key", list(FACTS["samplers"]))
def test_sampler_matches_real_on_a_fixed_denoiser(key: str) -> None:
    name, scheduler, steps = _case(key)
    fact = FACTS["samplers"][key]
    sigmas = sampling.schedule(scheduler, int(steps))
    calls: list[int] = []
    steps_seen: list[int] = []

    def model(x: Any, sigma: Any) -> Any:
        calls.append(1)
        return _toy(x, sigma)

    start = sampling.prepare_noise((1, 4, 4, 4), 3) * sigmas[0]
    out = solvers.SOLVERS[name](model, start, sigmas, 11, lambda i, d, x: steps_seen.append(i))
    assert torch.allclose(out.flatten(), torch.tensor(fact["out"]), atol=2e-6)
    assert len(calls) == fact["calls"]
    # one callback per step, second-order samplers too; dpm_adaptive's per attempt, its index held
    # at the last step as real's ProgressBar holds its value at the step count
    assert steps_seen == [min(i, int(steps) - 1) for i in fact["callbacks"]]


def _toy_uncond(x: Any, sigma: Any) -> Any:
    """The recorder's unconditional prediction for the cfg++ samplers."""
    return x / (1 + sigma.view(-1, 1, 1, 1) ** 2)


class GuidedToy:
    """The fixed denoiser as a guider: each call leaves its uncond prediction in ``uncond``."""

    def __init__(self) -> None:
        self.calls = 0
        self.uncond: Any = None

    def __call__(self, x: Any, sigma: Any) -> Any:
        self.calls += 1
        self.uncond = _toy_uncond(x, sigma)
        return _toy(x, sigma)


@pytest.mark.parametrize("key", list(FACTS["cfg_pp_samplers"]))
def test_cfg_pp_sampler_steps_along_the_guiders_uncond_as_real(key: str) -> None:
    name, scheduler, steps = _case(key)
    fact = FACTS["cfg_pp_samplers"][key]
    sigmas = sampling.schedule(scheduler, int(steps))
    model = GuidedToy()
    steps_seen: list[int] = []
    start = sampling.prepare_noise((1, 4, 4, 4), 3) * sigmas[0]
    out = solvers.SOLVERS[name](model, start, sigmas, 11, lambda i, d, x: steps_seen.append(i))
    assert torch.allclose(out.flatten(), torch.tensor(fact["out"]), atol=2e-6)
    assert model.calls == fact["calls"]
    assert steps_seen == fact["callbacks"]
