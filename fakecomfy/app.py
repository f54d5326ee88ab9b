"""create_app(settings): the Starlette application, its model, its routes and middleware.

Where a request goes: Origin check (unless CORS is on) → Router (aiohttp-compatible resolution,
body limits, CORS headers) → a route module in ``fakecomfy.routes`` → the model in
``fakecomfy.core``.
"""
from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
from pathlib import Path

from starlette.applications import Starlette

from fakecomfy import protocol
from fakecomfy.core import defaults
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import FolderPaths
from fakecomfy.routes import files, nodes, prompt, queue, system, users, ws
from fakecomfy.settings import Settings
from fakecomfy.web.hub import WebSocketHub
from fakecomfy.web.routing import Router
from fakecomfy.web.security import OriginCheckMiddleware

ROUTE_MODULES = (system, nodes, files, users, prompt, queue)


def cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": protocol.CORS_ALLOW_METHODS,
        "Access-Control-Allow-Headers": protocol.CORS_ALLOW_HEADERS,
        "Access-Control-Allow-Credentials": "true",
    }


def make_default_base() -> Path:
    """A fresh directory with fakecomfy's example image and stand-in models."""
    base = Path(tempfile.mkdtemp(prefix="fakecomfy-"))
    defaults.populate(base)
    return base


def create_app(settings: Settings | None = None) -> Starlette:
    """Build a fakecomfy server. With no ``base_directory`` it runs from a fresh default one,
    removed again when the app shuts down."""
    settings = settings or Settings()
    owned_base: Path | None = None
    base = settings.base_directory
    if base is None:
        base = owned_base = make_default_base()
    paths = FolderPaths.from_settings(settings, base)
    model = ComfyModel(settings, paths)

    router = Router()
    router.max_body = settings.max_upload_bytes
    if settings.enable_cors_header is not None:
        router.cors_headers = cors_headers(settings.enable_cors_header)
    for module in ROUTE_MODULES:
        module.register(router, model)
    hub = WebSocketHub(busy=lambda: not model.queue.is_idle())
    ws.register(router, model, hub)

    async def startup() -> None:
        # The catalog and module state are hundreds of thousands of long-lived objects: keep the
        # cyclic GC from re-scanning them during every prompt.
        gc.collect()
        gc.freeze()
        hub.bind(asyncio.get_running_loop())
        model.start(hub)

    async def shutdown() -> None:
        model.stop()
        if owned_base is not None:
            shutil.rmtree(owned_base, ignore_errors=True)

    router.on_startup.append(startup)
    router.on_shutdown.append(shutdown)

    app = Starlette()
    app.router = router  # type: ignore[assignment]  # our aiohttp-compatible router
    # Our router answers every error itself (aiohttp's 404/405/500 texts), so Starlette's
    # default error middleware would only add a layer to every request.
    app.middleware_stack = router if settings.enable_cors_header is not None else OriginCheckMiddleware(router)
    app.state.model = model
    app.state.settings = settings
    app.state.hub = hub
    if os.environ.get("FAKECOMFY_SPEC_CHECK") == "1":  # the test suite checks every answer
        from fakecomfy.contract.middleware import install
        install(app)
    return app
