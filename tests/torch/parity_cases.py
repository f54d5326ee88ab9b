"""The model-free graphs whose saved pixels the torch executor shares with real ComfyUI.

Every case is a graph over :data:`INPUT_NAME` (a small RGBA picture with a soft alpha, made by
:func:`input_png`) ending in SaveImage nodes. ``python -m tests.torch.parity_cases record URL``
runs them on a real ComfyUI and stores the sha256 of each saved picture's pixels in
``data/parity.json``; ``test_parity.py`` runs them on the torch executor and compares.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DATA = Path(__file__).parent / "data"
RECORDED = DATA / "parity.json"
INPUT_NAME = "fakecomfy_torch_parity.png"
WIDTH, HEIGHT = 70, 54


def input_png() -> bytes:
    """A 70x54 RGBA picture: colour gradients, hard edges, a noisy patch and a radial alpha."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    rng = np.random.default_rng(1234)
    red = x / (WIDTH - 1)
    green = y / (HEIGHT - 1)
    blue = ((x // 9 + y // 7) % 2).astype(np.float64)
    rgb = np.stack([red, green, blue], axis=-1)
    rgb[10:30, 40:62] = rng.random((20, 22, 3))
    alpha = np.clip(1.3 - np.hypot(x - 30, y - 25) / 30, 0, 1)
    pixels = np.concatenate([rgb, alpha[..., None]], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray((pixels * 255).round().astype(np.uint8), "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _load() -> dict[str, Any]:
    return {"class_type": "LoadImage", "inputs": {"image": INPUT_NAME}}


def _save(source: list[Any]) -> dict[str, Any]:
    return {"class_type": "SaveImage", "inputs": {"images": source, "filename_prefix": "fctorchparity"}}


def _chain(*nodes: tuple[str, dict[str, Any]], slot: int = 0) -> dict[str, Any]:
    """LoadImage, then each (class_type, widgets) fed by the one before on ``image``-like input
    (the first input name of each widget dict's ``_in`` key), then SaveImage."""
    graph: dict[str, Any] = {"1": _load()}
    previous, out = "1", slot
    for number, (class_type, widgets) in enumerate(nodes, start=2):
        inputs = dict(widgets)
        name = inputs.pop("_in", "image")
        inputs[name] = [previous, out]
        graph[str(number)] = {"class_type": class_type, "inputs": inputs}
        previous, out = str(number), 0
    graph["99"] = _save([previous, 0])
    return graph


def _scale(method: str, width: int, height: int, crop: str = "disabled") -> dict[str, Any]:
    return _chain(("ImageScale", {"upscale_method": method, "width": width, "height": height, "crop": crop}))


CASES: dict[str, dict[str, Any]] = {
    "load": _chain(),
    **{f"scale_down_{m}": _scale(m, 41, 29) for m in ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")},
    **{f"scale_up_{m}": _scale(m, 123, 0) for m in ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")},
    "scale_center_crop": _scale("bilinear", 40, 40, "center"),
    "scale_by_bicubic": _chain(("ImageScaleBy", {"upscale_method": "bicubic", "scale_by": 1.37})),
    "invert": _chain(("ImageInvert", {})),
    "blur": _chain(("ImageBlur", {"blur_radius": 3, "sigma": 1.5})),
    "sharpen": _chain(("ImageSharpen", {"sharpen_radius": 2, "sigma": 1.0, "alpha": 0.7})),
    "alpha_mask": _chain(("MaskToImage", {"_in": "mask"}), slot=1),
    "mask_chain": _chain(("GrowMask", {"_in": "mask", "expand": 3, "tapered_corners": True}),
                         ("FeatherMask", {"_in": "mask", "left": 6, "top": 3, "right": 5, "bottom": 4}),
                         ("InvertMask", {"_in": "mask"}), ("MaskToImage", {"_in": "mask"}), slot=1),
    "threshold": _chain(("ImageToMask", {"channel": "green"}),
                        ("ThresholdMask", {"_in": "mask", "value": 0.4}), ("MaskToImage", {"_in": "mask"})),
    "load_image_mask": {
        "1": {"class_type": "LoadImageMask", "inputs": {"image": INPUT_NAME, "channel": "alpha"}},
        "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 0]}},
        "99": _save(["2", 0]),
    },
    "pad_for_outpaint": {
        "1": _load(),
        "2": {"class_type": "ImagePadForOutpaint",
              "inputs": {"image": ["1", 0], "left": 8, "top": 16, "right": 24, "bottom": 0, "feathering": 12}},
        "3": {"class_type": "MaskToImage", "inputs": {"mask": ["2", 1]}},
        "98": _save(["2", 0]),
        "99": _save(["3", 0]),
    },
    "composite_masked": {
        "1": _load(),
        "2": {"class_type": "EmptyImage", "inputs": {"width": 90, "height": 64, "batch_size": 1, "color": 0x2288CC}},
        "3": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bilinear",
                                                      "width": 50, "height": 40, "crop": "disabled"}},
        "4": {"class_type": "ImageCompositeMasked", "inputs": {"destination": ["2", 0], "source": ["3", 0],
                                                                "x": 51, "y": 29, "resize_source": False,
                                                                "mask": ["1", 1]}},
        "99": _save(["4", 0]),
    },
    "composite_resized_batch": {
        "1": _load(),
        "2": {"class_type": "EmptyImage", "inputs": {"width": 33, "height": 47, "batch_size": 2, "color": 0xF0A010}},
        "3": {"class_type": "ImageCompositeMasked", "inputs": {"destination": ["2", 0], "source": ["1", 0],
                                                                "x": 0, "y": 0, "resize_source": True}},
        "4": {"class_type": "ImageBatch", "inputs": {"image1": ["3", 0], "image2": ["1", 0]}},
        "99": _save(["4", 0]),
    },
}


def pixel_digest(png: bytes) -> str:
    """The sha256 of a PNG's decoded pixels, with its mode and size (metadata ignored)."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        head = f"{image.mode} {image.size[0]}x{image.size[1]} ".encode()
        return hashlib.sha256(head + image.tobytes()).hexdigest()


# ---- recording against a real ComfyUI -------------------------------------------------------------
def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=60) as r:
        body: bytes = r.read()
        return body


def _upload(base: str) -> None:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{INPUT_NAME}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + input_png() + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n"
        f"--{boundary}--\r\n").encode()
    _request(base + "/upload/image", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def _run(base: str, graph: dict[str, Any]) -> list[str]:
    answer = json.loads(_request(base + "/prompt", json.dumps({"prompt": graph}).encode(),
                                 {"Content-Type": "application/json"}))
    prompt_id = answer["prompt_id"]
    for _ in range(600):
        history = json.loads(_request(f"{base}/history/{prompt_id}")).get(prompt_id)
        if history and history.get("status", {}).get("completed") is not None:
            break
        time.sleep(0.1)
    if not history["status"]["completed"]:
        raise RuntimeError(f"prompt failed: {history['status']}")
    digests = []
    for node_id in sorted(history["outputs"]):
        for image in history["outputs"][node_id].get("images", []):
            query = urllib.parse.urlencode({k: image[k] for k in ("filename", "subfolder", "type")})
            digests.append(pixel_digest(_request(f"{base}/view?{query}")))
    return digests


def record(base: str) -> None:
    _upload(base)
    recorded = {name: _run(base, graph) for name, graph in CASES.items()}
    RECORDED.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"] or len(sys.argv) != 3:
        sys.exit("usage: python -m tests.torch.parity_cases record URL")
    record(sys.argv[2].rstrip("/"))
