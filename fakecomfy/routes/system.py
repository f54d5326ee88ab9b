"""Info routes: index page, system stats, features, model folders, embeddings, metadata."""
from __future__ import annotations

import os
import sys
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core import system
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import EXPERIMENT_EXCLUDED
from fakecomfy.core.safetensors import read_metadata
from fakecomfy.web.responses import empty, json_response
from fakecomfy.web.routing import Router, path_param

# ComfyUI reads at most this much safetensors header for /view_metadata.
VIEW_METADATA_MAX_HEADER = 1024 * 1024


def _index_html() -> bytes:
    return resources.files("fakecomfy").joinpath("data/index.html").read_bytes()


def register(router: Router, model: ComfyModel) -> None:
    paths = model.paths
    index = _index_html()
    argv = list(sys.argv)

    async def root(request: Request) -> Response:
        # The type goes in as a header so starlette adds no charset (real sends bare text/html).
        return Response(index, headers={protocol.HEADER_CONTENT_TYPE: protocol.HTML_MEDIA,
                                         protocol.HEADER_CACHE_CONTROL: protocol.NO_CACHE})

    async def system_stats(request: Request) -> Response:
        return json_response(system.system_stats(argv))

    async def features(request: Request) -> Response:
        return json_response(system.features(model.settings.reported_max_upload_size))

    async def embeddings(request: Request) -> Response:
        return json_response([os.path.splitext(name)[0] for name in paths.list_models("embeddings")])

    async def extensions(request: Request) -> Response:
        return json_response([])

    async def model_folders(request: Request) -> Response:
        return json_response(paths.folder_names())

    async def model_files(request: Request) -> Response:
        folder = path_param(request, "folder")
        if folder not in paths.model_dirs:
            return empty(404)
        return json_response(paths.list_models(folder))

    async def experiment_models(request: Request) -> Response:
        return json_response(
            [
                {"name": name, "folders": [str(d) for d in dirs]}
                for name, dirs in paths.model_dirs.items()
                if name not in EXPERIMENT_EXCLUDED
            ]
        )

    async def experiment_model_files(request: Request) -> Response:
        folder = path_param(request, "folder")
        if folder not in paths.model_dirs:
            return empty(404)
        out = []
        for index, root in enumerate(paths.model_dirs[folder]):
            for name in paths.list_models(folder):
                full = root / name
                if full.is_file():
                    st = full.stat()
                    out.append({"name": name, "pathIndex": index, "modified": st.st_mtime,
                                "created": st.st_ctime, "size": st.st_size})
        return json_response(out)

    async def view_metadata(request: Request) -> Response:
        folder = path_param(request, "folder_name")
        filename = request.query_params.get("filename")
        if not filename or not filename.endswith(".safetensors"):
            return empty(404)
        full = paths.find_model(folder, filename)
        if full is None:
            return empty(404)
        meta = read_metadata(full, max_header=VIEW_METADATA_MAX_HEADER)
        if meta is None:
            return empty(404)
        return json_response(meta)

    async def empty_object(request: Request) -> Response:
        return json_response({})

    router.add("GET", "/", root, api_alias=False)
    router.add("GET", "/system_stats", system_stats)
    router.add("GET", "/features", features)
    router.add("GET", "/embeddings", embeddings)
    router.add("GET", "/extensions", extensions)
    router.add("GET", "/models", model_folders)
    router.add("GET", "/models/{folder}", model_files)
    router.add("GET", "/experiment/models", experiment_models)
    router.add("GET", "/experiment/models/{folder}", experiment_model_files)
    router.add("GET", "/view_metadata/{folder_name}", view_metadata)
    for path in ("/workflow_templates", "/i18n", "/global_subgraphs"):
        router.add("GET", path, empty_object)
