"""The web frontend: ``/``, ``/extensions`` and the static files, served like a real ComfyUI.

With ``Settings.front_end_root`` (a folder) or ``Settings.front_end`` and the ``[ui]`` extra
installed (the official ``comfyui-frontend-package``, the workflow templates and the embedded
node docs, the versions ComfyUI 0.8.0 pins), the server answers what a real one does:

* ``/`` is the frontend's ``index.html`` with no-cache headers;
* ``/extensions`` lists every ``extensions/**/*.js`` under the web root, in the order Python's
  recursive glob walks it, as URLs from the root (fakecomfy loads no custom nodes, so there are
  no other entries);
* ``/templates/<file>`` is a template asset looked up by file name in the templates package's
  manifest (its ``index.json`` too), else a raised 404;
* ``/docs/…`` and everything else not routed are files under the docs folder and the web root:
  a directory is a raised 403, a path that climbs out of the folder a raised 404, a missing file
  an empty 404 (the file answer finds out only when it opens the file);
* file answers are like aiohttp's ``FileResponse``: a type guessed from the suffix with Python's
  own table, ``ETag`` from modification time and size, ``Last-Modified``, ranges, 304 on a
  matching ``If-None-Match`` or a fresh ``If-Modified-Since``;
* cache headers as ComfyUI's cache middleware sets them on what it returns: ``no-cache`` for
  ``.js``, ``.css`` and ``index*.json``, a day for images (an hour for a returned 404).

Without either, ``/`` is fakecomfy's own page (which says how to get the UI) and
``/extensions`` is empty. The ui packages are imported only here, when an app is built.
"""
from __future__ import annotations

import functools
import glob
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core.model import ComfyModel
from fakecomfy.settings import Settings
from fakecomfy.web.caching import cache_control_for
from fakecomfy.web.files import serve_file
from fakecomfy.web.responses import HTTPError, json_response, text
from fakecomfy.web.routing import Router
from fakecomfy.web.transport import TEXT_403, TEXT_404

log = logging.getLogger("fakecomfy")

# Where each package of the [ui] extra keeps its files.
FRONTEND_PACKAGE = "comfyui_frontend_package"
TEMPLATES_PACKAGE = "comfyui_workflow_templates"
DOCS_PACKAGE = "comfyui_embedded_docs"
UI_HINT = "pip install 'fakecomfy[ui]'"
# Before this version the templates package held one plain templates/ folder.
LEGACY_TEMPLATES_BEFORE = (0, 3, 0)

# What real ComfyUI adds to its index page: never cached.
INDEX_HEADERS = ((protocol.HEADER_CACHE_CONTROL, protocol.NO_CACHE), ("Pragma", "no-cache"), ("Expires", "0"))
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


@dataclass(frozen=True)
class Frontend:
    """Where the served files are: the web root, the template assets by file name (or a legacy
    templates folder) and the docs folder; each of the last three may be missing."""

    web_root: Path
    templates: Mapping[str, Path] | None = None
    legacy_templates: Path | None = None
    docs: Path | None = None


def _package_folder(package: str, sub: str) -> Path | None:
    try:
        folder = Path(str(resources.files(package) / sub))
    except ModuleNotFoundError:
        return None
    return folder if folder.is_dir() else None


def _version(text_version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text_version)[:3])


@functools.lru_cache(maxsize=1)
def _template_assets() -> tuple[Mapping[str, Path] | None, Path | None]:
    """(asset file → path, legacy folder): the templates package's manifest, read once per process."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("comfyui-workflow-templates")
    except PackageNotFoundError:
        return None, None
    if _version(installed) < LEGACY_TEMPLATES_BEFORE:
        return None, _package_folder(TEMPLATES_PACKAGE, "templates")
    try:
        import comfyui_workflow_templates as templates
    except ImportError:
        return None, None
    assets: dict[str, Path] = {}
    try:
        for entry in templates.iter_templates():
            for asset in entry.assets:
                assets[asset.filename] = Path(templates.get_asset_path(entry.template_id, asset.filename))
    except (KeyError, FileNotFoundError) as exc:  # a media bundle missing: no templates, like real
        log.error("fakecomfy: the workflow templates are incomplete (%s): /templates serves none", exc)
        return None, None
    return (assets or None), None


def locate(settings: Settings) -> Frontend | None:
    """The frontend ``settings`` asks for, or None for fakecomfy's own page."""
    if settings.front_end_root is not None:
        web_root = settings.front_end_root.resolve()
    elif settings.front_end:
        found = _package_folder(FRONTEND_PACKAGE, "static")
        if found is None:
            log.info("fakecomfy: no web frontend installed (%s serves the ComfyUI interface)", UI_HINT)
            return None
        web_root = found.resolve()
    else:
        return None
    assets, legacy = _template_assets()
    docs = _package_folder(DOCS_PACKAGE, "docs")
    return Frontend(web_root, assets, legacy.resolve() if legacy else None, docs.resolve() if docs else None)


def extension_scripts(web_root: Path) -> list[str]:
    """``/extensions``: the web root's ``extensions/**/*.js`` as root-relative URLs."""
    found = glob.glob(os.path.join(glob.escape(str(web_root)), "extensions/**/*.js"), recursive=True)
    return ["/" + os.path.relpath(f, web_root).replace(os.sep, "/") for f in found]


def file_answer(request: Request, path: Path, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """``path`` like aiohttp's FileResponse, with the cache header ComfyUI's middleware adds: it
    sees a 200 even where the file turns out missing (an empty 404 then)."""
    cache = cache_control_for(request.url.path, 200)
    extra = [*headers, (protocol.HEADER_CACHE_CONTROL, cache)] if cache is not None else list(headers)
    return serve_file(request, path, extra)


def remove_dot_segments(path: str) -> str:
    """RFC 3986's removal of ``.`` and ``..`` segments (other slashes kept), as yarl does to a
    request's raw path before aiohttp routes it."""
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out) if out != [""] else "/"


def _request_path(request: Request) -> str:
    """The decoded request path after the dot segments of the raw path are removed."""
    raw = request.scope.get("raw_path")
    raw_text = raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path
    if _DOT_SEGMENT.search(raw_text):
        raw_text = remove_dot_segments(raw_text)
    return urllib.parse.unquote(raw_text)


def static_file(request: Request, root: Path, filename: str) -> Response:
    """A file under ``root`` like aiohttp's static route (symlinks not followed out of it)."""
    try:
        target = (root / filename).resolve()
        target.relative_to(root)
    except (ValueError, OSError, RuntimeError):
        raise HTTPError(text(TEXT_404, 404)) from None
    try:
        is_dir = target.is_dir()
    except PermissionError:
        is_dir = True
    if is_dir:
        raise HTTPError(text(TEXT_403, 403))
    return file_answer(request, target)


def template_asset(request: Request, frontend: Frontend, name: str) -> Response:
    if frontend.legacy_templates is not None:
        return static_file(request, frontend.legacy_templates, name)
    target = frontend.templates.get(name) if frontend.templates else None
    if target is None:
        raise HTTPError(text(TEXT_404, 404))
    return file_answer(request, target)


def register(router: Router, model: ComfyModel) -> None:
    frontend = locate(model.settings)
    index_page = resources.files("fakecomfy").joinpath("data/index.html").read_bytes()

    async def root(request: Request) -> Response:
        if frontend is not None:
            return file_answer(request, frontend.web_root / "index.html", INDEX_HEADERS)
        # The type goes in as a header so starlette adds no charset (real sends bare text/html).
        return Response(index_page, headers={protocol.HEADER_CONTENT_TYPE: protocol.HTML_MEDIA,
                                              protocol.HEADER_CACHE_CONTROL: protocol.NO_CACHE})

    async def extensions(request: Request) -> Response:
        return json_response(extension_scripts(frontend.web_root) if frontend is not None else [])

    async def static(request: Request) -> Response | None:
        if frontend is None:
            return None
        path = _request_path(request)
        if path.startswith("/templates/") and (frontend.templates is not None or frontend.legacy_templates):
            return template_asset(request, frontend, path[len("/templates/"):])
        if frontend.docs is not None and (path == "/docs" or path.startswith("/docs/")):
            return static_file(request, frontend.docs, path[len("/docs/"):])
        return static_file(request, frontend.web_root, path[1:])

    router.add("GET", "/", root, api_alias=False)
    router.add("GET", "/extensions", extensions)
    router.static = static
