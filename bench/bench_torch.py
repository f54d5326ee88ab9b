"""Sampler steps per second, numpy executor vs torch executor, and the time of one txt2img.

    python bench/bench_torch.py [--sizes 512,1024] [--runs 3] [--cpu]

Each executor runs in-process (:class:`fakecomfy.testing.FakeComfy`) with its default directory
(stand-in models). The workload is ``fixtures/workflows/sd15_txt2img_api.json``: KSampler euler,
20 steps, cfg 8, batch 1, at each size, a new seed each run. Steps per second come from the
times of the sampler's ``progress`` messages (19 intervals between the first and the twentieth
step), so loading, decoding and saving are left out; the txt2img column is the whole prompt,
submit to history. Each figure is the median of ``--runs`` runs after one warm-up prompt. The
numpy executor computes no model (its KSampler only paces and previews), so its figure is the
engine's ceiling; the torch executor's is the stand-in denoiser's real tensor work on the
device its layer picks (``--cpu`` forces the CPU). Needs PyTorch for the torch rows; without it
the bench says so and exits.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fakecomfy.core import defaults  # noqa: E402
from fakecomfy.settings import Settings  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402

WORKFLOW = ROOT / "fixtures" / "workflows" / "sd15_txt2img_api.json"
STEPS = 20


def txt2img(size: int, seed: int) -> dict[str, Any]:
    graph: dict[str, Any] = json.loads(WORKFLOW.read_text(encoding="utf-8"))
    graph["5"]["inputs"].update(width=size, height=size, batch_size=1)
    graph["3"]["inputs"].update(seed=seed, steps=STEPS, sampler_name="euler", scheduler="normal")
    return graph


def run_once(comfy: FakeComfy, size: int, seed: int) -> tuple[float, float]:
    """(sampler steps per second, seconds for the whole prompt)."""
    start = time.perf_counter()
    prompt_id = comfy.submit(txt2img(size, seed))
    comfy.wait(prompt_id, timeout=600)
    elapsed = time.perf_counter() - start
    times = [m["time"] for m in comfy.messages("progress", prompt_id=prompt_id)
             if m["data"].get("node") == "3"]
    if len(times) != STEPS:
        raise RuntimeError(f"expected {STEPS} progress messages from the KSampler, got {len(times)}")
    return (STEPS - 1) / (times[-1] - times[0]), elapsed


def bench(executor: str, sizes: list[int], runs: int, cpu: bool) -> dict[int, tuple[float, float]]:
    out: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_torch") as base:
        defaults.populate(Path(base))
        settings = Settings(base_directory=Path(base), executor=executor, cpu=cpu, log_requests=False)
        with FakeComfy.start(settings) as comfy:
            for size in sizes:
                run_once(comfy, size, seed=0)  # warm-up: loads the model, fills the caches
                results = [run_once(comfy, size, seed=1 + i) for i in range(runs)]
                out[size] = (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results))
    return out


def device_line(cpu: bool) -> str:
    import torch

    from fakecomfy.executors.torch import devices

    device = devices.choose(cpu)
    return f"torch {torch.__version__} on {devices.device_name(device)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="512,1024", help="latent sizes in pixels (default 512,1024)")
    parser.add_argument("--runs", type=int, default=3, help="measured prompts per size (default 3)")
    parser.add_argument("--cpu", action="store_true", help="the torch executor on the CPU even with CUDA")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        print("bench_torch: skipped: PyTorch is not installed (pip install 'fakecomfy[torch]')")
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"KSampler euler, {STEPS} steps, batch 1; median of {args.runs}; {device_line(args.cpu)}")
    rows = {name: bench(name, sizes, args.runs, args.cpu) for name in ("numpy", "torch")}
    print(f"{'size':>6} {'numpy steps/s':>14} {'torch steps/s':>14} {'numpy txt2img s':>16} {'torch txt2img s':>16}")
    for size in sizes:
        (np_rate, np_time), (t_rate, t_time) = rows["numpy"][size], rows["torch"][size]
        print(f"{size:>6} {np_rate:>14.1f} {t_rate:>14.1f} {np_time:>16.3f} {t_time:>16.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
