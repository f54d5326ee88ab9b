"""``FileStore``: the input, output and temp directories of one server, as routes and nodes use
them. Knows nothing about HTTP; errors are :class:`FileError` carrying ComfyUI's status."""
from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from fakecomfy.core.files.locations import ANNOTATIONS, split_annotation, type_directory
from fakecomfy.core.files.model_metadata import model_metadata
from fakecomfy.core.files.save_paths import SaveCounters, SaveTarget
from fakecomfy.core.files.uploads import UploadForm, UploadResult, store_upload
from fakecomfy.core.files.view import ViewQuery, ViewResult, view_file
from fakecomfy.core.paths import FolderPaths


class FileStore:
    """The input/output/temp directories of one server. Knows nothing about HTTP."""

    def __init__(self, paths: FolderPaths) -> None:
        self.paths = paths
        self._saves = SaveCounters()

    def forget_counters(self) -> None:
        """Start the save counters afresh (the folders are scanned again): after a reset."""
        self._saves = SaveCounters()

    # ---- directories ----------------------------------------------------------------------
    def directory(self, file_type: str) -> str | None:
        """Absolute directory of ``output``, ``input`` or ``temp``; None for anything else."""
        return type_directory(self.paths, file_type)

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

    # ---- what nodes write -----------------------------------------------------------------
    def save_image_path(self, filename_prefix: str, width: int = 0, height: int = 0,
                        file_type: str = "output") -> SaveTarget:
        """Expand ``filename_prefix`` and find the next free counter, like ComfyUI's SaveImage."""
        root = self.directory(file_type)
        if root is None:
            raise ValueError(f"expected a file type in {ANNOTATIONS}, got {file_type!r}")
        return self._saves.target(root, filename_prefix, width, height)

    def saved(self, target: SaveTarget, names: list[str]) -> None:
        """Record files just written for ``target``, so the next counter needs no folder scan."""
        self._saves.saved(target, names)

    # ---- uploads and /view ----------------------------------------------------------------
    def upload(self, form: UploadForm) -> UploadResult:
        """``POST /upload/image``: store the file, renaming or deduplicating like ComfyUI."""
        return store_upload(self.paths, form, mask=False)

    def upload_mask(self, form: UploadForm) -> UploadResult:
        """``POST /upload/mask``: store original RGB + the mask's alpha as an RGBA PNG.

        Quirk of ComfyUI: when the original cannot be used (missing, ``..`` in its name, outside
        its directory) the answer is still the would-be name, and nothing is written.
        """
        return store_upload(self.paths, form, mask=True)

    def view(self, query: ViewQuery) -> ViewResult:
        """Find the file of a ``GET /view`` and convert it as ``preview``/``channel`` ask."""
        return view_file(self.paths, query)

    def model_metadata(self, folder: str, filename: str | None) -> Any:
        """``GET /view_metadata``: the ``__metadata__`` of a model file's safetensors header."""
        return model_metadata(self.paths, folder, filename)


def _major_type(name: str) -> str | None:
    guessed = mimetypes.guess_type(name, strict=False)[0]
    return None if guessed is None else guessed.split("/")[0]
