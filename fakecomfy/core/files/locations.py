"""Where a file named by a client or a node lives: the type directories, ComfyUI's annotation
suffixes (``"x.png [output]"``), and the error a refused or failed file operation answers with.

Paths are handled with ``os.path`` on strings on purpose: ComfyUI's traversal checks
(``normpath``, ``abspath``, ``commonpath``) decide what is refused, and ``pathlib`` normalises
differently.
"""
from __future__ import annotations

from fakecomfy.core.paths import FolderPaths

# Annotation suffixes of ComfyUI's ``annotated_filepath``, in the order it tests them.
ANNOTATIONS = ("output", "input", "temp")


class FileError(Exception):
    """An outcome ComfyUI answers with ``status`` (400, 403, 404 or 500) and an empty body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def type_directory(paths: FolderPaths, file_type: str) -> str | None:
    """Absolute directory of ``output``, ``input`` or ``temp``; None for anything else."""
    found = paths.type_dir(file_type)
    return None if found is None else str(found)


def split_annotation(name: str) -> tuple[str, str | None]:
    """``"x.png [input]"`` → ``("x.png", "input")``; an unannotated name gives ``(name, None)``."""
    for kind in ANNOTATIONS:
        suffix = f"[{kind}]"
        if name.endswith(suffix):
            # ComfyUI cuts one more character than the tag, assuming a space before it.
            return name[: -(len(suffix) + 1)], kind
    return name, None
