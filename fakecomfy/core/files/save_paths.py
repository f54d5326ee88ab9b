"""Where a SaveImage-like node writes: ComfyUI's ``get_save_image_path`` (prefix expansion, the
output-folder check, the next free ``<prefix>_00001_`` counter), with the counters remembered so
that a save needs no folder scan while nobody else touched the folder."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from fakecomfy import protocol

_MAX_PLACES = 1024


class SaveOutsideOutputError(Exception):
    """A ``filename_prefix`` that leaves the output folder.

    ComfyUI raises a bare ``Exception`` here, so report its type as ``Exception``.
    """


@dataclass(frozen=True)
class SaveTarget:
    """Where a SaveImage-like node writes (ComfyUI's ``get_save_image_path``)."""

    folder: Path
    filename: str
    counter: int
    subfolder: str
    filename_prefix: str
    counter_key: tuple[str, str, str]  # where SaveCounters remembers the counter

    def write(self, name: str, data: bytes) -> None:
        """Create or replace ``name`` in the folder (plain os calls: no file object per image)."""
        fd = os.open(os.path.join(self.folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


class SaveCounters:
    """The save targets of one server's type directories, and the counters found so far."""

    def __init__(self) -> None:
        # SaveImage counters: (folder, filename, prefix tail) -> (folder mtime_ns, next counter).
        self._counters: dict[tuple[str, str, str], tuple[int | None, int]] = {}
        # (root, expanded prefix) -> where it saves, or why it cannot (pure string work, cached)
        self._places: dict[tuple[str, str], tuple[Path, str, str, str] | str] = {}

    def target(self, root: str, filename_prefix: str, width: int, height: int) -> SaveTarget:
        """Expand ``filename_prefix`` under ``root`` and find the next free counter."""
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
