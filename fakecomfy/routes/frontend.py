"""The web frontend: ``/``, ``/extensions`` and the static files, served like a real ComfyUI.

With ``Settings.front_end_root`` (a folder) or ``Settings.front_end`` and the ``[ui]`` extra
installed (the official ``comfyui-frontend-package``, the workflow templates and the embedded
node docs, the versions ComfyUI 0.8.0 pins), the server answers what a real one does:

* ``/`` (and ``/api/``) is the frontend's ``index.html`` with no-cache headers;
* ``/extensions`` lists every ``extensions/**/*.js`` under the web root, in the order Python's
  recursive glob walks it, as URLs from the root (fakecomfy loads no custom nodes, so there are
  no other entries);
* ``/templates/<file>`` is a template asset looked up by file name in the templates package's
  manifest (its ``index.json`` too), else a raised 404;
* ``/docs/…`` and everything else not routed are files under the docs folder and the web root:
  a directory is a raised 403, a path that climbs out of the folder (``..`` segments are resolved
  with the folder, never removed first) a raised 404, a missing file an empty 404 (the file
  answer finds out only when it opens the file);
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
import posixpath
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
from fakecomfy.web.routing import Router, safe_path
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
# The templates route's pattern (a path parameter ``.*``: no newline), as aiohttp matches it.
_TEMPLATE_ROUTE = re.compile(r"/templates/(.*)")


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


def under_prefix(path: str, prefix: str) -> bool:
    """Whether aiohttp's static route at ``prefix`` takes ``path`` (decoded but for ``%2F`` and
    ``%25``): it compares the normalised path, so ``/docs/../index.html`` is the web root's."""
    norm = posixpath.normpath(path)
    return norm == prefix or norm.startswith(prefix + "/")


def name_under(path: str, prefix: str) -> str:
    """The file name a static route at ``prefix`` reads from ``path``: the rest, fully decoded,
    dot segments kept (the file lookup resolves them, so climbing above the folder is refused)."""
    return urllib.parse.unquote(path[len(prefix) + 1:])


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


def template_asset(request: Request, templates: Mapping[str, Path], name: str) -> Response:
    target = templates.get(name)
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
        # aiohttp resolves routes by the path decoded but for %2F and %25, never normalised
        path = safe_path(request.scope)
        if frontend.templates is not None and (found := _TEMPLATE_ROUTE.fullmatch(path)):
            return template_asset(request, frontend.templates, urllib.parse.unquote(found.group(1)))
        if frontend.legacy_templates is not None and under_prefix(path, "/templates"):
            return static_file(request, frontend.legacy_templates, name_under(path, "/templates"))
        if frontend.docs is not None and under_prefix(path, "/docs"):
            return static_file(request, frontend.docs, name_under(path, "/docs"))
        return static_file(request, frontend.web_root, name_under(path, ""))

    router.add("GET", "/", root)  # /api/ is the index too, like every route
    router.add("GET", "/extensions", extensions)
    router.static = static
