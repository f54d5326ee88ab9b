"""Info routes: system stats, features, model folders, embeddings, metadata."""
from __future__ import annotations

import os
import sys

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy.core import system
from fakecomfy.core.files import FileError
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import EXPERIMENT_EXCLUDED
from fakecomfy.web.responses import empty, internal_error, json_response
from fakecomfy.web.routing import Router, path_param


def register(router: Router, model: ComfyModel) -> None:
    paths = model.paths
    argv = list(sys.argv)

    async def system_stats(request: Request) -> Response:
        gpu = model.env.gpu  # a simulated card stands in for the executor's own devices
        if gpu is None:
            return json_response(system.system_stats(argv, model.env.devices))
        return json_response(system.system_stats(argv, gpu, gpu.ram()))

    async def features(request: Request) -> Response:
        return json_response(system.features(model.settings.reported_max_upload_size))

    async def embeddings(request: Request) -> Response:
        return json_response([os.path.splitext(name)[0] for name in paths.list_models("embeddings")])

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
        names = request.query_params.getlist("filename")  # aiohttp reads the first
        try:
            return json_response(model.files.model_metadata(folder, names[0] if names else None))
        except FileError as err:
            if err.status >= 500:
                raise internal_error() from err
            return empty(err.status)

    async def empty_object(request: Request) -> Response:
        return json_response({})

    async def global_subgraph(request: Request) -> Response:
        return json_response(None)  # fakecomfy loads no custom nodes, so no subgraph has an id

    router.add("GET", "/system_stats", system_stats)
    router.add("GET", "/features", features)
    router.add("GET", "/embeddings", embeddings)
    router.add("GET", "/models", model_folders)
    router.add("GET", "/models/{folder}", model_files)
    router.add("GET", "/experiment/models", experiment_models)
    router.add("GET", "/experiment/models/{folder}", experiment_model_files)
    router.add("GET", "/view_metadata/{folder_name}", view_metadata)
    for path in ("/workflow_templates", "/i18n", "/global_subgraphs"):
        router.add("GET", path, empty_object)
    router.add("GET", "/global_subgraphs/{id}", global_subgraph)
