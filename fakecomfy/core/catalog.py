"""The node catalog: ComfyUI 0.8.0's node definitions, captured extras, and live file lists.

The built-in definitions come from ``fakecomfy/data/core_nodes.json`` (built by
``tools/build_catalog.py``). Combo inputs that real ComfyUI fills from directories (checkpoints,
LoRAs, the input folder's images, ...) are stored empty there and named in its ``live_inputs``
table; they are filled here from the server's own directories each time they are asked for,
the way ComfyUI rebuilds them on every ``/object_info``.
"""
from __future__ import annotations

import copy
import functools
import json
import mimetypes
import os
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from fakecomfy.core.paths import FolderPaths

NodeDef = dict[str, Any]
# class_type -> {input name -> live source name}
LiveTable = dict[str, dict[str, str]]

DATA_FILE = "data/core_nodes.json"
_MODELS_PREFIX = "models/"


class CatalogError(ValueError):
    """A captured ``/object_info`` file that cannot be used."""


# ---- the built-in catalog --------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def builtin() -> tuple[dict[str, NodeDef], LiveTable]:
    """The built-in node definitions and live-input table, read once per process.

    Shared by every catalog: treat both as read-only.
    """
    data = json.loads(resources.files("fakecomfy").joinpath(DATA_FILE).read_text(encoding="utf-8"))
    return data["nodes"], data["live_inputs"]


@functools.lru_cache(maxsize=1)
def _builtin_fragments() -> dict[str, str]:
    """Each built-in definition serialised once per process (live lists still empty)."""
    return {name: json.dumps(node) for name, node in builtin()[0].items()}


def load_captured(path: Path) -> dict[str, NodeDef]:
    """The node definitions of a captured ``/object_info`` JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read captured /object_info {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a JSON object of node definitions, found {type(data).__name__}")
    for name, node in data.items():
        if not isinstance(node, dict) or not isinstance(node.get("input"), dict):
            raise CatalogError(f"{path}: node {name!r} has no 'input' object; expected an /object_info capture")
    return data


# ---- live file lists ---------------------------------------------------------------------------
# ComfyUI's filter_files_content_types: the MIME major type by extension, cached per extension
# (case-sensitive, first answer wins), seeded with the two types it knows better than mimetypes.
_content_types: dict[str, str] = {"webp": "image", "fbx": "model"}


def content_type(filename: str) -> str | None:
    extension = filename.split(".")[-1]
    known = _content_types.get(extension)
    if known is None:
        mime, _ = mimetypes.guess_type(filename, strict=False)
        if not mime:
            return None
        known = _content_types[extension] = mime.split("/")[0]
    return known


# ComfyUI's VAELoader offers these when both halves sit in vae_approx.
_IMAGE_TAES = (("taesd", "taesd_encoder.", "taesd_decoder."), ("taesdxl", "taesdxl_encoder.", "taesdxl_decoder."),
               ("taesd3", "taesd3_encoder.", "taesd3_decoder."), ("taef1", "taef1_encoder.", "taef1_decoder."))
# ...and any vae_approx file starting with one of these video decoders, as it is.
_VIDEO_TAES = ("taehv", "lighttaew2_2", "lighttaew2_1", "lighttaehy1_5")
_MODEL_3D_SUFFIXES = frozenset({".gltf", ".glb", ".obj", ".fbx", ".stl"})
_DOCUMENT_SUFFIXES = (".txt", ".pdf")
MIB = 1024 * 1024


class _Scan:
    """One look at the directories behind the live lists, shared by every list built from it."""

    def __init__(self, paths: FolderPaths) -> None:
        self.paths = paths
        self._models: dict[str, list[str]] = {}
        self._top: list[os.DirEntry[str]] | None = None

    def models(self, folder: str) -> list[str]:
        if folder not in self._models:
            self._models[folder] = self.paths.list_models(folder)
        return self._models[folder]

    def input_entries(self) -> list[os.DirEntry[str]]:
        """The top level of the input directory (ComfyUI lists only that for its loaders)."""
        if self._top is None:
            try:
                with os.scandir(self.paths.input) as it:
                    self._top = list(it)
            except OSError:
                self._top = []
        return self._top

    def input_files(self) -> Iterator[os.DirEntry[str]]:
        return (e for e in self.input_entries() if e.is_file())


def _vae_loader(scan: _Scan) -> list[str]:
    vaes = list(scan.models("vae"))
    approx = scan.models("vae_approx")
    for name in approx:
        if not any(name.startswith(p) for _, *halves in _IMAGE_TAES for p in halves) \
                and name.startswith(_VIDEO_TAES):
            vaes.append(name)
    for tae, encoder, decoder in _IMAGE_TAES:
        if any(a.startswith(encoder) for a in approx) and any(a.startswith(decoder) for a in approx):
            vaes.append(tae)
    vaes.append("pixel_space")
    return vaes


def _diffusers(scan: _Scan) -> list[str]:
    # Directories holding a model_index.json, relative to their diffusers root. ComfyUI keeps
    # os.walk's order, which depends on the file system; this walks in sorted order.
    found: list[str] = []
    for root in scan.paths.model_dirs.get("diffusers", []):
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames.sort()
            if "model_index.json" in filenames:
                found.append(os.path.relpath(dirpath, root).replace(os.sep, "/"))
    return found


def _input_3d(scan: _Scan) -> list[str]:
    # Load3D: anything under input/3d with a 3D model suffix, as a path relative to input/.
    base = scan.paths.input
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base / "3d"):
        for name in dirnames + filenames:
            if os.path.splitext(name)[1].lower() in _MODEL_3D_SUFFIXES:
                found.append(os.path.relpath(os.path.join(dirpath, name), base).replace(os.sep, "/"))
    return sorted(found)


def _input_subfolders(scan: _Scan) -> list[str]:
    base = scan.paths.input
    found: list[str] = []
    for dirpath, _dirnames, _filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        if rel != ".":
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def _documents(limit: int) -> Callable[[_Scan], list[str]]:
    # The OpenAI and Gemini file nodes: top-level .txt and .pdf files under a size limit.
    def source(scan: _Scan) -> list[str]:
        return sorted(e.name for e in scan.input_files()
                      if e.name.endswith(_DOCUMENT_SUFFIXES) and e.stat().st_size < limit)

    return source


def _by_content(*kinds: str, files_only: bool = True) -> Callable[[_Scan], list[str]]:
    def source(scan: _Scan) -> list[str]:
        entries = scan.input_files() if files_only else iter(scan.input_entries())
        return sorted(e.name for e in entries if content_type(e.name) in kinds)

    return source


LIVE_SOURCES: dict[str, Callable[[_Scan], list[str]]] = {
    "vae_loader": _vae_loader,
    "loras_or_none": lambda scan: [*scan.models("loras"), "[None]"],
    "diffusers": _diffusers,
    "input_images": _by_content("image"),
    "input_files": lambda scan: sorted(e.name for e in scan.input_files()),
    "input_videos": _by_content("video"),
    "input_audio": _by_content("audio", "video", files_only=False),  # LoadAudio skips no directory
    "input_latents": lambda scan: sorted(e.name for e in scan.input_files() if e.name.endswith(".latent")),
    "input_3d": _input_3d,
    "input_subfolders": _input_subfolders,
    "input_documents_32mb": _documents(32 * MIB),
    "input_documents_20mb": _documents(20 * MIB),
}
# Sources whose combo defaults to its first entry (and has no default when empty).
_DEFAULT_FIRST = frozenset({"input_documents_32mb", "input_documents_20mb"})


def live_list(source: str, scan: _Scan) -> list[str]:
    if source.startswith(_MODELS_PREFIX):
        return scan.models(source[len(_MODELS_PREFIX):])
    return LIVE_SOURCES[source](scan)


def is_known_source(source: str, paths: FolderPaths) -> bool:
    if source.startswith(_MODELS_PREFIX):
        return source[len(_MODELS_PREFIX):] in paths.model_dirs
    return source in LIVE_SOURCES


def _is_combo(spec: Any) -> bool:
    if not isinstance(spec, list) or not spec:
        return False
    if isinstance(spec[0], list):
        return True
    return spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict) and "options" in spec[1]


def _live_inputs_of(node: NodeDef, inputs: dict[str, str], paths: FolderPaths) -> dict[str, str]:
    """The inputs of ``node`` that are combos fed by a known live source."""
    found: dict[str, str] = {}
    for section, specs in node["input"].items():
        if section == "hidden" or not isinstance(specs, dict):
            continue
        for name, spec in specs.items():
            source = inputs.get(name)
            if source is not None and _is_combo(spec) and is_known_source(source, paths):
                found[name] = source
    return found


def _with_options(spec: list[Any], options: list[str], source: str) -> list[Any]:
    if isinstance(spec[0], list):
        return [list(options), *spec[1:]]
    opts: dict[str, Any] = {}
    for key, value in spec[1].items():
        if key == "default" and source in _DEFAULT_FIRST:
            continue
        if key == "multiselect" and source in _DEFAULT_FIRST and options:
            opts["default"] = options[0]  # V3 puts default just before multiselect
        opts[key] = list(options) if key == "options" else value
    return [spec[0], opts, *spec[2:]]


def _watched_roots(source: str, paths: FolderPaths) -> list[Path]:
    """The directory trees whose content decides a live list."""
    if source.startswith(_MODELS_PREFIX):
        return paths.model_dirs[source[len(_MODELS_PREFIX):]]
    folders = {"vae_loader": ("vae", "vae_approx"), "loras_or_none": ("loras",), "diffusers": ("diffusers",)}
    if source in folders:
        return [d for folder in folders[source] for d in paths.model_dirs[folder]]
    return [paths.input]


class _DirWatch:
    """Modification times of every directory behind the live lists: a stat per directory
    tells whether a full scan is due.

    A directory changed in the same clock tick as the scan could keep its mtime, so a scan
    that sees an mtime less than ``RACY_NS`` old is not trusted (git's "racy clean" rule).
    File contents are not watched: a file growing past a size limit goes unnoticed.
    """

    RACY_NS = 1_000_000_000

    def __init__(self, roots: list[Path]) -> None:
        self.roots = sorted({str(r) for r in roots})
        self._dirs: list[str] = []
        self._stamp: list[int | None] | None = None

    def unchanged(self) -> bool:
        return self._stamp is not None and _mtimes(self._dirs) == self._stamp

    def record(self, scan_started_ns: int) -> None:
        """Remember the directories as they are now, just after a scan that began at the given time."""
        dirs: list[str] = []
        for root in self.roots:
            dirs.append(root)
            for dirpath, dirnames, _ in os.walk(root, followlinks=True):
                dirs.extend(os.path.join(dirpath, d) for d in dirnames)
        stamp = _mtimes(dirs)
        racy = any(m is not None and m > scan_started_ns - self.RACY_NS for m in stamp)
        self._dirs, self._stamp = dirs, None if racy else stamp


def _mtimes(dirs: list[str]) -> list[int | None]:
    out: list[int | None] = []
    for d in dirs:
        try:
            out.append(os.stat(d).st_mtime_ns)
        except OSError:
            out.append(None)
    return out


# ---- the catalog -----------------------------------------------------------------------------
class NodeCatalog:
    """Every node class this server offers, as ``/object_info`` describes them.

    Captured ``/object_info`` files (``extra_files``) are laid over the built-in catalog in
    order: a node they define replaces the built-in definition (keeping its place), new nodes
    come after the built-in ones. Their combo lists are replaced by live ones only for inputs
    known to be file lists; any other list is served as captured.
    """

    def __init__(self, paths: FolderPaths, extra_files: list[Path]) -> None:
        self.paths = paths
        nodes, table = builtin()
        self._nodes: dict[str, NodeDef] = dict(nodes)
        for path in extra_files:
            self._nodes.update(load_captured(path))
        self._live: LiveTable = {}
        for name, inputs in table.items():
            node = self._nodes.get(name)
            found = _live_inputs_of(node, inputs, paths) if node is not None else {}
            if found:
                self._live[name] = found
        self._sources = sorted({s for inputs in self._live.values() for s in inputs.values()})
        self._watch = _DirWatch([r for source in self._sources for r in _watched_roots(source, paths)])
        self._fragments: dict[str, str] | None = None
        self._cached: tuple[dict[str, list[str]], bytes] | None = None
        # Real ComfyUI's Load3D creates input/3d whenever it describes its inputs.
        if "Load3D" in self._live:
            (paths.input / "3d").mkdir(parents=True, exist_ok=True)

    def __contains__(self, class_type: object) -> bool:
        return class_type in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def class_types(self) -> list[str]:
        """Node class names in ``/object_info`` order."""
        return list(self._nodes)

    def static(self, class_type: str) -> NodeDef | None:
        """The stored definition, shared and read-only, without live file lists (cheap: for
        facts like ``output_node``, ``output`` or hidden inputs)."""
        return self._nodes.get(class_type)

    def definition(self, class_type: str) -> NodeDef | None:
        """One node's live definition, shared and read-only (no copy): what validation reads
        on every POST /prompt. File lists are rescanned only when a watched folder changed."""
        if class_type not in self._nodes:
            return None
        if class_type not in self._live:
            return self._nodes[class_type]
        return self._live_node(class_type, self._current_lists())

    def _current_lists(self) -> dict[str, list[str]]:
        cached = self._cached
        if cached is not None and self._watch.unchanged():
            return cached[0]
        self.object_info_bytes()
        assert self._cached is not None
        return self._cached[0]

    def node(self, class_type: str) -> NodeDef | None:
        """A fresh copy of one node's definition with live file lists, or None if unknown."""
        if class_type not in self._nodes:
            return None
        inputs = self._live.get(class_type)
        if inputs is None:
            return copy.deepcopy(self._nodes[class_type])
        scan = _Scan(self.paths)
        lists = {source: live_list(source, scan) for source in set(inputs.values())}
        return copy.deepcopy(self._live_node(class_type, lists))

    def object_info(self) -> dict[str, NodeDef]:
        """The whole ``/object_info`` document with live file lists, as a fresh object."""
        data: dict[str, NodeDef] = json.loads(self.object_info_bytes())
        return data

    def object_info_bytes(self) -> bytes:
        """``/object_info`` serialised like aiohttp's ``json_response``, rebuilt only when a
        live file list changed since the last call."""
        cached = self._cached
        if cached is not None and self._watch.unchanged():
            return cached[1]
        started = time.time_ns()
        scan = _Scan(self.paths)
        lists = {source: live_list(source, scan) for source in self._sources}
        if cached is not None and cached[0] == lists:
            self._watch.record(started)
            return cached[1]
        fragments = self._static_fragments()
        parts = []
        for name in self._nodes:
            body = fragments.get(name)
            if body is None:
                body = json.dumps(self._live_node(name, lists))
            parts.append(f"{json.dumps(name)}: {body}")
        data = ("{" + ", ".join(parts) + "}").encode("utf-8")
        self._cached = (lists, data)
        self._watch.record(started)
        return data

    # ---- internals ---------------------------------------------------------------------------
    def _static_fragments(self) -> dict[str, str]:
        """Serialised definitions of the nodes without live inputs, computed once."""
        if self._fragments is None:
            shared, stored = builtin()[0], _builtin_fragments()
            self._fragments = {name: stored[name] if shared.get(name) is node else json.dumps(node)
                               for name, node in self._nodes.items() if name not in self._live}
        return self._fragments

    def _live_node(self, class_type: str, lists: dict[str, list[str]]) -> NodeDef:
        """The definition with its live inputs filled in; shares everything else with the
        stored definition."""
        node = self._nodes[class_type]
        live = self._live[class_type]
        sections: dict[str, Any] = {}
        for section, specs in node["input"].items():
            if section == "hidden" or not any(k in live for k in specs):
                sections[section] = specs
                continue
            sections[section] = {k: _with_options(spec, lists[live[k]], live[k]) if k in live else spec
                                 for k, spec in specs.items()}
        return {**node, "input": sections}
