"""fakecomfy: a fast, deterministic fake of the ComfyUI server API."""
from __future__ import annotations

from fakecomfy.app import create_app
from fakecomfy.settings import Settings

__all__ = ["Settings", "create_app"]
__version__ = "0.1.0"
