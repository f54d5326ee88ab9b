"""The Sampler* option nodes of the torch family: each gives a SAMPLER whose run with its eta,
s_noise, order, r, solver type and noise device equals real's on a fixed denoiser (recorded by
tests/torch/data/sampling_record.py), and SamplerCustom runs it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.executors.torch import sampling, solvers  # noqa: E402
from fakecomfy.executors.torch.custom_sampler_nodes import Configured  # noqa: E402
from tests.torch.test_custom_sampler_nodes import Nodes  # noqa: E402
from tests.torch.test_sampling import GuidedToy  # noqa: E402
from tests.torch.test_sampling_nodes import MODEL, conditioning, empty  # noqa: E402
from tests.torch.test_sampling_nodes import env as env  # noqa: E402  # the fixture, shared

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "sampling_facts.json").read_text())[
    "sampler_nodes"]


@pytest.fixture
def nodes(env: ExecutionEnv) -> Nodes:
    return Nodes(env)


@pytest.mark.parametrize("key", list(FACTS))
def test_option_sampler_runs_as_reals_on_a_fixed_denoiser(nodes: Nodes, key: str) -> None:
    node, inputs = key.split("|", 1)
    sampler = nodes.outputs(node, **json.loads(inputs))[0]
    assert isinstance(sampler, Configured) and repr(sampler).startswith("<comfy.samplers.KSAMPLER")
    fact = FACTS[key]
    sigmas = sampling.schedule("karras", 6)
    model = GuidedToy()
    seen: list[int] = []
    start = sampling.prepare_noise((1, 4, 4, 4), 3) * sigmas[0]
    out = solvers.configured(sampler.solver, sampler.options)(model, start, sigmas, 11, lambda i, d, x: seen.append(i))
    assert torch.allclose(out.flatten(), torch.tensor(fact["out"]), atol=2e-6)
    assert model.calls == fact["calls"] and seen == fact["callbacks"]


def test_sampler_names_follow_the_noise_device(nodes: Nodes) -> None:
    gpu = nodes.outputs("SamplerDPMPP_3M_SDE", eta=1.0, s_noise=1.0, noise_device="gpu")[0]
    cpu = nodes.outputs("SamplerDPMPP_SDE", eta=1.0, s_noise=1.0, r=0.5, noise_device="cpu")[0]
    assert (gpu.name, gpu.options["cpu"]) == ("dpmpp_3m_sde_gpu", False)
    assert (cpu.name, cpu.options["cpu"]) == ("dpmpp_sde", True)


def _custom_with(nodes: Nodes, sampler: Any) -> Any:
    sigmas = nodes.outputs("BasicScheduler", model=MODEL, scheduler="karras", steps=4, denoise=1.0)[0]
    inputs = {"model": MODEL, "add_noise": True, "noise_seed": 5, "cfg": 7.0, "positive": conditioning(1),
              "negative": conditioning(2), "sampler": sampler, "sigmas": sigmas, "latent_image": empty()}
    return nodes.outputs("SamplerCustom", **inputs)[0]["samples"]


def test_sampler_custom_runs_the_nodes_options(nodes: Nodes) -> None:
    default = nodes.outputs("SamplerEulerAncestral", eta=1.0, s_noise=1.0)[0]
    assert torch.allclose(_custom_with(nodes, default), nodes.custom("euler_ancestral")[0]["samples"], atol=1e-6)
    quiet = _custom_with(nodes, nodes.outputs("SamplerEulerAncestral", eta=0.0, s_noise=1.0)[0])
    # eta 0 adds no noise: euler's path, to rounding
    assert torch.allclose(quiet, nodes.custom("euler")[0]["samples"], atol=1e-5)
    assert [(v, m) for v, m, _ in nodes.progress[-4:]] == [(i, 4) for i in range(1, 5)]
