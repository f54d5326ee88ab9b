"""(placeholder, being written)"""
from __future__ import annotations

from fakecomfy.core.model import ComfyModel
from fakecomfy.web.routing import Router


def register(router: Router, model: ComfyModel) -> None:
    pass
