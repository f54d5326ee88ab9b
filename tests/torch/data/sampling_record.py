"""Records real ComfyUI's noise, sigma schedules and sampler results as test facts.

Run with real's interpreter from its checkout (it imports ComfyUI; nothing of it is copied):
    cd /work/ref/ComfyUI && /work/ref/venv/bin/python /work/main/tests/torch/data/sampling_record.py
It writes sampling_facts.json beside this file; tests/torch/test_sampling*.py compare with it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.argv = [sys.argv[0], "--cpu"]
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()
import comfy.k_diffusion.sampling as kds  # noqa: E402
import comfy.model_sampling as cms  # noqa: E402
import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import torch  # noqa: E402
from comfy.extra_samplers import uni_pc  # noqa: E402
from comfy_extras import nodes_advanced_samplers as nas  # noqa: E402
from comfy_extras import nodes_custom_sampler as ncs  # noqa: E402


class SD15Sampling(cms.ModelSamplingDiscrete, cms.EPS):  # type: ignore[misc]
    pass


MS = SD15Sampling()


class Model:
    def get_model_object(self, name: str) -> object:
        return MS


def toy(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
    """A fixed denoiser to compare sampler algorithms with: shrinks x and bends it."""
    s = sigma.view(-1, 1, 1, 1)
    return x / (1 + s ** 2) + 0.05 * torch.tanh(x) * s / (1 + s)


class Toy:
    inner_model = SimpleNamespace(inner_model=SimpleNamespace(model_sampling=MS), model_patcher=Model())

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kw: object) -> torch.Tensor:
        self.calls += 1
        denoised = toy(x, sigma)
        options: dict[str, Any] = kw.get("model_options") or {}  # type: ignore[assignment]
        for post_cfg in options.get("sampler_post_cfg_function", []):
            denoised = post_cfg({"denoised": denoised, "uncond_denoised": toy_uncond(x, sigma)})
        return denoised


def toy_uncond(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The fixed denoiser's unconditional prediction, for the cfg++ samplers."""
    return x / (1 + sigma.view(-1, 1, 1, 1) ** 2)


def values(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.flatten()]


def custom_sigmas() -> dict[str, list[float]]:
    """The SIGMAS of the custom-sampling nodes, keyed by node and inputs."""
    out: dict[str, list[float]] = {}
    base = comfy.samplers.calculate_sigmas(MS, "karras", 6)
    for scheduler, steps, denoise in [("karras", 6, 1.0), ("normal", 10, 0.5), ("simple", 4, 0.0), ("beta", 3, 0.7)]:
        out[f"BasicScheduler|{scheduler}|{steps}|{denoise}"] = values(
            ncs.BasicScheduler.execute(Model(), scheduler, steps, denoise)[0])
    for steps, hi, lo, rho in [(5, 14.614642, 0.0291675, 7.0), (3, 10.0, 0.5, 3.0)]:
        out[f"KarrasScheduler|{steps}|{hi}|{lo}|{rho}"] = values(ncs.KarrasScheduler.execute(steps, hi, lo, rho)[0])
        out[f"ExponentialScheduler|{steps}|{hi}|{lo}"] = values(ncs.ExponentialScheduler.execute(steps, hi, lo)[0])
    for step in (0, 2, 6, 9):
        high, low = ncs.SplitSigmas.execute(base, step)[:2]
        out[f"SplitSigmas|{step}|high"], out[f"SplitSigmas|{step}|low"] = values(high), values(low)
    for denoise in (0.0, 0.5, 0.34, 1.0):
        high, low = ncs.SplitSigmasDenoise.execute(base, denoise)[:2]
        out[f"SplitSigmasDenoise|{denoise}|high"], out[f"SplitSigmasDenoise|{denoise}|low"] = values(high), values(low)
    out["FlipSigmas"] = values(ncs.FlipSigmas.execute(base.clone())[0])
    return out


# The Sampler* option nodes, by node and inputs, and the node's sampler on the fixed denoiser.
SAMPLER_NODES: list[tuple[str, dict[str, object]]] = [
    ("SamplerEulerAncestral", {"eta": 0.5, "s_noise": 0.8}),
    ("SamplerEulerAncestral", {"eta": 0.0, "s_noise": 1.0}),
    ("SamplerEulerAncestralCFGPP", {"eta": 0.6, "s_noise": 0.7}),
    ("SamplerLMS", {"order": 2}),
    ("SamplerDPMPP_2S_Ancestral", {"eta": 0.7, "s_noise": 1.2}),
    ("SamplerDPMPP_SDE", {"eta": 0.5, "s_noise": 0.9, "r": 0.3, "noise_device": "cpu"}),
    ("SamplerDPMPP_2M_SDE", {"solver_type": "heun", "eta": 0.6, "s_noise": 0.8, "noise_device": "gpu"}),
    ("SamplerDPMPP_2M_SDE", {"solver_type": "midpoint", "eta": 0.0, "s_noise": 1.0, "noise_device": "cpu"}),
    ("SamplerDPMPP_3M_SDE", {"eta": 0.4, "s_noise": 1.1, "noise_device": "cpu"}),
    ("SamplerEulerCFGpp", {"version": "regular"}),
    ("SamplerEulerCFGpp", {"version": "alternative"}),
    ("SamplerER_SDE", {"solver_type": "ER-SDE", "max_stage": 2, "eta": 1.0, "s_noise": 0.8}),
    ("SamplerER_SDE", {"solver_type": "Reverse-time SDE", "max_stage": 3, "eta": 0.5, "s_noise": 1.0}),
    ("SamplerER_SDE", {"solver_type": "Reverse-time SDE", "max_stage": 3, "eta": 0.0, "s_noise": 1.0}),
    ("SamplerER_SDE", {"solver_type": "ODE", "max_stage": 1, "eta": 1.0, "s_noise": 1.0}),
]


# Option nodes whose runs the solver tests check themselves (SamplerSASolver reads the model's sigmas;
# dpm_adaptive's attempts can outnumber the steps).
EXTRA_SAMPLER_NODES: list[tuple[str, dict[str, object]]] = [
    ("SamplerDPMAdaptative", {"order": 2, "rtol": 0.1, "atol": 0.01, "h_init": 0.2, "pcoeff": 0.1, "icoeff": 0.8,
                              "dcoeff": 0.05, "accept_safety": 0.9, "eta": 0.5, "s_noise": 0.9}),
    ("SamplerDPMAdaptative", {"order": 3, "rtol": 0.05, "atol": 0.0078, "h_init": 0.05, "pcoeff": 0.0, "icoeff": 1.0,
                              "dcoeff": 0.0, "accept_safety": 0.81, "eta": 0.0, "s_noise": 1.0}),
    ("SamplerSEEDS2", {"solver_type": "phi_2", "eta": 0.6, "s_noise": 0.8, "r": 0.4}),
    ("SamplerSEEDS2", {"solver_type": "phi_1", "eta": 0.0, "s_noise": 1.0, "r": 0.7}),
    ("SamplerSASolver", {"eta": 0.7, "sde_start_percent": 0.1, "sde_end_percent": 0.9, "s_noise": 1.1,
                         "predictor_order": 2, "corrector_order": 2, "use_pece": False, "simple_order_2": True}),
    ("SamplerSASolver", {"eta": 1.0, "sde_start_percent": 0.0, "sde_end_percent": 0.5, "s_noise": 1.0,
                         "predictor_order": 4, "corrector_order": 1, "use_pece": True, "simple_order_2": False}),
    ("SamplerSASolver", {"eta": 0.0, "sde_start_percent": 0.2, "sde_end_percent": 0.8, "s_noise": 1.0,
                         "predictor_order": 1, "corrector_order": 0, "use_pece": False, "simple_order_2": False}),
]


def sampler_node_runs(start: torch.Tensor, nodes: list[tuple[str, dict[str, object]]]) -> dict[str, object]:
    runs: dict[str, object] = {}
    sig = comfy.samplers.calculate_sigmas(MS, "karras", 6)
    for node, inputs in nodes:
        sampler = getattr(ncs, node, None) or getattr(nas, node)
        model_input = {"model": Model()} if node == "SamplerSASolver" else {}
        sampler = sampler.execute(**model_input, **inputs)[0]
        model = Toy()
        seen: list[int] = []
        out = sampler.sampler_function(model, start * sig[0], sig.clone(), extra_args={"seed": 11},
                                       callback=lambda d, seen=seen: seen.append(d["i"]), disable=True,
                                       **sampler.extra_options)
        runs[f"{node}|{json.dumps(inputs, sort_keys=True)}"] = {"out": values(out), "calls": model.calls,
                                                                "callbacks": seen}
    return runs


def main() -> None:
    facts: dict[str, object] = {}
    facts["noise"] = {
        f"{seed}|{shape}|{inds}": values(comfy.sample.prepare_noise(torch.zeros(shape), seed, inds))
        for seed, shape, inds in [(0, (1, 4, 8, 8), None), (42, (1, 4, 8, 8), None), (42, (2, 4, 4, 4), None),
                                  (7, (2, 4, 4, 4), [3, 1]), (2**32 + 5, (1, 4, 2, 2), None)]
    }
    facts["model_sigmas"] = values(MS.sigmas)
    sigmas = {}
    for scheduler in comfy.samplers.SCHEDULER_NAMES:
        for sampler, steps, denoise in [("euler", 20, 1.0), ("euler", 1, 1.0), ("euler", 7, 1.0), ("euler", 10, 0.6),
                                        ("dpm_2", 8, 1.0), ("uni_pc", 5, 0.5), ("euler", 3, 0.0)]:
            ks = comfy.samplers.KSampler(Model(), steps, "cpu", sampler=sampler, scheduler=scheduler, denoise=denoise)
            sigmas[f"{scheduler}|{sampler}|{steps}|{denoise}"] = values(ks.sigmas)
    facts["sigmas"] = sigmas
    runs = {}
    start = comfy.sample.prepare_noise(torch.zeros(1, 4, 4, 4), 3)
    for name in ["euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpmpp_2m",
                 "dpmpp_2s_ancestral", "lcm"]:
        for scheduler, steps in [("karras", 6), ("normal", 5)]:
            sig = comfy.samplers.calculate_sigmas(MS, scheduler, steps)
            model = Toy()
            seen: list[int] = []
            out = getattr(kds, f"sample_{name}")(model, start * sig[0], sig, extra_args={"seed": 11},
                                                 callback=lambda d, seen=seen: seen.append(d["i"]), disable=True)
            runs[f"{name}|{scheduler}|{steps}"] = {"out": values(out), "calls": model.calls, "callbacks": seen}
    for name, cases in [("dpmpp_sde", [("karras", 6), ("normal", 5)]), ("dpmpp_sde_gpu", [("karras", 6)]),
                        ("dpmpp_2m_sde", [("karras", 6), ("normal", 5), ("karras", 1)]),
                        ("dpmpp_2m_sde_gpu", [("karras", 6)]), ("dpmpp_2m_sde_heun", [("karras", 6)]),
                        ("dpmpp_3m_sde", [("karras", 6), ("normal", 5), ("karras", 2)]),
                        ("dpmpp_3m_sde_gpu", [("karras", 6)]),
                        ("uni_pc", [("karras", 6), ("normal", 5), ("karras", 3), ("karras", 2), ("normal", 1)]),
                        ("uni_pc_bh2", [("karras", 6), ("normal", 5), ("karras", 2)])]:
        if name.startswith("uni_pc"):
            sample = uni_pc.sample_unipc if name == "uni_pc" else uni_pc.sample_unipc_bh2
        else:
            sample = getattr(kds, f"sample_{name}")
        for scheduler, steps in cases:
            sig = comfy.samplers.calculate_sigmas(MS, scheduler, steps)
            model = Toy()
            seen = []
            out = sample(model, start * sig[0], sig.clone(), extra_args={"seed": 11},
                         callback=lambda d, seen=seen: seen.append(d["i"]), disable=True)
            runs[f"{name}|{scheduler}|{steps}"] = {"out": values(out), "calls": model.calls, "callbacks": seen}
    for name in ["dpm_fast", "heunpp2", "ddpm", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_ancestral",
                 "gradient_estimation", "er_sde", "euler_cfg_pp", "euler_ancestral_cfg_pp", "dpmpp_2m_cfg_pp",
                 "dpmpp_2s_ancestral_cfg_pp", "res_multistep_cfg_pp", "res_multistep_ancestral_cfg_pp",
                 "gradient_estimation_cfg_pp", "exp_heun_2_x0", "exp_heun_2_x0_sde", "dpm_adaptive", "seeds_2",
                 "seeds_3", "sa_solver", "sa_solver_pece"]:
        for scheduler, steps in [("karras", 6), ("normal", 5), ("karras", 2), ("karras", 1), ("karras", 9)]:
            sig = comfy.samplers.calculate_sigmas(MS, scheduler, steps)
            model = Toy()
            seen = []
            out = comfy.samplers.ksampler(name).sampler_function(
                model, start * sig[0], sig.clone(), extra_args={"seed": 11},
                callback=lambda d, seen=seen: seen.append(d["i"]), disable=True)
            group = "cfg_pp_samplers" if "cfg_pp" in name else "samplers"
            facts.setdefault(group, {})[f"{name}|{scheduler}|{steps}"] = {  # type: ignore[index]
                "out": values(out), "calls": model.calls, "callbacks": seen}
    facts["samplers"] = {**runs, **facts.get("samplers", {})}  # type: ignore[dict-item]
    facts["sampler_nodes"] = sampler_node_runs(start, SAMPLER_NODES)
    facts["extra_sampler_nodes"] = sampler_node_runs(start, EXTRA_SAMPLER_NODES)
    facts["custom_sigmas"] = custom_sigmas()
    out_path = Path(__file__).with_name("sampling_facts.json")
    out_path.write_text(json.dumps(facts, indent=0) + "\n")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
