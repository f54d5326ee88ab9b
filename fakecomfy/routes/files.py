"""Uploads and /view: ``POST /upload/image``, ``POST /upload/mask``, ``GET /view``."""
from __future__ import annotations

from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from fakecomfy import protocol
from fakecomfy.core.files import FileError, FilePart, FormValue, UploadForm, ViewQuery, ViewResult
from fakecomfy.core.model import ComfyModel
from fakecomfy.web.requests import read_form
from fakecomfy.web.responses import empty, internal_error, json_response
from fakecomfy.web.routing import Router

UPLOAD_FIELDS = ("image", "overwrite", "subfolder", "type", "original_ref")
VIEW_PARAMS = ("filename", "type", "subfolder", "preview", "channel")


async def _form_value(value: UploadFile | str) -> FormValue:
    """A form value as aiohttp's ``request.post()`` would give it."""
    if isinstance(value, str):
        return value
    data = await value.read()
    if value.filename:
        return FilePart(value.filename, data)
    # aiohttp keeps only parts with a non-empty filename as files; others become plain values.
    ctype = value.content_type
    if ctype is None or ctype.startswith("text/"):
        return data.decode("utf-8")
    return data


async def _upload_form(request: Request) -> UploadForm:
    form: FormData | None = await read_form(request)
    if form is None:  # not a form at all: aiohttp reads that as no fields
        return UploadForm()
    fields: dict[str, FormValue] = {}
    try:
        for name in UPLOAD_FIELDS:
            values = form.getlist(name)
            if values:  # aiohttp's MultiDict.get gives the first value; starlette's the last
                fields[name] = await _form_value(values[0])
    finally:
        await form.close()
    return UploadForm(**fields)


def _view_query(params: QueryParams) -> ViewQuery:
    found = {name: params.getlist(name)[0] for name in VIEW_PARAMS if name in params}
    return ViewQuery(**found)


def _error(err: FileError) -> Response:
    if err.status >= 500:
        raise internal_error() from err
    return empty(err.status)


def _view_response(result: ViewResult) -> Response:
    disposition = protocol.CONTENT_DISPOSITION.format(filename=result.filename)
    response: Response
    if result.path is not None:
        # The media type goes in as a header so starlette adds no charset (aiohttp adds none).
        response = FileResponse(result.path, headers={protocol.HEADER_CONTENT_TYPE: result.media_type})
    else:
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
            return _view_response(files.view(_view_query(request.query_params)))
        except FileError as err:
            return _error(err)

    router.add("POST", "/upload/image", upload_image)
    router.add("POST", "/upload/mask", upload_mask)
    router.add("GET", "/view", view)
