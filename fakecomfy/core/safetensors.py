"""Reading safetensors headers (never weights): tensor names, shapes and ``__metadata__``."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

# A header larger than this is not a header we trust (real files stay far below it).
MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file."""


def read_header(path: Path, max_header: int = MAX_HEADER_BYTES) -> dict[str, Any]:
    """The JSON header of a safetensors file: tensor entries plus an optional ``__metadata__``."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise SafetensorsError(f"{path.name}: too short for a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length <= 0 or length > max_header:
            raise SafetensorsError(f"{path.name}: header length {length} is not plausible")
        raw = f.read(length)
    if len(raw) < length:
        raise SafetensorsError(f"{path.name}: header is truncated")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsError(f"{path.name}: header is not JSON") from exc
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path.name}: header is not an object")
    return header


def read_metadata(path: Path, max_header: int = MAX_HEADER_BYTES) -> dict[str, Any] | None:
    """``__metadata__`` of a safetensors file, or None when absent or unreadable."""
    try:
        meta = read_header(path, max_header).get("__metadata__")
    except (OSError, SafetensorsError):
        return None
    return meta if isinstance(meta, dict) else None


def tensor_names(path: Path) -> list[str]:
    return [k for k in read_header(path) if k != "__metadata__"]


def build_file(tensors: dict[str, list[int]], metadata: dict[str, str] | None = None) -> bytes:
    """A valid safetensors file of zero-filled F16 tensors (used for stand-in model files)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, shape in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + 2 * count]}
        offset += 2 * count
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + b"\0" * offset
