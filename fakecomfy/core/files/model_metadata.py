"""``GET /view_metadata/{folder}``: finding a model file by a client's name the way ComfyUI's
``folder_paths.get_full_path`` does, and reading the ``__metadata__`` of its safetensors header
with the same outcomes (404 where real answers an empty 404, 500 where its reading raises)."""
from __future__ import annotations

import json
import os
import struct
from typing import Any

from fakecomfy.core.files.locations import FileError
from fakecomfy.core.paths import FolderPaths

SAFETENSORS_SUFFIX = ".safetensors"
# ComfyUI reads at most this much safetensors header here; a longer one is an empty 404.
MAX_HEADER = 1024 * 1024
# Folder names ComfyUI still accepts for their renamed folders.
LEGACY_FOLDERS = {"unet": "diffusion_models", "clip": "text_encoders"}


def model_file(paths: FolderPaths, folder: str, name: str) -> str | None:
    """The first file ``name`` names in one of ``folder``'s directories, or None.

    Like ComfyUI, the name is rooted at ``/`` and taken relative to it, so leading slashes go
    and ``..`` cannot climb above the folder (``../checkpoints/x`` is ``checkpoints/x`` inside
    it); a name the file system refuses (too long, a NUL) is simply not found."""
    roots = paths.model_dirs.get(LEGACY_FOLDERS.get(folder, folder))
    if roots is None:
        return None
    relative = os.path.relpath(os.path.join("/", name), "/")
    for root in roots:
        candidate = os.path.join(root, relative)
        if os.path.isfile(candidate):  # False (not an error) for names the kernel refuses
            return candidate
    return None


def model_metadata(paths: FolderPaths, folder: str, filename: str | None) -> Any:
    """The ``__metadata__`` value of a model file's safetensors header (any JSON value).

    Raises FileError 404 where ComfyUI answers an empty 404 (no or a non-``.safetensors`` name,
    no such file, a header over 1 MiB, no ``__metadata__``) and 500 where its reading fails (a
    file shorter than the 8-byte length, a header that is not JSON)."""
    if filename is None or not filename.endswith(SAFETENSORS_SUFFIX):
        raise FileError(404, f"expected a {SAFETENSORS_SUFFIX} name, got {filename!r}")
    path = model_file(paths, folder, filename)
    if path is None:
        raise FileError(404, f"no {filename!r} in {folder!r}")
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > MAX_HEADER:
                raise FileError(404, f"{filename!r}: a header of {length} bytes is not read")
            header = json.loads(f.read(length))
    except (OSError, struct.error, ValueError) as exc:  # real lets these escape: a 500
        raise FileError(500, f"cannot read the header of {filename!r}: {exc}") from exc
    return _metadata_of(header, filename)


def _metadata_of(header: Any, filename: str) -> Any:
    """``header["__metadata__"]`` with ComfyUI's checks: ``in`` first (so a list or a string
    header is searched too), then the lookup; what cannot be searched or indexed is a 500."""
    try:
        if "__metadata__" not in header:
            raise FileError(404, f"{filename!r} has no __metadata__")
        return header["__metadata__"]
    except TypeError as exc:
        raise FileError(500, f"the header of {filename!r} is not an object: {exc}") from exc
