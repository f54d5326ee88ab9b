"""Users, settings and userdata routes: :class:`UserRoutes` holds the handlers over the model's
:class:`~fakecomfy.core.users.UserManager`; :func:`register` wires them.

An unknown user is answered differently per route, as real: 401 (raised) for settings, 500
(raised) for userdata files and listings, 403 text (returned) for ``/v2/userdata``. In single-user
mode the ``comfy-user`` header is ignored (everyone is ``default``).
"""
from __future__ import annotations

import urllib.parse

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
    UserError,
    UserManager,
)
from fakecomfy.web.files import serve_file
from fakecomfy.web.requests import read_body, read_json
from fakecomfy.web.responses import empty, internal_error, json_response, text, unauthorized
from fakecomfy.web.routing import Router, path_param
from fakecomfy.web.transport import set_reason

# real's reason phrase for a userdata file it could not write (the OSError of its open or write)
REASON_INVALID_FILENAME = 'Invalid filename. Please avoid special characters like :\\/*?"<>|'


def query_true(request: Request, name: str) -> bool:
    """ComfyUI's ``full_info``/``recurse``/``split`` parsing: only "true", any case."""
    return request.query_params.get(name, "").lower() == "true"


def query_overwrite(request: Request) -> bool:
    """ComfyUI's ``overwrite`` parsing: everything but the exact string "false" overwrites."""
    return request.query_params.get("overwrite", "true") != "false"


def file_refusal(err: UserError) -> Response:
    """A userdata file route's answer to the model's refusal: an existing file is a 409 text,
    a path outside the user's root an empty 403, a missing file an empty 404."""
    if isinstance(err, UserdataExists):
        return text(protocol.TEXT_FILE_EXISTS, 409)
    return empty(403 if isinstance(err, PathOutsideRoot) else 404)


class UserRoutes:
    """The handlers of ``/settings``, ``/users`` and ``/userdata``: parse, call ``users``, answer."""

    def __init__(self, users: UserManager) -> None:
        self.users = users

    def _resolve(self, request: Request) -> str:
        """The user of the ``comfy-user`` header; raises :class:`UnknownUser`."""
        return self.users.resolve_user(request.headers.get(protocol.HEADER_COMFY_USER))

    def settings_user(self, request: Request) -> str:
        try:
            return self._resolve(request)
        except UnknownUser:
            raise unauthorized() from None

    def userdata_user(self, request: Request) -> str:
        try:
            return self._resolve(request)
        except UnknownUser:
            raise internal_error() from None

    # ---- settings -------------------------------------------------------------------------
    async def get_settings(self, request: Request) -> Response:
        return json_response(self.users.settings(self.settings_user(request)))

    async def get_setting(self, request: Request) -> Response:
        user = self.settings_user(request)
        return json_response(self.users.setting(user, path_param(request, "id")))

    async def post_settings(self, request: Request) -> Response:
        user = self.settings_user(request)
        current = self.users.settings(user)
        try:
            self.users.merge_settings(user, current, await read_json(request))
        except TypeError:
            raise internal_error() from None
        return empty()

    async def post_setting(self, request: Request) -> Response:
        user = self.settings_user(request)
        current = self.users.settings(user)
        self.users.set_setting(user, current, path_param(request, "id"), await read_json(request))
        return empty()

    # ---- users ----------------------------------------------------------------------------
    async def get_users(self, request: Request) -> Response:
        if self.users.multi_user:
            return json_response({"storage": protocol.USERS_STORAGE, "users": self.users.users})
        return json_response({"storage": protocol.USERS_STORAGE, "migrated": self.users.migrated()})

    async def post_users(self, request: Request) -> Response:
        body = await read_json(request)
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(username, str):  # missing key or not a string: real fails with a 500
            raise internal_error()
        try:
            user_id = self.users.add_user(username)
        except InvalidUsername as err:
            return json_response({"error": str(err)}, status=400)
        return json_response(user_id)

    # ---- userdata files -------------------------------------------------------------------
    async def get_userdata(self, request: Request) -> Response:
        user = self.userdata_user(request)
        try:
            path = self.users.existing(user, path_param(request, "file"))
        except (PathOutsideRoot, UserdataNotFound) as err:
            return file_refusal(err)
        return serve_file(request, path)  # aiohttp's FileResponse: a directory gets its 403

    async def post_userdata(self, request: Request) -> Response:
        user = self.userdata_user(request)
        try:
            path = self.users.writable(user, path_param(request, "file"), query_overwrite(request))
        except (PathOutsideRoot, UserdataExists) as err:
            return file_refusal(err)
        try:
            self.users.write(path, await read_body(request))
        except UserdataWriteFailed:  # real names the cause in the status line, the body empty
            set_reason(request.scope, REASON_INVALID_FILENAME)
            return empty(400)
        return json_response(self.users.relative(user, path, query_true(request, "full_info")))

    async def delete_userdata(self, request: Request) -> Response:
        user = self.userdata_user(request)
        try:
            self.users.delete(user, path_param(request, "file"))
        except (PathOutsideRoot, UserdataNotFound) as err:
            return file_refusal(err)
        return empty(204)

    async def move_userdata(self, request: Request) -> Response:
        user = self.userdata_user(request)
        try:
            dest = self.users.move(user, path_param(request, "file"), path_param(request, "dest"),
                                   query_overwrite(request))
        except (PathOutsideRoot, UserdataNotFound, UserdataExists) as err:
            return file_refusal(err)
        return json_response(self.users.relative(user, dest, query_true(request, "full_info")))

    # ---- listings -------------------------------------------------------------------------
    async def list_userdata(self, request: Request) -> Response:
        directory = request.query_params.get("dir", "")
        if not directory:  # checked before the user, like real
            return text(protocol.TEXT_DIR_NOT_PROVIDED, 400)
        user = self.userdata_user(request)
        try:
            listing = self.users.list_dir(user, directory, recurse=query_true(request, "recurse"),
                                          full_info=query_true(request, "full_info"),
                                          split=query_true(request, "split"))
        except PathOutsideRoot:
            return text(protocol.TEXT_INVALID_DIRECTORY, 403)
        except UserdataNotFound:
            return text(protocol.TEXT_DIR_NOT_FOUND, 404)
        return json_response(listing)

    async def list_userdata_v2(self, request: Request) -> Response:
        # The query value is URL-decoded once more on top of the usual query decoding.
        rel = urllib.parse.unquote(request.query_params.get("path", ""))
        try:
            user = self._resolve(request)
        except UnknownUser:
            return text(protocol.TEXT_INVALID_USER, 403)
        try:
            return json_response(self.users.tree(user, rel))
        except PathOutsideRoot:
            return text(protocol.TEXT_INVALID_PATH, 400)
        except UserdataNotFound:
            return text(protocol.TEXT_PATH_NOT_FOUND, 404)
        except NotADirectory:
            return text(protocol.TEXT_NOT_A_DIRECTORY, 400)


def register(router: Router, model: ComfyModel) -> None:
    routes = UserRoutes(model.users)
    # Registration order follows ComfyUI's: settings first, then users and userdata.
    router.add("GET", "/settings", routes.get_settings)
    router.add("GET", "/settings/{id}", routes.get_setting)
    router.add("POST", "/settings", routes.post_settings)
    router.add("POST", "/settings/{id}", routes.post_setting)
    router.add("GET", "/users", routes.get_users)
    router.add("POST", "/users", routes.post_users)
    router.add("GET", "/userdata", routes.list_userdata)
    router.add("GET", "/v2/userdata", routes.list_userdata_v2)
    router.add("GET", "/userdata/{file}", routes.get_userdata)
    router.add("POST", "/userdata/{file}", routes.post_userdata)
    router.add("DELETE", "/userdata/{file}", routes.delete_userdata)
    router.add("POST", "/userdata/{file}/move/{dest}", routes.move_userdata)
