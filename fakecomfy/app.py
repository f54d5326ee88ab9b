"""create_app(settings): the Starlette application, its model, its routes and middleware.

Where a request goes: Origin check (unless CORS is on) → Router (aiohttp-compatible resolution,
body limits, CORS headers) → a route module in ``fakecomfy.routes`` → the model in
``fakecomfy.core``. This module is the composition root: it picks the executor for the model,
the hub for the worker's events, and (``Settings.spec_check``) the contract check.
"""
from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

from starlette.applications import Starlette

from fakecomfy import protocol
from fakecomfy.control import ControlPlane
from fakecomfy.core import defaults
from fakecomfy.core.journal import Journal
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import FolderPaths
from fakecomfy.executors import create_executor
from fakecomfy.routes import control, files, frontend, internal, nodes, prompt, queue, system, users, ws
from fakecomfy.settings import Settings
from fakecomfy.web.hub import WebSocketHub
from fakecomfy.web.intercept import InterceptMiddleware
from fakecomfy.web.routing import Router
from fakecomfy.web.security import OriginCheckMiddleware

ROUTE_MODULES = (frontend, system, nodes, files, users, prompt, queue, internal)


def cors_headers(origin: str) -> dict[str, str]:
    return {
        protocol.HEADER_CORS_ALLOW_ORIGIN: origin,
        protocol.HEADER_CORS_ALLOW_METHODS: protocol.CORS_ALLOW_METHODS,
        protocol.HEADER_CORS_ALLOW_HEADERS: protocol.CORS_ALLOW_HEADERS,
        protocol.HEADER_CORS_ALLOW_CREDENTIALS: "true",
    }


def make_default_base() -> Path:
    """A fresh directory with fakecomfy's example image and stand-in models."""
    base = Path(tempfile.mkdtemp(prefix="fakecomfy-"))
    defaults.populate(base)
    return base


def _spec_check() -> ModuleType:
    """The contract check (test tooling, loaded only when asked for: it needs the spec)."""
    from fakecomfy.contract import middleware

    return middleware


def build_model(settings: Settings, paths: FolderPaths) -> ComfyModel:
    """The server's model, running prompts with the executor ``settings.executor`` names."""
    return ComfyModel(settings, paths, lambda env: create_executor(settings.executor, env))


def create_app(settings: Settings | None = None) -> Starlette:
    """Build a fakecomfy server. With no ``base_directory`` it runs from a fresh default one,
    removed again when the app shuts down."""
    settings = settings or Settings()
    owned_base: Path | None = None
    base = settings.base_directory
    if base is None:
        base = owned_base = make_default_base()
    paths = FolderPaths.from_settings(settings, base)
    try:
        model = build_model(settings, paths)
    except BaseException:  # a bad fault profile, an unknown executor: leave no directory behind
        if owned_base is not None:
            shutil.rmtree(owned_base, ignore_errors=True)
        raise
    if owned_base is not None:  # a reset puts back the example image and stand-ins it made
        model.refill = functools.partial(defaults.populate, owned_base)

    router = Router()
    router.max_body = settings.max_upload_bytes
    if settings.enable_cors_header is not None:
        router.cors_headers = cors_headers(settings.enable_cors_header)
    for module in ROUTE_MODULES:
        module.register(router, model)
    spec_check = _spec_check() if settings.spec_check else None
    journal = Journal()
    hub = WebSocketHub(busy=lambda: not model.queue.is_idle(),
                       frame_check=spec_check.check_ws_frame if spec_check is not None else None,
                       journal=journal, faults=model.env.faults)
    ws.register(router, model, hub)
    control_plane = ControlPlane(model, hub, journal)
    if settings.control_api:
        control.register(router, control_plane)

    async def startup() -> None:
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
    checked = router if settings.enable_cors_header is not None else OriginCheckMiddleware(router)
    # Route faults and the request journal come first: they see refused requests too.
    app.middleware_stack = InterceptMiddleware(checked, model.env.faults, journal)
    app.state.model = model
    app.state.settings = settings
    app.state.hub = hub
    app.state.control = control_plane
    if spec_check is not None:
        spec_check.install(app)
    return app
