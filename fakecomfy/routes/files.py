"""Uploads and /view: ``POST /upload/image``, ``POST /upload/mask``, ``GET /view``."""
from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core.files import FileError, FilePart, FormValue, UploadForm, ViewQuery, ViewResult
from fakecomfy.core.model import ComfyModel
from fakecomfy.web.files import serve_file
from fakecomfy.web.multipart import FORM_DATA, FORM_URLENCODED, FormError, FormFile, read_post, request_media_type
from fakecomfy.web.requests import read_body
from fakecomfy.web.responses import empty, internal_error, json_response
from fakecomfy.web.routing import Router

UPLOAD_FIELDS = ("image", "overwrite", "subfolder", "type", "original_ref")
VIEW_PARAMS = ("filename", "type", "subfolder", "preview", "channel")


async def _upload_form(request: Request) -> UploadForm:
    """The upload's fields as aiohttp's ``request.post()`` reads them (the first value of each);
    a body that reader raises on is a 500, and a body that is no form is not read at all."""
    ctype = request.headers.get("content-type")
    if request_media_type(ctype) not in (FORM_DATA, FORM_URLENCODED):
        return UploadForm()
    body = await read_body(request)
    try:
        items = read_post(ctype, body)
    except FormError:
        raise internal_error() from None
    fields: dict[str, FormValue] = {}
    for name, value in items:
        if name in UPLOAD_FIELDS and name not in fields:
            fields[name] = FilePart(value.filename, value.data) if isinstance(value, FormFile) else value
    return UploadForm(**fields)


def _view_query(params: QueryParams) -> ViewQuery:
    found = {name: params.getlist(name)[0] for name in VIEW_PARAMS if name in params}
    return ViewQuery(**found)


def _error(err: FileError) -> Response:
    if err.status >= 500:
        raise internal_error() from err
    return empty(err.status)


def _view_response(request: Request, result: ViewResult) -> Response:
    disposition = protocol.CONTENT_DISPOSITION.format(filename=result.filename)
    if result.path is not None:  # real: FileResponse with both headers given, so no guessed type
        return serve_file(request, result.path, [(protocol.HEADER_CONTENT_DISPOSITION, disposition),
                                                 (protocol.HEADER_CONTENT_TYPE, result.media_type)])
    response = Response(result.body or b"", media_type=result.media_type)
    # aiohttp writes header values as UTF-8; starlette's own encoder would refuse non-Latin-1.
    response.raw_headers.append(
        (protocol.HEADER_CONTENT_DISPOSITION.lower().encode("latin-1"), disposition.encode("utf-8"))
    )
    return response


def register(router: Router, model: ComfyModel) -> None:
    files = model.files

    async def upload_image(request: Request) -> Response:
        form = await _upload_form(request)
        try:
            return json_response(files.upload(form).as_json())
        except FileError as err:
            return _error(err)

    async def upload_mask(request: Request) -> Response:
        form = await _upload_form(request)
        try:
            return json_response(files.upload_mask(form).as_json())
        except FileError as err:
            return _error(err)

    async def view(request: Request) -> Response:
        try:
            return _view_response(request, files.view(_view_query(request.query_params)))
        except FileError as err:
            return _error(err)

    router.add("POST", "/upload/image", upload_image)
    router.add("POST", "/upload/mask", upload_mask)
    router.add("GET", "/view", view)
