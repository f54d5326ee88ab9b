"""fakecomfy: a fast, deterministic fake of the ComfyUI server API."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakecomfy.app import create_app
    from fakecomfy.settings import Settings
    from fakecomfy.testing import FakeComfy

__all__ = ["FakeComfy", "Settings", "create_app"]
__version__ = "0.1.0"

# Loaded on first use: pytest imports this package in every run of a project that has fakecomfy
# installed (its plugin is fakecomfy.pytest_plugin), which must not cost the server's imports.
_EXPORTS = {"FakeComfy": "fakecomfy.testing", "Settings": "fakecomfy.settings", "create_app": "fakecomfy.app"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fakecomfy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
