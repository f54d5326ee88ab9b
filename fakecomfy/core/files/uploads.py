"""``POST /upload/image`` and ``/upload/mask``: ComfyUI's rename rule, and a mask upload's
composite of the original's RGB with the mask's alpha."""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakecomfy.core.files.locations import FileError, split_annotation, type_directory
from fakecomfy.core.paths import FolderPaths, is_within

MASK_COMPRESS_LEVEL = 4


@dataclass(frozen=True)
class FilePart:
    """A multipart part that carried a (non-empty) filename."""

    filename: str
    data: bytes


# A form value as aiohttp's ``request.post()`` gives it: a file, a text field or raw bytes.
FormValue = FilePart | str | bytes


@dataclass(frozen=True)
class UploadForm:
    """The fields of an upload; each is the first value sent under that name, None when absent."""

    image: FormValue | None = None
    overwrite: FormValue | None = None
    subfolder: FormValue | None = None
    type: FormValue | None = None
    original_ref: FormValue | None = None


@dataclass(frozen=True)
class UploadResult:
    name: str
    subfolder: str
    type: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "subfolder": self.subfolder, "type": self.type}


def store_upload(paths: FolderPaths, form: UploadForm, mask: bool) -> UploadResult:
    """Store an upload, renaming or deduplicating like ComfyUI; ``mask``: the mask upload's save.

    Quirk of ComfyUI: when a mask's original cannot be used (missing, ``..`` in its name, outside
    its directory) the answer is still the would-be name, and nothing is written.
    """
    kind = "input" if form.type is None else form.type
    if not isinstance(kind, str) or (upload_dir := type_directory(paths, kind)) is None:
        raise FileError(500, f"unknown upload type {kind!r}")
    image = form.image
    if not image:
        raise FileError(400, "no image part")
    if not isinstance(image, FilePart):
        # aiohttp hands a part without a filename over as text, which has no file to read.
        raise FileError(500, "the image part is not a file")
    subfolder = "" if form.subfolder is None else form.subfolder
    if not isinstance(subfolder, str):
        raise FileError(500, "subfolder is not text")
    filename = image.filename
    folder = os.path.join(upload_dir, os.path.normpath(subfolder))
    filepath = os.path.abspath(os.path.join(folder, filename))
    if not is_within(filepath, upload_dir):
        raise FileError(400, f"{filepath!r} is outside {upload_dir!r}")
    try:
        if not os.path.exists(folder):
            os.makedirs(folder)
        duplicate = False
        if form.overwrite not in ("true", "1"):
            stem, ext = os.path.splitext(filename)
            n = 1
            while os.path.exists(filepath):
                if Path(filepath).read_bytes() == image.data:
                    duplicate = True
                    break
                filename = f"{stem} ({n}){ext}"
                filepath = os.path.join(folder, filename)
                n += 1
        if not duplicate:
            if mask:
                _save_mask(paths, image.data, form.original_ref, filepath)
            else:
                Path(filepath).write_bytes(image.data)
    except (OSError, ValueError) as exc:  # ComfyUI lets these become a 500
        raise FileError(500, f"cannot store {filepath!r}: {exc}") from exc
    return UploadResult(filename, subfolder, kind)


# ---- the mask upload --------------------------------------------------------------------------
def _save_mask(paths: FolderPaths, mask: bytes, original_ref: FormValue | None, filepath: str) -> None:
    ref = _parse_original_ref(original_ref)
    original = _original_path(paths, ref)
    if original is None or not os.path.isfile(original):
        return
    try:
        _compose_mask(original, mask, filepath)
    except (OSError, ValueError) as exc:
        raise FileError(500, f"cannot combine {original!r} with the mask: {exc}") from exc


def _parse_original_ref(value: FormValue | None) -> dict[str, object]:
    if not isinstance(value, (str, bytes)):
        raise FileError(500, "original_ref is missing")
    try:
        ref = json.loads(value)
    except ValueError as exc:
        raise FileError(500, f"original_ref is not JSON: {exc}") from exc
    if not isinstance(ref, dict) or "filename" not in ref:
        raise FileError(500, f"expected original_ref to be an object with a filename, got {ref!r}")
    return ref


def _original_path(paths: FolderPaths, ref: dict[str, object]) -> str | None:
    """The original of a mask upload, or None where ComfyUI silently skips the save."""
    name = ref["filename"]
    if not isinstance(name, str):
        raise FileError(500, "original_ref.filename is not text")
    name, kind = split_annotation(name)
    if not name or name[0] == "/" or ".." in name:
        return None
    root = type_directory(paths, kind or str(ref.get("type", "output")))
    if root is None:
        return None
    subfolder = ref.get("subfolder", "")
    if subfolder != "":
        if not isinstance(subfolder, str):
            raise FileError(500, "original_ref.subfolder is not text")
        inner = os.path.join(root, subfolder)
        if not is_within(inner, root):
            return None
        root = inner
    return os.path.join(root, name)


def _compose_mask(original: str, mask: bytes, target: str) -> None:
    """RGB of ``original`` (its PNG text chunks kept) + alpha of the mask's RGBA form."""
    with Image.open(original) as src:
        info = PngInfo()
        for key, value in getattr(src, "text", {}).items():
            info.add_text(key, value)
        combined = src.convert("RGBA")
    with Image.open(io.BytesIO(mask)) as mask_img:
        alpha = mask_img.convert("RGBA").getchannel("A")
    combined.putalpha(alpha)
    # Like ComfyUI, the target's extension picks the format.
    combined.save(target, compress_level=MASK_COMPRESS_LEVEL, pnginfo=info)
