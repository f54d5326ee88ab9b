"""Node definitions: ``GET /object_info`` and ``GET /object_info/{node_class}``."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core.model import ComfyModel
from fakecomfy.web.responses import json_response
from fakecomfy.web.routing import Router, path_param


def register(router: Router, model: ComfyModel) -> None:
    catalog = model.catalog

    async def object_info(request: Request) -> Response:
        # Pre-serialised and cached by the catalog: the document is about half a megabyte.
        return Response(catalog.object_info_bytes(), media_type=protocol.JSON_MEDIA)

    async def object_info_node(request: Request) -> Response:
        # Like ComfyUI: an unknown class is 200 with an empty object, not a 404.
        node_class = path_param(request, "node_class")
        definition = catalog.node(node_class)
        return json_response({} if definition is None else {node_class: definition})

    router.add("GET", "/object_info", object_info)
    router.add("GET", "/object_info/{node_class}", object_info_node)
