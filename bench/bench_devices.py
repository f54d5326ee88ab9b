"""Simulated GPUs: how long the workflows users run take on each shipped profile, and what the
simulation costs a server that runs instantly.

    python bench/bench_devices.py [--scale 0.1] [-n 20]

Rows:

* per profile, txt2img (SD1.5, 512 px, 20 steps) and SDXL base + refiner (1024 px, 25 steps):
  the first run (checkpoints read from disk, models moved to the card) and a warm one (another
  seed), measured wall time at ``--scale`` and scaled back to the card's seconds;
* prompts per second of txt2img with a different seed each (so the sampler runs), without a
  profile and with ``rtx4090`` at time scale 0 (every byte accounted, no time spent): the cost of
  the accounting itself, next to the instant default.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

from fakecomfy.core import gpu_profiles
from fakecomfy.settings import Settings
from fakecomfy.testing import FakeComfy

WORKFLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def with_seed(workflow: dict[str, Any], seed: int) -> dict[str, Any]:
    graph = copy.deepcopy(workflow)
    for node in graph.values():
        for key in ("seed", "noise_seed"):
            if key in node["inputs"] and node["inputs"].get("add_noise", "enable") == "enable":
                node["inputs"][key] = seed
    return graph


def timed(fc: FakeComfy, workflow: dict[str, Any]) -> float:
    started = time.perf_counter()
    entry = fc.wait(fc.submit(workflow), timeout=600)
    if entry["status"]["status_str"] != "success":
        raise SystemExit(f"run failed: {entry['status']['messages'][-1]}")
    return time.perf_counter() - started


def profile_rows(scale: float) -> None:
    print(f"seconds on the card (measured at time scale {scale}, divided by it)")
    print(f"{'profile':<14}{'txt2img cold':>14}{'txt2img warm':>14}{'sdxl+refiner cold':>19}{'sdxl+refiner warm':>19}")
    for name in gpu_profiles.shipped():
        figures = []
        for workflow in (load("sd15_txt2img_api.json"), load("sdxl_refiner_api.json")):
            with FakeComfy.start(Settings(device_profile=name, device_time_scale=scale, log_requests=False)) as fc:
                figures += [timed(fc, with_seed(workflow, 1)) / scale, timed(fc, with_seed(workflow, 2)) / scale]
        print(f"{name:<14}{figures[0]:>14.2f}{figures[1]:>14.2f}{figures[2]:>19.2f}{figures[3]:>19.2f}")


def overhead_rows(n: int) -> None:
    workflow = load("sd15_txt2img_api.json")
    print("txt2img prompts/s, a new seed each (sequential, in-process client)")
    for label, settings in (("no profile", Settings(log_requests=False)),
                            ("rtx4090, time scale 0", Settings(device_profile="rtx4090", device_time_scale=0.0,
                                                               log_requests=False))):
        with FakeComfy.start(settings) as fc:
            timed(fc, with_seed(workflow, 0))
            started = time.perf_counter()
            for i in range(n):
                timed(fc, with_seed(workflow, i + 1))
            print(f"  {label:<24}{n / (time.perf_counter() - started):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="device time scale of the profile rows")
    parser.add_argument("-n", type=int, default=20, help="prompts of the overhead rows")
    args = parser.parse_args()
    profile_rows(args.scale)
    overhead_rows(args.n)


if __name__ == "__main__":
    main()
