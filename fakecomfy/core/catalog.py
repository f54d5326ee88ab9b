"""Node catalog (placeholder, being written)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fakecomfy.core.paths import FolderPaths


class NodeCatalog:
    def __init__(self, paths: FolderPaths, extra_files: list[Path]) -> None:
        self.paths = paths

    def object_info(self) -> dict[str, Any]:
        return {}
