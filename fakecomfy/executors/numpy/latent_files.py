"""``.latent`` files: ComfyUI's SaveLatent/LoadLatent format (safetensors with float tensors)."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fakecomfy.core.safetensors import SafetensorsError, read_header

LATENT_TENSOR = "latent_tensor"
# Present in files written by current ComfyUI; older files hold latents scaled by 0.18215.
FORMAT_VERSION_KEY = "latent_format_version_0"
LEGACY_SCALE = 0.18215

_DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8")}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


def latent_file_bytes(samples: np.ndarray, metadata: dict[str, str] | None) -> bytes:
    """The bytes SaveLatent writes for ``samples``: the tensor, the format marker, metadata."""
    tensors = {LATENT_TENSOR: np.ascontiguousarray(samples, dtype=np.float32),
               FORMAT_VERSION_KEY: np.zeros((0,), dtype=np.float32)}
    return safetensors_bytes(tensors, metadata)


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    header: dict[str, object] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = array.dtype.newbyteorder("<")
        raw = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": _NAMES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def read_tensors(path: Path) -> dict[str, np.ndarray]:
    """Every float tensor of a safetensors file, as float32 arrays."""
    header = read_header(path)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    data = raw[8 + length:]
    out: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise SafetensorsError(f"{path.name}: tensor {name!r} has unsupported dtype {entry.get('dtype')!r}")
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(entry["shape"]).astype(np.float32)
    return out


def load_latent_samples(path: Path) -> np.ndarray:
    """LoadLatent's samples: the stored tensor, rescaled for files of the old format."""
    tensors = read_tensors(path)
    samples = tensors[LATENT_TENSOR]
    if FORMAT_VERSION_KEY not in tensors:
        samples = samples * np.float32(1.0 / LEGACY_SCALE)
    return samples
