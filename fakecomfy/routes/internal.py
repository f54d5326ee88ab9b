"""The routes real mounts as a sub-application under ``/internal`` for its own frontend: the
server log, the model folder paths and the file lists of input, output and temp.

A sub-application's routes get no ``/api`` copy, and a path under ``/internal`` that none of
them matches is a plain ``404: Not Found`` (no static route behind it; ``Router.subapp_prefixes``).
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core import system
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import FILE_TYPES, visible_files_newest_first
from fakecomfy.web.requests import read_json
from fakecomfy.web.responses import empty, internal_error, json_response
from fakecomfy.web.routing import Router, path_param

PREFIX = "/internal"
INVALID_DIRECTORY_TYPE = "Invalid directory type"  # real's error for /internal/files/<other>


def _subscription(body: Any) -> tuple[Any, bool]:
    """(clientId, enabled) of a subscribe body; anything real's ``body["clientId"]`` and
    ``body["enabled"]`` fail on is a 500."""
    try:
        return body["clientId"], bool(body["enabled"])
    except (KeyError, TypeError, IndexError):
        raise internal_error() from None


def register(router: Router, model: ComfyModel) -> None:
    paths = model.paths
    log = system.ServerLog()
    log.write(f"ComfyUI version: {protocol.COMFYUI_VERSION}")
    log.write("Starting server")

    async def logs(request: Request) -> Response:
        return json_response(log.text())

    async def raw_logs(request: Request) -> Response:
        return json_response({"entries": list(log.entries), "size": system.terminal_size()})

    async def subscribe_logs(request: Request) -> Response:
        client_id, enabled = _subscription(await read_json(request))
        if not isinstance(client_id, Hashable):
            raise internal_error()  # real keeps its subscribers in a set: a list or object fails
        if enabled:
            log.subscribers.add(client_id)
        else:
            log.subscribers.discard(client_id)
        return empty()

    async def folder_paths(request: Request) -> Response:
        return json_response({name: [str(d) for d in dirs] for name, dirs in paths.model_dirs.items()})

    async def files(request: Request) -> Response:
        directory_type = path_param(request, "directory_type")
        directory = paths.type_dir(directory_type) if directory_type in FILE_TYPES else None
        if directory is None:
            return json_response({"error": INVALID_DIRECTORY_TYPE}, status=400)
        return json_response(visible_files_newest_first(directory))

    router.subapp_prefixes = (*router.subapp_prefixes, PREFIX)
    router.add("GET", PREFIX + "/logs", logs, api_alias=False)
    router.add("GET", PREFIX + "/logs/raw", raw_logs, api_alias=False)
    router.add("PATCH", PREFIX + "/logs/subscribe", subscribe_logs, api_alias=False)
    router.add("GET", PREFIX + "/folder_paths", folder_paths, api_alias=False)
    router.add("GET", PREFIX + "/files/{directory_type}", files, api_alias=False)
