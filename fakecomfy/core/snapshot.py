"""What a directory held at one moment, to put it back: files added since are removed; files
changed or removed since are written again from the snapshot's copy (kept for files up to
KEEP_LIMIT bytes; a bigger file that changed is left as it is); directories added are removed."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

KEEP_LIMIT = 1024 * 1024  # files up to this size are copied into the snapshot
KEEP_TOTAL = 64 * 1024 * 1024  # and no more than this much in all

_Stamp = tuple[int, int]  # size, modification time in ns


def _stamps(root: Path) -> dict[str, _Stamp]:
    found: dict[str, _Stamp] = {}
    if not root.is_dir():
        return found
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


class DirectorySnapshot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = _stamps(root)
        self.dirs = {os.path.relpath(folder, root) for folder, _, _ in os.walk(root)} if root.is_dir() else set()
        self.copies: dict[str, bytes] = {}
        kept = 0
        for rel, (size, _) in sorted(self.files.items()):
            if size <= KEEP_LIMIT and kept + size <= KEEP_TOTAL:
                try:
                    self.copies[rel] = (root / rel).read_bytes()
                except OSError:
                    continue
                kept += size

    def restore(self) -> None:
        """Put the directory back as the snapshot saw it (as far as it kept copies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        now = _stamps(self.root)
        for rel, stamp in now.items():
            if rel not in self.files:
                _remove(self.root / rel)
            elif stamp != self.files[rel] and rel in self.copies:
                self._write_back(rel)
        for rel in self.files.keys() - now.keys():
            if rel in self.copies:
                self._write_back(rel)
        for folder, _, _ in os.walk(self.root, topdown=False):
            if os.path.relpath(folder, self.root) not in self.dirs:
                shutil.rmtree(folder, ignore_errors=True)

    def _write_back(self, rel: str) -> None:
        path = self.root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.copies[rel])
            mtime = self.files[rel][1]
            os.utime(path, ns=(mtime, mtime))
        except OSError:  # a file that cannot be written back stays as the test left it
            return


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


__all__ = ["KEEP_LIMIT", "KEEP_TOTAL", "DirectorySnapshot"]
