"""``GET /view``: find the file the query names, refusing traversal with ComfyUI's statuses,
and convert it as ``preview`` (``webp;Q``, ``jpeg;Q``) and ``channel`` (``rgb``, ``a``) ask."""
from __future__ import annotations

import io
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fakecomfy import protocol
from fakecomfy.core.files.locations import FileError, split_annotation, type_directory
from fakecomfy.core.paths import FolderPaths, is_within

# Media types /view never serves as such (ComfyUI forces a download instead).
FORCED_DOWNLOAD = frozenset(
    {"text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"}
)
# ComfyUI's /view guesses with Python's table as ``mimetypes.init()`` builds it (the system's
# mime.types files read), plus the two types its server registers at start. Kept apart from the
# process-wide table, which the fake leaves alone.
VIEW_TYPES = mimetypes.MimeTypes([f for f in mimetypes.knownfiles if os.path.isfile(f)])
VIEW_TYPES.add_type("application/javascript; charset=utf-8", ".js")
VIEW_TYPES.add_type("image/webp", ".webp")
PREVIEW_FORMATS = ("webp", "jpeg")
DEFAULT_PREVIEW_QUALITY = 90


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


def view_file(paths: FolderPaths, query: ViewQuery) -> ViewResult:
    """Find the file of a ``GET /view`` and convert it as ``preview``/``channel`` ask."""
    if query.filename is None:
        raise FileError(404, "no filename")
    filename, kind = split_annotation(query.filename)
    if not filename:
        raise FileError(400, "empty filename")
    if filename[0] == "/" or ".." in filename:
        raise FileError(400, f"refused filename {filename!r}")
    root = type_directory(paths, kind or (query.type if query.type is not None else "output"))
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
    media = VIEW_TYPES.guess_type(filename)[0] or protocol.OCTET_MEDIA
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
