"""Records real ComfyUI's flow-model sampling facts (SD3, AuraFlow, Flux) as test data.

Run with real's interpreter from its checkout (it imports ComfyUI; nothing of it is copied):
    cd /work/ref/ComfyUI && PYTHONPATH=. /work/ref/venv/bin/python /work/main/tests/torch/data/flow_record.py
It writes flow_facts.json beside this file; tests/torch/test_flow.py compares with it: the model
samplings' sigmas and schedules, CONST noise scaling, the latent formats, and whole KSAMPLER runs
(noise scaling, solver, inverse scaling, inpaint mask) on a fixed denoiser; the samplers that
switch their maths on flow models, SamplerLCMUpscale and BasicScheduler, as a few values each.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

sys.argv = [sys.argv[0], "--cpu"]
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()
import comfy.latent_formats as lf  # noqa: E402
import comfy.model_sampling as cms  # noqa: E402
import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import torch  # noqa: E402
from comfy_extras import nodes_advanced_samplers as nas  # noqa: E402
from comfy_extras import nodes_custom_sampler as ncs  # noqa: E402
from comfy_extras import nodes_model_advanced as nma  # noqa: E402


class Flow(cms.ModelSamplingDiscreteFlow, cms.CONST):  # type: ignore[misc]
    pass


class Flux(cms.ModelSamplingFlux, cms.CONST):  # type: ignore[misc]
    pass


class Patcher:
    """Just enough of a ModelPatcher for the ModelSampling* nodes and KSampler's sigmas."""

    def __init__(self, ms: object = None) -> None:
        self.model = SimpleNamespace(model_config=SimpleNamespace(sampling_settings={}))
        self.ms = ms

    def clone(self) -> Patcher:
        return Patcher(self.ms)

    def add_object_patch(self, name: str, value: object) -> None:
        self.ms = value

    def get_model_object(self, name: str) -> object:
        return self.ms


def config(settings: dict[str, float]) -> SimpleNamespace:
    return SimpleNamespace(sampling_settings=settings)


def samplings() -> dict[str, object]:
    """Each model's default sampling (supported_models' settings) and the nodes' samplings."""
    return {
        "sd3": Flow(config({"shift": 3.0})),
        "flux": Flux(config({})),
        "flux_schnell": Flow(config({"multiplier": 1.0, "shift": 1.0})),
        "ModelSamplingSD3|2.5": nma.ModelSamplingSD3().patch(Patcher(), 2.5)[0].ms,
        "ModelSamplingAuraFlow|1.73": nma.ModelSamplingAuraFlow().patch_aura(Patcher(), 1.73)[0].ms,
        "ModelSamplingFlux|1.15|0.5|1024|1024": nma.ModelSamplingFlux().patch(Patcher(), 1.15, 0.5, 1024, 1024)[0].ms,
        "ModelSamplingFlux|2.0|0.3|768|512": nma.ModelSamplingFlux().patch(Patcher(), 2.0, 0.3, 768, 512)[0].ms,
    }


def values(t: torch.Tensor) -> list[float]:
    return [float(v) for v in torch.as_tensor(t).flatten()]


def toy(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
    """A fixed denoiser for flow models: pulls x towards a fixed pattern."""
    s = sigma.view(-1, 1, 1, 1)
    target = torch.linspace(-0.5, 0.5, x[0].numel()).view(x[0].shape)
    return (1 - s) * target + s * 0.1 * torch.tanh(x)


class Wrapped:
    """The model wrapper KSAMPLER samples through: the fixed denoiser and the model's sampling."""

    def __init__(self, ms: object) -> None:
        def scale_latent_inpaint(sigma: torch.Tensor, noise: torch.Tensor, latent_image: torch.Tensor,
                                 **_: object) -> torch.Tensor:
            shaped = sigma.reshape([sigma.shape[0]] + [1] * (noise.ndim - 1))
            return ms.noise_scaling(shaped, noise, latent_image)  # type: ignore[attr-defined]

        self.inner_model = SimpleNamespace(model_sampling=ms, scale_latent_inpaint=scale_latent_inpaint)
        self.model_patcher = Patcher(ms)
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        self.calls += 1
        return toy(x, sigma)


def sample_noise(seed: int) -> torch.Tensor:
    return torch.randn([1, 16, 2, 2], generator=torch.Generator().manual_seed(seed))


def run_ksampler(ms: object, name: str, sigmas: torch.Tensor, mask: torch.Tensor | None) -> dict[str, object]:
    """Real's KSAMPLER.sample: noise scaling, the sampler, inverse scaling, the inpaint mask."""
    wrapped = Wrapped(ms)
    noise = sample_noise(5)
    latent = torch.linspace(-1, 1, noise.numel()).view(noise.shape)
    sampler = comfy.samplers.sampler_object(name)
    out = sampler.sample(wrapped, sigmas.clone(), {"seed": 11}, None, noise, latent, mask, True)
    return {"out": values(out), "calls": wrapped.calls}


FLOW_SAMPLERS = ["euler_ancestral", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde",
                 "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "er_sde", "res_multistep", "seeds_2", "seeds_3",
                 "exp_heun_2_x0_sde", "sa_solver", "sa_solver_pece", "lcm"]
LATENT = torch.linspace(-1, 1, 64).view(1, 16, 2, 2)


def brief(out: torch.Tensor, calls: int) -> dict[str, object]:
    """A run's output in a few numbers: its shape, first values, sum and absolute sum."""
    return {"shape": list(out.shape), "head": values(out.flatten()[:4]), "sum": float(out.sum()),
            "abs": float(out.abs().sum()), "calls": calls}


def solver_runs(models: dict[str, object]) -> dict[str, object]:
    """Each flow-switching sampler on sd3 and flux: from sigma 1 (the first sigma offset) and
    from inside the schedule; SamplerLCMUpscale after prepare_noise seeded the global generator."""
    runs: dict[str, object] = {}
    for key in ("sd3", "flux"):
        ms = models[key]
        full = comfy.samplers.calculate_sigmas(ms, "simple", 5)
        for name in FLOW_SAMPLERS:
            for where, sigmas in (("full", full), ("window", full[1:])):
                wrapped = Wrapped(ms)
                out = comfy.samplers.sampler_object(name).sample(wrapped, sigmas.clone(), {"seed": 11}, None,
                                                                 sample_noise(5), LATENT, None, True)
                runs[f"{key}|{name}|{where}"] = brief(out, wrapped.calls)
        for ratio, steps, method in ((2.0, -1, "bislerp"), (1.5, 2, "bilinear")):
            wrapped = Wrapped(ms)
            noise = comfy.sample.prepare_noise(LATENT, 7)  # seeds torch's global generator, as real's
            sampler = nas.SamplerLCMUpscale().execute(ratio, steps, method).args[0]
            out = sampler.sample(wrapped, full.clone(), {"seed": 7}, None, noise, LATENT, None, True)
            runs[f"{key}|lcm_upscale|{ratio}|{steps}|{method}"] = brief(out, wrapped.calls)
        for scheduler, steps, denoise in (("simple", 5, 1.0), ("beta", 6, 0.5), ("normal", 4, 0.75)):
            sigmas = ncs.BasicScheduler().execute(Patcher(ms), scheduler, steps, denoise).args[0]
            runs[f"{key}|BasicScheduler|{scheduler}|{steps}|{denoise}"] = values(sigmas)
    return runs


def main() -> None:
    facts: dict[str, object] = {}
    models = samplings()
    table: dict[str, object] = {}
    for key, ms in models.items():
        entry: dict[str, object] = {
            "sigma_min": float(ms.sigma_min), "sigma_max": float(ms.sigma_max),  # type: ignore[attr-defined]
            "count": len(ms.sigmas), "head": values(ms.sigmas[:3]), "tail": values(ms.sigmas[-3:]),  # type: ignore[attr-defined]
            "timestep": values(ms.timestep(torch.tensor([0.9, 0.5, 0.01]))),  # type: ignore[attr-defined]
        }
        for scheduler in comfy.samplers.SCHEDULER_NAMES:
            for steps in (4, 9):
                entry[f"{scheduler}|{steps}"] = values(comfy.samplers.calculate_sigmas(ms, scheduler, steps))
        for sampler, steps, denoise in [("euler", 10, 0.6), ("dpm_2", 6, 1.0)]:
            ks = comfy.samplers.KSampler(Patcher(ms), steps, "cpu", sampler=sampler, scheduler="simple",
                                         denoise=denoise)
            entry[f"ksampler|simple|{sampler}|{steps}|{denoise}"] = values(ks.sigmas)
        table[key] = entry
    facts["samplings"] = table
    sd3 = models["sd3"]
    noise, latent = sample_noise(1), sample_noise(2)
    facts["noise_scaling"] = {
        "noise": values(noise), "latent": values(latent),
        "scaled|0.8": values(sd3.noise_scaling(torch.tensor(0.8), noise, latent)),  # type: ignore[attr-defined]
        "inverse|0.25": values(sd3.inverse_noise_scaling(torch.tensor(0.25), latent)),  # type: ignore[attr-defined]
    }
    formats = {"sd15": lf.SD15(), "sdxl": lf.SDXL(), "sd3": lf.SD3(), "flux": lf.Flux()}
    facts["latent_formats"] = {
        name: {"channels": fmt.latent_channels, "in": values(fmt.process_in(latent)),
               "out": values(fmt.process_out(latent))}
        for name, fmt in formats.items()
    }
    mask = torch.zeros([1, 16, 2, 2])
    mask[..., 0, :] = 1.0
    runs: dict[str, object] = {}
    for key in ("sd3", "flux"):
        for name, scheduler, steps, masked in [("euler", "simple", 5, False), ("heun", "normal", 4, False),
                                               ("dpmpp_2m", "beta", 6, False), ("euler", "simple", 4, True)]:
            sigmas = comfy.samplers.calculate_sigmas(models[key], scheduler, steps)
            runs[f"{key}|{name}|{scheduler}|{steps}|{masked}"] = run_ksampler(
                models[key], name, sigmas, mask if masked else None)
        sigmas = comfy.samplers.calculate_sigmas(models[key], "simple", 6)[2:]  # leftover noise at the end too
        runs[f"{key}|euler|window"] = {"sigmas": values(sigmas[:-1]),
                                       **run_ksampler(models[key], "euler", sigmas[:-1], None)}
    facts["runs"] = runs
    facts["flow_solvers"] = solver_runs(models)
    out_path = Path(__file__).with_name("flow_facts.json")
    out_path.write_text(json.dumps(facts, indent=0) + "\n")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
