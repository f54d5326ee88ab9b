"""The samplers whose maths real ComfyUI switches on flow (CONST) models, SamplerLCMUpscale and
BasicScheduler on SD3 and Flux, against facts recorded from real's own functions
(``data/flow_record.py``, ``flow_solvers``)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.executors.base import NodeContext  # noqa: E402
from fakecomfy.executors.numpy.values import Model  # noqa: E402
from fakecomfy.executors.torch import NODES, sampling, solvers  # noqa: E402
from fakecomfy.executors.torch.model_sampling import ModelSampling, sampling_of  # noqa: E402
from fakecomfy.executors.torch.sampler_nodes import run_solver  # noqa: E402
from fakecomfy.executors.torch.solvers_base import offset_first_sigma  # noqa: E402
from tests.test_numpy_nodes import make_env  # noqa: E402
from tests.torch.test_custom_sampler_nodes import Nodes  # noqa: E402
from tests.torch.test_flow import toy  # noqa: E402
from tests.torch.test_sampling_nodes import MODEL  # noqa: E402

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "flow_facts.json").read_text())["flow_solvers"]
MODELS = {"sd3": Model("sd3", "sd3_medium.safetensors"), "flux": Model("flux", "flux1-dev.safetensors")}


class ToyDenoiser:
    """The recorder's fixed denoiser, carrying the model sampling as the guider's does."""

    def __init__(self, ms: ModelSampling) -> None:
        self.model_sampling, self.calls = ms, 0

    def __call__(self, x: Any, sigma: Any) -> Any:
        self.calls += 1
        return toy(x, sigma)


def run(ms: ModelSampling, algorithm: solvers.Solver, sigmas: Any, seed: int, noise: Any,
        latent: Any) -> tuple[Any, int]:
    model = ToyDenoiser(ms)
    out = run_solver(ms, model, algorithm, sigmas, seed, noise, latent, None, noise, lambda i, d, x: None)
    return out, model.calls


def assert_brief(out: Any, calls: int, facts: dict[str, Any]) -> None:
    assert calls == facts["calls"]
    assert [float(v) for v in out.flatten()[:4]] == pytest.approx(facts["head"], abs=1e-5)
    assert float(out.sum()) == pytest.approx(facts["sum"], rel=1e-5, abs=1e-4)
    assert float(out.abs().sum()) == pytest.approx(facts["abs"], rel=1e-5)


SOLVER_CASES = [key for key in FACTS if key.split("|")[1] not in ("lcm_upscale", "BasicScheduler")]


@pytest.mark.parametrize("key", SOLVER_CASES)
def test_a_sampler_on_a_flow_model_steps_as_real_does(key: str) -> None:
    arch, name, where = key.split("|")
    ms = sampling_of(MODELS[arch])
    sigmas = sampling.schedule("simple", 5, ms)
    noise = torch.randn([1, 16, 2, 2], generator=torch.Generator().manual_seed(5))
    latent = torch.linspace(-1, 1, noise.numel()).view(noise.shape)
    out, calls = run(ms, solvers.solver(name)[0], sigmas if where == "full" else sigmas[1:], 11, noise, latent)
    assert torch.isfinite(out).all()
    assert_brief(out, calls, FACTS[key])


def node(class_type: str, env: ExecutionEnv, **inputs: Any) -> Any:
    ctx = NodeContext(env, "1", class_type, "p1", {}, {}, {})
    return NODES[class_type](ctx, **inputs).outputs[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ExecutionEnv:
    return make_env(tmp_path_factory.mktemp("flow_solvers"))


@pytest.mark.parametrize("key", [key for key in FACTS if "|lcm_upscale|" in key])
def test_lcm_upscale_grows_the_latent_and_noises_from_the_seeded_global_stream(env: ExecutionEnv, key: str) -> None:
    arch, _, ratio, steps, method = key.split("|")
    ms = sampling_of(MODELS[arch])
    sampler = node("SamplerLCMUpscale", env, scale_ratio=float(ratio), scale_steps=int(steps), upscale_method=method)
    latent = torch.linspace(-1, 1, 64).view(1, 16, 2, 2)
    noise = sampling.prepare_noise(latent.shape, 7)
    out, calls = run(ms, solvers.configured(sampler.solver, sampler.options), sampling.schedule("simple", 5, ms), 7,
                     noise, latent)
    assert list(out.shape) == FACTS[key]["shape"]
    assert_brief(out, calls, FACTS[key])


@pytest.mark.parametrize("key", [key for key in FACTS if "|BasicScheduler|" in key])
def test_basic_scheduler_schedules_from_the_models_own_sampling(env: ExecutionEnv, key: str) -> None:
    arch, _, scheduler, steps, denoise = key.split("|")
    sigmas = node("BasicScheduler", env, model=MODELS[arch], scheduler=scheduler, steps=int(steps),
                  denoise=float(denoise))
    assert [float(v) for v in sigmas] == FACTS[key]


def test_the_first_sigma_of_a_flow_schedule_is_moved_off_one() -> None:
    ms = sampling_of(MODELS["sd3"])
    model = ToyDenoiser(ms)
    sigmas = sampling.schedule("simple", 3, ms)
    assert float(sigmas[0]) == 1.0
    moved = offset_first_sigma(model, sigmas)
    assert math.isclose(float(moved[0]), ms.percent_to_sigma(1e-4), rel_tol=1e-6) and float(sigmas[0]) == 1.0


def test_sampler_custom_with_lcm_upscale_returns_the_grown_latent(env: ExecutionEnv) -> None:
    nodes = Nodes(env)
    sampler = nodes.outputs("SamplerLCMUpscale", scale_ratio=2.0, scale_steps=-1, upscale_method="bislerp")[0]
    sigmas = nodes.outputs("BasicScheduler", model=MODEL, scheduler="normal", steps=4, denoise=1.0)[0]
    out, denoised = nodes.custom(sigmas=sigmas, sampler=sampler, latent_image={"samples": torch.randn(1, 4, 8, 8)})
    assert out["samples"].shape == (1, 4, 16, 16) and denoised["samples"].shape == (1, 4, 16, 16)
    assert torch.isfinite(out["samples"]).all()
    assert [p[:2] for p in nodes.progress] == [(i, 4) for i in range(1, 5)]
