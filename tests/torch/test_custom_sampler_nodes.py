"""SamplerCustom, SamplerCustomAdvanced and their parts on the torch family: the sigma nodes give
what real's give (recorded by tests/torch/data/sampling_record.py), and the custom samplers run
the same sampling as KSampler."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.executors.base import NodeContext  # noqa: E402
from fakecomfy.executors.torch import NODES, custom_sampler_nodes, solvers  # noqa: E402
from fakecomfy.executors.torch.sampling import SD15  # noqa: E402
from tests.torch.test_sampling_nodes import MODEL, Sampler, conditioning, empty  # noqa: E402
from tests.torch.test_sampling_nodes import env as env  # noqa: E402  # the fixture, shared

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "sampling_facts.json").read_text())[
    "custom_sigmas"]
BASE = [float(v) for v in FACTS["BasicScheduler|karras|6|1.0"]]


class Nodes(Sampler):
    def outputs(self, class_type: str, **inputs: Any) -> tuple[Any, ...]:
        ctx = NodeContext(self.env, "3", class_type, "p1", {}, {})
        ctx.on_progress = lambda v, m, p: self.progress.append((v, m, p))
        return NODES[class_type](ctx, **inputs).outputs

    def custom(self, sampler_name: str = "euler", sigmas: Any = None, **overrides: Any) -> tuple[Any, ...]:
        sampler = self.outputs("KSamplerSelect", sampler_name=sampler_name)[0]
        if sigmas is None:
            sigmas = self.outputs("BasicScheduler", model=MODEL, scheduler="karras", steps=4, denoise=1.0)[0]
        inputs = {"model": MODEL, "add_noise": True, "noise_seed": 5, "cfg": 7.0, "positive": conditioning(1),
                  "negative": conditioning(2), "sampler": sampler, "sigmas": sigmas, "latent_image": empty()}
        return self.outputs("SamplerCustom", **{**inputs, **overrides})


@pytest.fixture
def nodes(env: ExecutionEnv) -> Nodes:
    return Nodes(env)


def _sigmas(key: str) -> Any:
    return torch.tensor(FACTS[key], dtype=torch.float32)


@pytest.mark.parametrize("key", [k for k in FACTS if k.startswith("BasicScheduler")])
def test_basic_scheduler_matches_real(nodes: Nodes, key: str) -> None:
    _, scheduler, steps, denoise = key.split("|")
    got = nodes.outputs("BasicScheduler", model=MODEL, scheduler=scheduler, steps=int(steps),
                        denoise=float(denoise))[0]
    assert got.dtype == torch.float32 and got.ndim == 1
    assert torch.equal(got, _sigmas(key))


@pytest.mark.parametrize("key", [k for k in FACTS if k.startswith(("KarrasScheduler", "ExponentialScheduler"))])
def test_karras_and_exponential_schedulers_match_real(nodes: Nodes, key: str) -> None:
    name, steps, *rest = key.split("|")
    names = ["sigma_max", "sigma_min", "rho"][:len(rest)]
    got = nodes.outputs(name, steps=int(steps), **{n: float(v) for n, v in zip(names, rest, strict=True)})[0]
    assert torch.allclose(got, _sigmas(key), rtol=1e-6, atol=0)


@pytest.mark.parametrize("step", [0, 2, 6, 9])
def test_split_sigmas_matches_real(nodes: Nodes, step: int) -> None:
    high, low = nodes.outputs("SplitSigmas", sigmas=torch.tensor(BASE), step=step)
    assert torch.equal(high, _sigmas(f"SplitSigmas|{step}|high"))
    assert torch.equal(low, _sigmas(f"SplitSigmas|{step}|low"))


@pytest.mark.parametrize("denoise", [0.0, 0.5, 0.34, 1.0])
def test_split_sigmas_denoise_matches_real(nodes: Nodes, denoise: float) -> None:
    high, low = nodes.outputs("SplitSigmasDenoise", sigmas=torch.tensor(BASE), denoise=denoise)
    assert torch.equal(high, _sigmas(f"SplitSigmasDenoise|{denoise}|high"))
    assert torch.equal(low, _sigmas(f"SplitSigmasDenoise|{denoise}|low"))


def test_flip_sigmas_matches_real_and_leaves_its_input_alone(nodes: Nodes) -> None:
    sigmas = torch.tensor(BASE)
    assert torch.equal(nodes.outputs("FlipSigmas", sigmas=sigmas)[0], _sigmas("FlipSigmas"))
    assert torch.equal(sigmas, torch.tensor(BASE))


def test_objects_print_as_reals_classes(nodes: Nodes) -> None:
    assert repr(nodes.outputs("KSamplerSelect", sampler_name="euler")[0]).startswith("<comfy.samplers.KSAMPLER")
    noise = nodes.outputs("RandomNoise", noise_seed=3)[0]
    assert repr(noise).startswith("<comfy_extras.nodes_custom_sampler.Noise_RandomNoise") and noise.seed == 3
    guider = nodes.outputs("CFGGuider", model=MODEL, positive=conditioning(1), negative=conditioning(2), cfg=7.0)[0]
    assert repr(guider).startswith("<comfy.samplers.CFGGuider")


@pytest.mark.parametrize("name", ["euler", "euler_ancestral", "dpmpp_2m_sde", "dpmpp_sde", "dpmpp_3m_sde"])
def test_sampler_custom_runs_what_ksampler_runs(nodes: Nodes, name: str) -> None:
    output, _ = nodes.custom(name)
    expected = nodes.ksampler(sampler_name=name, scheduler="karras", steps=4)
    assert torch.allclose(output["samples"], expected["samples"], atol=1e-6)


def test_one_progress_update_per_sigma_step(nodes: Nodes) -> None:
    sigmas = _sigmas("SplitSigmas|2|low")  # 5 sigmas: 4 steps
    nodes.custom("heun", sigmas=sigmas)
    assert [(v, m) for v, m, _ in nodes.progress] == [(i, 4) for i in range(1, 5)]


def test_denoised_output_is_the_last_steps_prediction(nodes: Nodes) -> None:
    high = _sigmas("SplitSigmas|2|high")  # stops at a sigma above zero: leftover noise
    output, denoised = nodes.custom("euler", sigmas=high)
    assert not torch.allclose(output["samples"], denoised["samples"], atol=1e-2)
    full_output, full_denoised = nodes.custom("euler")
    # euler's last step down to sigma 0 lands on its prediction
    assert torch.allclose(full_output["samples"], full_denoised["samples"], atol=1e-5)


def test_empty_sigmas_give_the_latent_back_as_both_outputs(nodes: Nodes) -> None:
    latent = {"samples": torch.ones(1, 4, 8, 8)}
    output, denoised = nodes.custom(sigmas=torch.zeros((0,)), latent_image=latent)
    assert output is denoised and torch.equal(output["samples"], latent["samples"])
    assert nodes.progress == []


def test_sampler_custom_advanced_with_cfg_guider_equals_sampler_custom(nodes: Nodes) -> None:
    sampler = nodes.outputs("KSamplerSelect", sampler_name="dpmpp_2m_sde")[0]
    sigmas = nodes.outputs("BasicScheduler", model=MODEL, scheduler="karras", steps=4, denoise=1.0)[0]
    guider = nodes.outputs("CFGGuider", model=MODEL, positive=conditioning(1), negative=conditioning(2), cfg=7.0)[0]
    noise = nodes.outputs("RandomNoise", noise_seed=5)[0]
    advanced = nodes.outputs("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                             latent_image=empty())
    custom = nodes.custom("dpmpp_2m_sde")
    for got, expected in zip(advanced, custom, strict=True):
        assert torch.allclose(got["samples"], expected["samples"], atol=1e-6)


def test_basic_guider_is_cfg_one_and_disable_noise_adds_none(nodes: Nodes) -> None:
    sampler = nodes.outputs("KSamplerSelect", sampler_name="euler")[0]
    sigmas = nodes.outputs("KarrasScheduler", steps=3, sigma_max=5.0, sigma_min=0.1, rho=7.0)[0]
    latent = {"samples": torch.full((1, 4, 8, 8), 0.3)}
    guider = nodes.outputs("BasicGuider", model=MODEL, conditioning=conditioning(1))[0]
    noise = nodes.outputs("DisableNoise")[0]
    advanced = nodes.outputs("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                             latent_image=latent)[0]
    custom = nodes.custom("euler", sigmas=sigmas, add_noise=False, noise_seed=0, cfg=1.0, latent_image=latent,
                          negative=conditioning(7))[0]
    assert torch.allclose(advanced["samples"], custom["samples"], atol=1e-6)


def test_every_real_sampler_name_runs_its_own_algorithm(env: ExecutionEnv) -> None:
    definition = env.catalog.definition("KSamplerSelect")
    assert definition is not None
    spec = definition["input"]["required"]["sampler_name"]
    names = set(spec[1]["options"] if spec[0] == "COMBO" else spec[0])
    assert names == set(solvers.SOLVERS)
    assert all(solvers.solver(name) == (solvers.SOLVERS[name], True) for name in names)


@pytest.mark.parametrize("name", ["SamplerDPMAdaptative", "SamplerSEEDS2", "SamplerSASolver"])
def test_the_catalogs_sampler_option_nodes_run_on_tensors(env: ExecutionEnv, name: str) -> None:
    assert env.catalog.definition(name) is not None
    assert NODES[name] is custom_sampler_nodes.NODES[name]


def test_the_family_registers_the_custom_sampling_nodes() -> None:
    for name in custom_sampler_nodes.NODES:
        assert NODES[name] is custom_sampler_nodes.NODES[name]
    assert SD15.sigma_max == pytest.approx(14.614642, abs=1e-5)
