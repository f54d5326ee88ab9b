"""Flow models (SD3, AuraFlow, Flux) in the torch family: their model samplings, schedules, CONST
noise scaling, latent formats and whole sampler runs against facts recorded from real ComfyUI
(``data/flow_record.py``), and the ModelSampling* nodes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.core.execution import ExecutionEnv  # noqa: E402
from fakecomfy.executors.base import NodeContext  # noqa: E402
from fakecomfy.executors.numpy.values import Model  # noqa: E402
from fakecomfy.executors.torch import NODES, sampling, solvers  # noqa: E402
from fakecomfy.executors.torch.model_sampling import (  # noqa: E402
    LATENT_FORMATS,
    SD15,
    FlowSampling,
    FluxSampling,
    ModelSampling,
    SampledModel,
    sampling_of,
)
from fakecomfy.executors.torch.sampler_nodes import run_solver  # noqa: E402
from tests.test_numpy_nodes import make_env  # noqa: E402

FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "flow_facts.json").read_text())
SD3 = Model("sd3", "sd3_medium.safetensors")
FLUX = Model("flux", "flux1-dev.safetensors")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ExecutionEnv:
    return make_env(tmp_path_factory.mktemp("flow"))


def node(env: ExecutionEnv, class_type: str, **inputs: Any) -> Any:
    ctx = NodeContext(env, "1", class_type, "p1", {}, {}, {})
    return NODES[class_type](ctx, **inputs).outputs[0]


def recorded_sampling(env: ExecutionEnv, key: str) -> ModelSampling:
    """Our model sampling for each of the recorder's cases (defaults and node outputs)."""
    if key == "sd3":
        return sampling_of(SD3)
    if key == "flux":
        return sampling_of(FLUX)
    if key == "flux_schnell":
        return FlowSampling(shift=1.0, multiplier=1.0)
    name, *args = key.split("|")
    if name == "ModelSamplingFlux":
        max_shift, base_shift, width, height = float(args[0]), float(args[1]), int(args[2]), int(args[3])
        model = node(env, name, model=FLUX, max_shift=max_shift, base_shift=base_shift, width=width, height=height)
    else:
        model = node(env, name, model=SD3, shift=float(args[0]))
    return sampling_of(model)


def values(t: Any) -> list[float]:
    return [float(v) for v in torch.as_tensor(t).flatten()]


# ---- the model samplings and their schedules ------------------------------------------------
@pytest.mark.parametrize("key", FACTS["samplings"])
def test_model_sampling_sigmas_are_real_comfyuis(env: ExecutionEnv, key: str) -> None:
    ms, facts = recorded_sampling(env, key), FACTS["samplings"][key]
    assert (ms.sigma_min, ms.sigma_max, len(ms.sigmas)) == (facts["sigma_min"], facts["sigma_max"], facts["count"])
    assert values(ms.sigmas[:3]) == facts["head"] and values(ms.sigmas[-3:]) == facts["tail"]
    assert values(ms.timestep(torch.tensor([0.9, 0.5, 0.01]))) == facts["timestep"]


@pytest.mark.parametrize("key", FACTS["samplings"])
@pytest.mark.parametrize("scheduler", sampling.SCHEDULERS)
def test_every_schedule_of_a_flow_model_is_real_comfyuis(env: ExecutionEnv, key: str, scheduler: str) -> None:
    ms, facts = recorded_sampling(env, key), FACTS["samplings"][key]
    for steps in (4, 9):
        assert values(sampling.schedule(scheduler, steps, ms)) == facts[f"{scheduler}|{steps}"], steps


@pytest.mark.parametrize("key", FACTS["samplings"])
def test_ksampler_sigmas_of_a_flow_model_with_denoise_and_discard_are_real_comfyuis(env: ExecutionEnv,
                                                                                    key: str) -> None:
    ms, facts = recorded_sampling(env, key), FACTS["samplings"][key]
    assert values(sampling.ksampler_sigmas("simple", "euler", 10, 0.6, ms)) == facts["ksampler|simple|euler|10|0.6"]
    assert values(sampling.ksampler_sigmas("simple", "dpm_2", 6, 1.0, ms)) == facts["ksampler|simple|dpm_2|6|1.0"]


def test_model_samplings_by_architecture() -> None:
    assert sampling_of(Model("sd15", "a")) is SD15 and sampling_of(Model("sdxl", "b")) is SD15
    sd3, flux = sampling_of(SD3), sampling_of(FLUX)
    assert isinstance(sd3, FlowSampling) and (sd3.shift, sd3.multiplier) == (3.0, 1000)
    assert isinstance(flux, FluxSampling) and flux.shift == 1.15
    assert sd3.const and flux.const and not SD15.const


def test_a_lora_after_a_model_sampling_node_keeps_its_sampling(env: ExecutionEnv) -> None:
    patched = node(env, "ModelSamplingSD3", model=SD3, shift=5.0)
    assert isinstance(patched, SampledModel) and patched.arch == "sd3" and patched.name == SD3.name
    lora = patched.patched("lora.safetensors:1.0")
    assert sampling_of(lora) is patched.sampling and lora.patches == ("lora.safetensors:1.0",)
    assert SD3.patches == () and sampling_of(SD3).shift == 3.0  # type: ignore[union-attr]  # the input is unchanged


# ---- CONST scaling and the latent formats ----------------------------------------------------
def test_const_noise_scaling_and_its_inverse_are_real_comfyuis() -> None:
    facts = FACTS["noise_scaling"]
    noise, latent = (torch.tensor(facts[k]).view(1, 16, 2, 2) for k in ("noise", "latent"))
    ms = sampling_of(SD3)
    assert values(ms.noise_scaling(torch.tensor(0.8), noise, latent)) == facts["scaled|0.8"]
    assert values(ms.inverse_noise_scaling(torch.tensor(0.25), latent)) == facts["inverse|0.25"]


@pytest.mark.parametrize("arch", FACTS["latent_formats"])
def test_latent_formats_scale_and_shift_as_real_comfyuis(arch: str) -> None:
    facts, fmt = FACTS["latent_formats"][arch], LATENT_FORMATS[arch]
    latent = torch.tensor(FACTS["noise_scaling"]["latent"]).view(1, 16, 2, 2)
    assert fmt.channels == facts["channels"]
    assert values(fmt.process_in(latent)) == facts["in"]
    assert values(fmt.process_out(latent)) == facts["out"]


# ---- whole sampler runs (noise scaling, solver, inverse scaling, inpaint mask) --------------
def toy(x: Any, sigma: Any) -> Any:
    """The recorder's fixed flow denoiser."""
    s = sigma.view(-1, 1, 1, 1)
    target = torch.linspace(-0.5, 0.5, x[0].numel()).view(x[0].shape)
    return (1 - s) * target + s * 0.1 * torch.tanh(x)


def run_case(ms: ModelSampling, name: str, sigmas: Any, masked: bool) -> tuple[list[float], int]:
    noise = torch.randn([1, 16, 2, 2], generator=torch.Generator().manual_seed(5))
    latent = torch.linspace(-1, 1, noise.numel()).view(noise.shape)
    mask = None
    if masked:
        mask = torch.zeros([1, 16, 2, 2])
        mask[..., 0, :] = 1.0
    calls = []

    def model(x: Any, sigma: Any) -> Any:
        calls.append(1)
        return toy(x, sigma)

    algorithm, _ = solvers.solver(name)
    out = run_solver(ms, model, algorithm, sigmas, 11, noise, latent, mask, noise, lambda i, d, x: None)
    return values(out), len(calls)


RUNS = [key for key in FACTS["runs"] if not key.endswith("window")]


@pytest.mark.parametrize("key", RUNS)
def test_a_flow_models_sampler_run_is_real_comfyuis(key: str) -> None:
    arch, name, scheduler, steps, masked = key.split("|")
    ms = sampling_of(SD3 if arch == "sd3" else FLUX)
    out, calls = run_case(ms, name, sampling.schedule(scheduler, int(steps), ms), masked == "True")
    facts = FACTS["runs"][key]
    assert calls == facts["calls"]
    assert max(abs(a - b) for a, b in zip(out, facts["out"], strict=True)) <= 2e-6


@pytest.mark.parametrize("arch", ["sd3", "flux"])
def test_leftover_noise_is_scaled_back_as_real_does(arch: str) -> None:
    facts = FACTS["runs"][f"{arch}|euler|window"]
    out, calls = run_case(sampling_of(SD3 if arch == "sd3" else FLUX), "euler", torch.tensor(facts["sigmas"]), False)
    assert calls == facts["calls"]
    assert max(abs(a - b) for a, b in zip(out, facts["out"], strict=True)) <= 2e-6
