"""The input, output and temp stores: uploads, the mask upload, /view lookups and conversions.

Paths are handled with ``os.path`` on strings on purpose: ComfyUI's traversal checks
(``normpath``, ``abspath``, ``commonpath``) decide what is refused, and ``pathlib`` normalises
differently. Errors are raised as :class:`FileError` carrying the status ComfyUI answers with.
"""
from __future__ import annotations

import io
import json
import mimetypes
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakecomfy import protocol
from fakecomfy.core.paths import FolderPaths, is_within

# Annotation suffixes of ComfyUI's ``annotated_filepath``, in the order it tests them.
ANNOTATIONS = ("output", "input", "temp")
# Media types /view never serves as such (ComfyUI forces a download instead).
FORCED_DOWNLOAD = frozenset(
    {"text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"}
)
PREVIEW_FORMATS = ("webp", "jpeg")
DEFAULT_PREVIEW_QUALITY = 90
MASK_COMPRESS_LEVEL = 4


class FileError(Exception):
    """An outcome ComfyUI answers with ``status`` (400, 403, 404 or 500) and an empty body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class SaveOutsideOutputError(Exception):
    """A ``filename_prefix`` that leaves the output folder.

    ComfyUI raises a bare ``Exception`` here, so report its type as ``Exception``.
    """


@dataclass(frozen=True)
class FilePart:
    """A multipart part that carried a (non-empty) filename."""

    filename: str
    data: bytes


# A form value as aiohttp's ``request.post()`` gives it: a file, a text field or raw bytes.
FormValue = Union[FilePart, str, bytes]


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


@dataclass(frozen=True)
class ViewQuery:
    """The query of ``GET /view``; None marks a parameter that was not sent."""

    filename: str | None = None
    type: str | None = None
    subfolder: str | None = None
    preview: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class ViewResult:
    """What /view sends: the file at ``path`` as is, or converted ``body`` bytes."""

    filename: str
    media_type: str
    path: Path | None = None
    body: bytes | None = None


@dataclass(frozen=True)
class SaveTarget:
    """Where a SaveImage-like node writes (ComfyUI's ``get_save_image_path``)."""

    folder: Path
    filename: str
    counter: int
    subfolder: str
    filename_prefix: str
    counter_key: tuple[str, str, str]  # where FileStore remembers the counter

    def write(self, name: str, data: bytes) -> None:
        """Create or replace ``name`` in the folder (plain os calls: no file object per image)."""
        fd = os.open(os.path.join(self.folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def split_annotation(name: str) -> tuple[str, str | None]:
    """``"x.png [input]"`` → ``("x.png", "input")``; an unannotated name gives ``(name, None)``."""
    for kind in ANNOTATIONS:
        suffix = f"[{kind}]"
        if name.endswith(suffix):
            # ComfyUI cuts one more character than the tag, assuming a space before it.
            return name[: -(len(suffix) + 1)], kind
    return name, None


_MAX_PLACES = 1024


class FileStore:
    """The input/output/temp directories of one server. Knows nothing about HTTP."""

    def __init__(self, paths: FolderPaths) -> None:
        self.paths = paths
        # SaveImage counters: (folder, filename, prefix tail) -> (folder mtime_ns, next counter).
        self._counters: dict[tuple[str, str, str], tuple[int | None, int]] = {}
        # (root, expanded prefix) -> where it saves, or why it cannot (pure string work, cached)
        self._places: dict[tuple[str, str], tuple[Path, str, str, str] | str] = {}

    # ---- directories ----------------------------------------------------------------------
    def directory(self, file_type: str) -> str | None:
        """Absolute directory of ``output``, ``input`` or ``temp``; None for anything else."""
        found = self.paths.type_dir(file_type)
        return None if found is None else str(found)

    def output_path(self, file_type: str, subfolder: str, filename: str) -> Path:
        """Where a result file named as in a node's UI output (type, subfolder, filename) lives."""
        root = self.directory(file_type)
        if root is None:
            raise ValueError(f"expected a file type in {ANNOTATIONS}, got {file_type!r}")
        return Path(os.path.join(root, subfolder, filename))

    # ---- what nodes read ------------------------------------------------------------------
    def annotated_path(self, name: str, default_type: str = "input") -> Path:
        """LoadImage's path for ``name`` (``"a.png [output]"`` picks the directory)."""
        name, kind = split_annotation(name)
        root = self.directory(kind or default_type) or str(self.paths.input)
        return Path(os.path.join(root, name))

    def annotated_exists(self, name: str) -> bool:
        """LoadImage's validation: does the annotated file (or directory) exist?"""
        return self.annotated_path(name).exists()

    def input_images(self) -> list[str]:
        """LoadImage's combo: files directly in input/ whose guessed media type is ``image/*``."""
        root = str(self.paths.input)
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            return []
        files = [n for n in names if os.path.isfile(os.path.join(root, n))]
        return sorted(n for n in files if _major_type(n) == "image")

    def save_image_path(self, filename_prefix: str, width: int = 0, height: int = 0,
                        file_type: str = "output") -> SaveTarget:
        """Expand ``filename_prefix`` and find the next free counter, like ComfyUI's SaveImage."""
        root = self.directory(file_type)
        if root is None:
            raise ValueError(f"expected a file type in {ANNOTATIONS}, got {file_type!r}")
        if "%" in filename_prefix:
            filename_prefix = _expand_prefix(filename_prefix, width, height)
        place = self._places.get((root, filename_prefix))
        if place is None:
            place = _place(root, filename_prefix)
            if len(self._places) >= _MAX_PLACES:
                self._places.clear()
            self._places[(root, filename_prefix)] = place
        if isinstance(place, str):
            raise SaveOutsideOutputError(place)
        folder_path, filename, subfolder, tail = place
        folder = str(folder_path)
        key = (folder, filename, tail)
        try:
            mtime: int | None = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            mtime, counter = None, 1
        else:
            known = self._counters.get(key)
            # Reuse the last answer while nobody else touched the folder (a scan is O(files)).
            counter = known[1] if known is not None and known[0] == mtime else \
                _next_counter(os.listdir(folder), filename, tail)
        self._counters[key] = (mtime, counter)
        return SaveTarget(folder_path, filename, counter, subfolder, filename_prefix, key)

    def saved(self, target: SaveTarget, names: list[str]) -> None:
        """Record files just written for ``target``, so the next counter needs no folder scan."""
        key = target.counter_key
        known = self._counters.get(key)
        if known is None:
            return
        best = max(known[1], _next_counter(names, target.filename, key[2]))
        try:
            self._counters[key] = (os.stat(target.folder).st_mtime_ns, best)
        except FileNotFoundError:
            self._counters.pop(key, None)

    # ---- uploads --------------------------------------------------------------------------
    def upload(self, form: UploadForm) -> UploadResult:
        """``POST /upload/image``: store the file, renaming or deduplicating like ComfyUI."""
        return self._upload(form, mask=False)

    def upload_mask(self, form: UploadForm) -> UploadResult:
        """``POST /upload/mask``: store original RGB + the mask's alpha as an RGBA PNG.

        Quirk of ComfyUI: when the original cannot be used (missing, ``..`` in its name, outside
        its directory) the answer is still the would-be name, and nothing is written.
        """
        return self._upload(form, mask=True)

    def _upload(self, form: UploadForm, mask: bool) -> UploadResult:
        kind = "input" if form.type is None else form.type
        if not isinstance(kind, str) or (upload_dir := self.directory(kind)) is None:
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
                    self._save_mask(image.data, form.original_ref, filepath)
                else:
                    Path(filepath).write_bytes(image.data)
        except (OSError, ValueError) as exc:  # ComfyUI lets these become a 500
            raise FileError(500, f"cannot store {filepath!r}: {exc}") from exc
        return UploadResult(filename, subfolder, kind)

    def _save_mask(self, mask: bytes, original_ref: FormValue | None, filepath: str) -> None:
        ref = _parse_original_ref(original_ref)
        original = self._original_path(ref)
        if original is None or not os.path.isfile(original):
            return
        try:
            _compose_mask(original, mask, filepath)
        except (OSError, ValueError) as exc:
            raise FileError(500, f"cannot combine {original!r} with the mask: {exc}") from exc

    def _original_path(self, ref: dict[str, object]) -> str | None:
        """The original of a mask upload, or None where ComfyUI silently skips the save."""
        name = ref["filename"]
        if not isinstance(name, str):
            raise FileError(500, "original_ref.filename is not text")
        name, kind = split_annotation(name)
        if not name or name[0] == "/" or ".." in name:
            return None
        root = self.directory(kind or str(ref.get("type", "output")))
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

    # ---- /view ----------------------------------------------------------------------------
    def view(self, query: ViewQuery) -> ViewResult:
        """Find the file of a ``GET /view`` and convert it as ``preview``/``channel`` ask."""
        if query.filename is None:
            raise FileError(404, "no filename")
        filename, kind = split_annotation(query.filename)
        if not filename:
            raise FileError(400, "empty filename")
        if filename[0] == "/" or ".." in filename:
            raise FileError(400, f"refused filename {filename!r}")
        root = self.directory(kind or (query.type if query.type is not None else "output"))
        if root is None:
            raise FileError(400, f"unknown type {query.type!r}")
        if query.subfolder is not None:
            inner = os.path.join(root, query.subfolder)
            if not is_within(inner, root):
                raise FileError(403, f"subfolder {query.subfolder!r} is outside {root!r}")
            root = inner
        filename = os.path.basename(filename)
        path = os.path.join(root, filename)
        if not os.path.isfile(path):
            raise FileError(404, f"no file {path!r}")
        try:
            return _serve(Path(path), filename, query)
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors on non-images
            raise FileError(500, f"cannot convert {path!r}: {exc}") from exc


# ---- conversions ------------------------------------------------------------------------------
def _serve(path: Path, filename: str, query: ViewQuery) -> ViewResult:
    channel = query.channel
    if query.preview is not None:
        return ViewResult(filename, *_preview(path, query.preview, channel or ""))
    if channel == "rgb":
        return ViewResult(filename, protocol.PNG_MEDIA, body=_rgb_png(path))
    if channel == "a":
        return ViewResult(filename, protocol.PNG_MEDIA, body=_alpha_png(path))
    media = mimetypes.guess_type(filename)[0] or protocol.OCTET_MEDIA
    if media in FORCED_DOWNLOAD:
        media = protocol.OCTET_MEDIA
    return ViewResult(filename, media, path=path)


def _preview(path: Path, preview: str, channel: str) -> tuple[str, None, bytes]:
    parts = preview.split(";")
    fmt = parts[0]
    if fmt not in PREVIEW_FORMATS or "a" in channel:
        fmt = "webp"
    quality = int(parts[-1]) if parts[-1].isdigit() else DEFAULT_PREVIEW_QUALITY
    with Image.open(path) as img:
        out: Image.Image = img
        if fmt == "jpeg" or channel == "rgb":
            out = img.convert("RGB")
        buffer = io.BytesIO()
        out.save(buffer, format=fmt, quality=quality)
    return protocol.IMAGE_MEDIA.format(format=fmt), None, buffer.getvalue()


def _rgb_png(path: Path) -> bytes:
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        buffer = io.BytesIO()
        rgb.save(buffer, format="PNG")
    return buffer.getvalue()


def _alpha_png(path: Path) -> bytes:
    """Black RGBA carrying only the source's alpha; sources not in RGBA mode count as opaque."""
    with Image.open(path) as img:
        alpha = img.getchannel("A") if img.mode == "RGBA" else Image.new("L", img.size, 255)
        out = Image.new("RGBA", img.size)
        out.putalpha(alpha)
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
    return buffer.getvalue()


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


# ---- helpers ----------------------------------------------------------------------------------
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


def _major_type(name: str) -> str | None:
    guessed = mimetypes.guess_type(name, strict=False)[0]
    return None if guessed is None else guessed.split("/")[0]


def _place(root: str, filename_prefix: str) -> tuple[Path, str, str, str] | str:
    """(folder, filename, subfolder, prefix tail) of a prefix under ``root``, or the error
    message for one that leaves it."""
    normalised = os.path.normpath(filename_prefix)
    subfolder, filename = os.path.dirname(normalised), os.path.basename(normalised)
    folder = os.path.join(root, subfolder)
    absolute = os.path.abspath(folder)
    common = os.path.commonpath((root, absolute))
    if common != root:
        return protocol.ERR_SAVE_OUTSIDE_OUTPUT.format(folder=absolute, output_dir=root, common=common)
    return Path(folder), filename, subfolder, os.path.basename(filename_prefix)


def _expand_prefix(prefix: str, width: int, height: int) -> str:
    now = time.localtime()
    values = {
        "%width%": str(width), "%height%": str(height), "%year%": str(now.tm_year),
        "%month%": f"{now.tm_mon:02d}", "%day%": f"{now.tm_mday:02d}",
        "%hour%": f"{now.tm_hour:02d}", "%minute%": f"{now.tm_min:02d}",
        "%second%": f"{now.tm_sec:02d}",
    }
    for token, value in values.items():
        prefix = prefix.replace(token, value)
    return prefix


def _next_counter(names: list[str], filename: str, prefix_tail: str) -> int:
    """One past the highest ``<filename>_<digits>_…`` counter among ``names`` (1 if none).

    Quirk of ComfyUI: names are cut at the length of the *raw* prefix's last segment, so a
    prefix such as ``trail/`` never matches and always restarts at 1.
    """
    width = len(prefix_tail)
    best = 0
    for name in names:
        head, rest = name[: width + 1], name[width + 1:]
        if os.path.normcase(head[:-1]) != os.path.normcase(filename) or head[-1:] != "_":
            continue
        try:
            digits = int(rest.split("_")[0])
        except ValueError:
            digits = 0
        best = max(best, digits)
    return best + 1
