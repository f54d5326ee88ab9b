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

sys.argv = [sys.argv[0], "--cpu"]
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()
import comfy.k_diffusion.sampling as kds  # noqa: E402
import comfy.model_sampling as cms  # noqa: E402
import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import torch  # noqa: E402


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
    inner_model = SimpleNamespace(inner_model=SimpleNamespace(model_sampling=MS))

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kw: object) -> torch.Tensor:
        self.calls += 1
        return toy(x, sigma)


def values(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.flatten()]


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
    facts["samplers"] = runs
    out_path = Path(__file__).with_name("sampling_facts.json")
    out_path.write_text(json.dumps(facts, indent=0) + "\n")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
