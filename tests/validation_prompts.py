"""What the prompt validation tests share: a validator over a default base directory, and
builders for the nodes their prompts are made of."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakecomfy import Settings
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.validation import ValidationResult, validate_prompt

# check(prompt, partial_execution_targets=None): validate_prompt over one server's catalog and files
Check = Callable[..., ValidationResult]


def folder_paths(base_dir: Path) -> FolderPaths:
    found = FolderPaths.from_settings(Settings(base_directory=base_dir), base_dir)
    found.create_dirs()
    return found


def validator(paths: FolderPaths) -> Check:
    catalog, files = NodeCatalog(paths, []), FileStore(paths)

    def run(prompt: Any, partial: Any = None) -> ValidationResult:
        return validate_prompt(prompt, partial, catalog, files)

    return run


def empty_image(**overrides: Any) -> dict[str, Any]:
    inputs = {"width": 64, "height": 64, "batch_size": 1, "color": 0, **overrides}
    return {"class_type": "EmptyImage", "inputs": inputs}


def save(source: Any = "1", **overrides: Any) -> dict[str, Any]:
    inputs = {"images": [source, 0] if isinstance(source, str) else source, "filename_prefix": "x", **overrides}
    return {"class_type": "SaveImage", "inputs": inputs}


def invert(source: str) -> dict[str, Any]:
    return {"class_type": "ImageInvert", "inputs": {"image": [source, 0]}}


def only_error(result: ValidationResult, node_id: str) -> dict[str, Any]:
    errors = result.node_errors[node_id]["errors"]
    assert len(errors) == 1, errors
    return dict(errors[0])
