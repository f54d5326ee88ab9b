"""The workflows the how-to tests send: ComfyUI's default txt2img graph (node ids 3-9)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TXT2IMG = Path(__file__).resolve().parents[2] / "fixtures" / "workflows" / "sd15_txt2img_api.json"


def txt2img(steps: int = 20, size: int = 512, batch_size: int = 1, seed: int = 1) -> dict[str, Any]:
    """fixtures/workflows/sd15_txt2img_api.json with these sampler steps, size, batch and seed."""
    workflow: dict[str, Any] = json.loads(TXT2IMG.read_text(encoding="utf-8"))
    workflow["3"]["inputs"].update(steps=steps, seed=seed)
    workflow["5"]["inputs"].update(width=size, height=size, batch_size=batch_size)
    return workflow
