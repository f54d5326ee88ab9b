"""Builders for the nodes the validation tests' prompts are made of, and a look at one error."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakecomfy.core.validation import ValidationResult

# The ``check`` fixture: check(prompt, partial_execution_targets=None) -> validate_prompt's result
Check = Callable[..., ValidationResult]


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
