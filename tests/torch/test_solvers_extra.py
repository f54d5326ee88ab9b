"""The option nodes of dpm_adaptive, SEEDS-2 and SA-Solver give samplers that run as real's on a
fixed denoiser (recorded by tests/torch/data/sampling_record.py), and dpm_adaptive's progress is
what real sends: one update per attempt, held at the step count."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.executors.torch import sampling, solvers  # noqa: E402
from fakecomfy.executors.torch.custom_sampler_nodes import Configured  # noqa: E402
from fakecomfy.executors.torch.solvers_sa import percent_to_sigma  # noqa: E402
from tests.torch.test_custom_sampler_nodes import Nodes  # noqa: E402
from tests.torch.test_sampling import GuidedToy  # noqa: E402
from tests.torch.test_sampling_nodes import MODEL  # noqa: E402
from tests.torch.test_sampling_nodes import env as env  # noqa: E402  # the fixture, shared

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "sampling_facts.json").read_text())[
    "extra_sampler_nodes"]
STEPS = 6  # the recorded runs are over karras 6


@pytest.fixture
def nodes(env: ExecutionEnv) -> Nodes:
    return Nodes(env)


def _inputs(node: str, inputs: str) -> dict[str, Any]:
    return {**json.loads(inputs), **({"model": MODEL} if node == "SamplerSASolver" else {})}


@pytest.mark.parametrize("key", list(FACTS))
def test_option_sampler_runs_as_reals_on_a_fixed_denoiser(nodes: Nodes, key: str) -> None:
    node, inputs = key.split("|", 1)
    sampler = nodes.outputs(node, **_inputs(node, inputs))[0]
    assert isinstance(sampler, Configured) and repr(sampler).startswith("<comfy.samplers.KSAMPLER")
    fact = FACTS[key]
    sigmas = sampling.schedule("karras", STEPS)
    model = GuidedToy()
    seen: list[int] = []
    start = sampling.prepare_noise((1, 4, 4, 4), 3) * sigmas[0]
    out = solvers.configured(sampler.solver, sampler.options)(model, start, sigmas, 11, lambda i, d, x: seen.append(i))
    assert torch.allclose(out.flatten(), torch.tensor(fact["out"]), atol=2e-6)
    assert model.calls == fact["calls"]
    assert seen == [min(i, STEPS - 1) for i in fact["callbacks"]]


def test_sa_solver_node_names_its_sampler_sa_solver_in_pece_mode_too(nodes: Nodes) -> None:
    key = next(k for k in FACTS if k.startswith("SamplerSASolver") and '"use_pece": true' in k)
    sampler = nodes.outputs("SamplerSASolver", **_inputs(*key.split("|", 1)))[0]
    assert (sampler.name, sampler.options["use_pece"]) == ("sa_solver", True)


def test_percent_to_sigma_spans_the_models_sigmas() -> None:
    assert percent_to_sigma(0.0) == 999999999.9 and percent_to_sigma(1.0) == 0.0
    assert percent_to_sigma(0.001) == pytest.approx(sampling.SD15.sigma_max, rel=1e-2)
    assert percent_to_sigma(0.2) > percent_to_sigma(0.8) > 0


def test_dpm_adaptive_progress_is_one_update_per_attempt_held_at_the_step_count(nodes: Nodes) -> None:
    sampler = nodes.outputs("KSamplerSelect", sampler_name="dpm_adaptive")[0]
    sigmas = nodes.outputs("BasicScheduler", model=MODEL, scheduler="karras", steps=3, denoise=1.0)[0]
    nodes.custom("dpm_adaptive", sigmas=sigmas, sampler=sampler)
    values = [(v, m) for v, m, _ in nodes.progress]
    assert len(values) > 3  # more attempts than steps on this schedule
    assert values == [(min(i, 3), 3) for i in range(1, len(values) + 1)]
