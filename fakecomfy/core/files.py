"""Input/output/temp stores (placeholder, being written)."""
from __future__ import annotations

from fakecomfy.core.paths import FolderPaths


class FileStore:
    def __init__(self, paths: FolderPaths) -> None:
        self.paths = paths
