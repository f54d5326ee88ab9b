"""Fixtures of the file store tests: empty input/output/temp folders and a store over them."""
from __future__ import annotations

from pathlib import Path

import pytest

from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.settings import Settings


@pytest.fixture
def paths(tmp_path: Path) -> FolderPaths:
    p = FolderPaths.from_settings(Settings(), tmp_path / "base")
    p.create_dirs()
    return p


@pytest.fixture
def store(paths: FolderPaths) -> FileStore:
    return FileStore(paths)
