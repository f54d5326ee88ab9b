"""Fixtures of the prompt validation tests: ``check`` validates over a default base directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakecomfy import Settings
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.validation import ValidationResult, validate_prompt
from tests.validation.prompts import Check


@pytest.fixture
def paths(base_dir: Path) -> FolderPaths:
    found = FolderPaths.from_settings(Settings(base_directory=base_dir), base_dir)
    found.create_dirs()
    return found


@pytest.fixture
def check(paths: FolderPaths) -> Check:
    catalog, files = NodeCatalog(paths, []), FileStore(paths)

    def run(prompt: Any, partial: Any = None) -> ValidationResult:
        return validate_prompt(prompt, partial, catalog, files)

    return run
