"""Records real ComfyUI's bislerp and VAEEncodeForInpaint arithmetic as test facts.

Run with real's interpreter from its checkout (it imports ComfyUI; nothing of it is copied):
    cd /work/ref/ComfyUI && PYTHONPATH=. /work/ref/venv/bin/python /work/main/tests/torch/data/resize_record.py
It writes resize_facts.json beside this file; tests/torch/test_workflows.py compares with it.
VAEEncodeForInpaint runs with a VAE whose encoder hands back the pixels it was given, so the
facts are the pixels it would encode and its noise_mask.
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
import comfy.utils  # noqa: E402
import nodes  # noqa: E402
import torch  # noqa: E402

OUT = Path(__file__).parent / "resize_facts.json"
BISLERP_CASES: list[tuple[tuple[int, ...], int, int]] = [
    ((1, 4, 3, 5), 8, 6), ((2, 4, 4, 4), 6, 7), ((1, 4, 6, 6), 3, 4), ((1, 16, 2, 3), 5, 4)]
INPAINT_CASES: list[tuple[tuple[int, ...], int]] = [((1, 21, 19), 6), ((1, 20, 20), 0), ((2, 12, 17), 3)]


def bislerp_input(shape: tuple[int, ...], seed: int) -> Any:
    """Seeded normal cells, with a zero vector, a repeated one and an opposite one in the first row."""
    samples = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    samples[:, :, 0, 0] = 0
    samples[:, :, 0, 2] = -samples[:, :, 0, 1]
    return samples


def inpaint_input(shape: tuple[int, ...], seed: int) -> tuple[Any, Any]:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.rand((shape[0], shape[1] + 5, shape[2] + 3, 3), generator=generator)
    mask = (torch.rand(shape, generator=generator) > 0.8).float()
    return pixels, mask


def main() -> None:
    bislerp = []
    for seed, (shape, width, height) in enumerate(BISLERP_CASES):
        out = comfy.utils.bislerp(bislerp_input(shape, seed), width, height)
        bislerp.append({"shape": shape, "seed": seed, "width": width, "height": height, "out": out.tolist()})
    vae = SimpleNamespace(downscale_ratio=8, encode=lambda pixels: pixels)
    inpaint = []
    for seed, (mask_shape, grow) in enumerate(INPAINT_CASES):
        pixels, mask = inpaint_input(mask_shape, seed)
        latent = nodes.VAEEncodeForInpaint().encode(vae, pixels, mask, grow)[0]
        inpaint.append({"shape": mask_shape, "seed": seed, "grow_mask_by": grow, "encoded": latent["samples"].tolist(),
                        "noise_mask": latent["noise_mask"].tolist()})
    OUT.write_text(json.dumps({"torch": torch.__version__, "bislerp": bislerp, "inpaint": inpaint}) + "\n")


if __name__ == "__main__":
    main()
