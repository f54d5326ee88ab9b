"""Users, settings and userdata routes (facts 34–36, M1–M9, O6).

An unknown user is answered differently per route, as real: 401 (raised) for settings, 500
(raised) for userdata files and listings, 403 text (returned) for ``/v2/userdata``.
"""
from __future__ import annotations

import mimetypes
import os
import urllib.parse
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.users import (
    InvalidUsername,
    NotADirectory,
    PathOutsideRoot,
    UnknownUser,
    UserdataExists,
    UserdataNotFound,
    UserdataWriteFailed,
    UserManager,
)
from fakecomfy.web.requests import read_body, read_json
from fakecomfy.web.responses import empty, internal_error, json_response, text, unauthorized
from fakecomfy.web.routing import Router, path_param

# aiohttp's FileResponse guesses types from Python's built-in table only, with the
# compression suffixes mapped to their own types instead of being treated as encodings.
_FILE_TYPES = mimetypes.MimeTypes()
_FILE_TYPES.encodings_map.clear()
for _ctype, _ext in (("application/gzip", ".gz"), ("application/x-brotli", ".br"),
                     ("application/x-bzip2", ".bz2"), ("application/x-compress", ".Z"),
                     ("application/x-xz", ".xz")):
    _FILE_TYPES.add_type(_ctype, _ext)


def query_true(request: Request, name: str) -> bool:
    """ComfyUI's ``full_info``/``recurse``/``split`` parsing: only "true", any case."""
    return request.query_params.get(name, "").lower() == "true"


def query_overwrite(request: Request) -> bool:
    """ComfyUI's ``overwrite`` parsing: everything but the exact string "false" overwrites."""
    return request.query_params.get("overwrite", "true") != "false"


def file_response(path: str) -> Response:
    """Serve a userdata file like aiohttp's FileResponse: guessed type (no charset added)."""
    if not os.path.isfile(path):  # aiohttp forbids serving directories and special files
        return empty(403)
    with open(path, "rb") as f:
        data = f.read()
    st = os.stat(path)
    ctype = _FILE_TYPES.guess_type(path)[0] or protocol.OCTET_MEDIA
    return Response(data, headers={
        "Content-Type": ctype,
        "Last-Modified": formatdate(st.st_mtime, usegmt=True),
        "ETag": f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
    })


def register(router: Router, model: ComfyModel) -> None:
    users: UserManager = model.users

    def header(request: Request) -> str | None:
        return request.headers.get(protocol.HEADER_COMFY_USER)

    def settings_user(request: Request) -> str:
        try:
            return users.resolve_user(header(request))
        except UnknownUser:
            raise unauthorized() from None

    def userdata_user(request: Request) -> str:
        try:
            return users.resolve_user(header(request))
        except UnknownUser:
            raise internal_error() from None

    # ---- settings -------------------------------------------------------------------------
    async def get_settings(request: Request) -> Response:
        return json_response(users.settings(settings_user(request)))

    async def get_setting(request: Request) -> Response:
        user = settings_user(request)
        return json_response(users.setting(user, path_param(request, "id")))

    async def post_settings(request: Request) -> Response:
        user = settings_user(request)
        current = users.settings(user)
        try:
            users.merge_settings(user, current, await read_json(request))
        except TypeError:
            raise internal_error() from None
        return empty()

    async def post_setting(request: Request) -> Response:
        user = settings_user(request)
        current = users.settings(user)
        users.set_setting(user, current, path_param(request, "id"), await read_json(request))
        return empty()

    # ---- users ----------------------------------------------------------------------------
    async def get_users(request: Request) -> Response:
        if users.multi_user:
            return json_response({"storage": "server", "users": users.users})
        return json_response({"storage": "server", "migrated": users.migrated()})

    async def post_users(request: Request) -> Response:
        body = await read_json(request)
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(username, str):  # missing key or not a string: real fails with a 500
            raise internal_error()
        try:
            user_id = users.add_user(username)
        except InvalidUsername as err:
            return json_response({"error": str(err)}, status=400)
        return json_response(user_id)

    # ---- userdata files -------------------------------------------------------------------
    async def get_userdata(request: Request) -> Response:
        user = userdata_user(request)
        try:
            path = users.existing(user, path_param(request, "file"))
        except PathOutsideRoot:
            return empty(403)
        except UserdataNotFound:
            return empty(404)
        return file_response(path)

    async def post_userdata(request: Request) -> Response:
        user = userdata_user(request)
        try:
            path = users.writable(user, path_param(request, "file"), query_overwrite(request))
        except PathOutsideRoot:
            return empty(403)
        except UserdataExists:
            return text(protocol.TEXT_FILE_EXISTS, 409)
        try:
            users.write(path, await read_body(request))
        except UserdataWriteFailed:
            return empty(400)
        return json_response(users.relative(user, path, query_true(request, "full_info")))

    async def delete_userdata(request: Request) -> Response:
        user = userdata_user(request)
        try:
            users.delete(user, path_param(request, "file"))
        except PathOutsideRoot:
            return empty(403)
        except UserdataNotFound:
            return empty(404)
        return empty(204)

    async def move_userdata(request: Request) -> Response:
        user = userdata_user(request)
        try:
            dest = users.move(user, path_param(request, "file"), path_param(request, "dest"),
                              query_overwrite(request))
        except PathOutsideRoot:
            return empty(403)
        except UserdataNotFound:
            return empty(404)
        except UserdataExists:
            return text(protocol.TEXT_FILE_EXISTS, 409)
        return json_response(users.relative(user, dest, query_true(request, "full_info")))

    # ---- listings -------------------------------------------------------------------------
    async def list_userdata(request: Request) -> Response:
        directory = request.query_params.get("dir", "")
        if not directory:  # checked before the user, like real
            return text(protocol.TEXT_DIR_NOT_PROVIDED, 400)
        user = userdata_user(request)
        try:
            listing = users.list_dir(user, directory, recurse=query_true(request, "recurse"),
                                     full_info=query_true(request, "full_info"),
                                     split=query_true(request, "split"))
        except PathOutsideRoot:
            return text(protocol.TEXT_INVALID_DIRECTORY, 403)
        except UserdataNotFound:
            return text(protocol.TEXT_DIR_NOT_FOUND, 404)
        return json_response(listing)

    async def list_userdata_v2(request: Request) -> Response:
        # The query value is URL-decoded once more on top of the usual query decoding.
        rel = urllib.parse.unquote(request.query_params.get("path", ""))
        try:
            user = users.resolve_user(header(request))
        except UnknownUser:
            return text(protocol.TEXT_INVALID_USER, 403)
        try:
            return json_response(users.tree(user, rel))
        except PathOutsideRoot:
            return text(protocol.TEXT_INVALID_PATH, 400)
        except UserdataNotFound:
            return text(protocol.TEXT_PATH_NOT_FOUND, 404)
        except NotADirectory:
            return text(protocol.TEXT_NOT_A_DIRECTORY, 400)

    # Registration order follows ComfyUI's: settings first, then users and userdata.
    router.add("GET", "/settings", get_settings)
    router.add("GET", "/settings/{id}", get_setting)
    router.add("POST", "/settings", post_settings)
    router.add("POST", "/settings/{id}", post_setting)
    router.add("GET", "/users", get_users)
    router.add("POST", "/users", post_users)
    router.add("GET", "/userdata", list_userdata)
    router.add("GET", "/v2/userdata", list_userdata_v2)
    router.add("GET", "/userdata/{file}", get_userdata)
    router.add("POST", "/userdata/{file}", post_userdata)
    router.add("DELETE", "/userdata/{file}", delete_userdata)
    router.add("POST", "/userdata/{file}/move/{dest}", move_userdata)
