"""Users, their settings and their userdata files, as ComfyUI 0.8.0's user manager keeps them.

Everything lives under the user directory: ``users.json`` (the id → name map of multi-user
mode) and one root per user, ``<user-dir>/<id>/``, holding ``comfy.settings.json`` and the
userdata files. Relative paths are resolved with ``os.path.abspath`` and checked with
``os.path.commonpath`` like real, so a path never leaves its user's root. Error outcomes are
exceptions; the route modules map them to each route's status code.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, TypedDict

from fakecomfy import protocol

DEFAULT_USER = "default"
SYSTEM_USER_PREFIX = "__"
USERS_FILE = "users.json"
SETTINGS_FILE = "comfy.settings.json"

# Every run of characters outside [a-zA-Z0-9-_] becomes one "-" in a user id.
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9\-_]+")


class FileInfo(TypedDict):
    """``full_info=true`` shape of a userdata file (times are float epoch seconds)."""

    path: str
    size: int
    modified: float
    created: float


class TreeEntry(TypedDict, total=False):
    """One ``/v2/userdata`` entry; files also carry ``size`` and ``modified``."""

    name: str
    path: str
    type: str
    size: int
    modified: float


ListEntry = str | list[str] | FileInfo


class UserError(Exception):
    """Base of the outcomes a route turns into an error response."""


class UnknownUser(UserError):
    """The request names no existing user (or, in multi-user mode, no user at all)."""


class InvalidUsername(UserError):
    """``POST /users`` refused the name; ``str(err)`` is ComfyUI's ``error`` text."""


class PathOutsideRoot(UserError):
    """A relative path that would leave the user's root directory."""


class UserdataNotFound(UserError):
    """The file or directory does not exist."""


class UserdataExists(UserError):
    """``overwrite=false`` and the target already exists."""


class UserdataWriteFailed(UserError):
    """The file could not be written (a directory is in the way, a bad name)."""


class NotADirectory(UserError):
    """A directory listing of something that is a file."""


class UserManager:
    """The users map, per-user settings and per-user files below ``user_dir``."""

    def __init__(self, user_dir: Path, multi_user: bool) -> None:
        self.user_dir = user_dir
        self.multi_user = multi_user
        self.user_dir.mkdir(parents=True, exist_ok=True)
        self.users: dict[str, str] = self._load_users() if multi_user else {DEFAULT_USER: DEFAULT_USER}
        if not multi_user:
            # Present on every real install that has run its frontend: /users reports migrated.
            (self.user_dir / DEFAULT_USER).mkdir(exist_ok=True)

    # ---- users ----------------------------------------------------------------------------
    @property
    def users_file(self) -> Path:
        return self.user_dir / USERS_FILE

    def _load_users(self) -> dict[str, str]:
        if not self.users_file.is_file():
            return {}
        with open(self.users_file, encoding="utf-8") as f:
            loaded: dict[str, str] = json.load(f)
        return loaded

    def add_user(self, username: str) -> str:
        """Create a user and return its id, ``sanitised(name) + "_" + uuid4``.

        The duplicate check compares the raw name, before stripping (a quirk of real).
        Single-user mode writes ``users.json`` too, although it never reads it back.
        """
        if username in self.users.values():
            raise InvalidUsername(protocol.ERR_DUPLICATE_USERNAME)
        name = username.strip()
        if not name:
            raise InvalidUsername(protocol.ERR_USERNAME_NOT_PROVIDED)
        user_id = _ID_UNSAFE.sub("-", name)
        if name.startswith(SYSTEM_USER_PREFIX) or user_id.startswith(SYSTEM_USER_PREFIX):
            raise InvalidUsername(protocol.ERR_SYSTEM_USER_PREFIX)
        user_id = f"{user_id}_{uuid.uuid4()}"
        self.users[user_id] = name
        with open(self.users_file, "w", encoding="utf-8") as f:
            json.dump(self.users, f)
        return user_id

    def migrated(self) -> bool:
        """Single-user ``/users``: whether the default user's directory exists."""
        return os.path.exists(self.user_root(DEFAULT_USER))

    def resolve_user(self, header: str | None) -> str:
        """The user id a request acts as, from its ``comfy-user`` header value.

        Single-user mode ignores the header. Multi-user mode needs an existing id; without the
        header the user is ``default``, which does not exist there.
        """
        user = DEFAULT_USER
        if self.multi_user and header is not None:
            user = header
            if user.startswith(SYSTEM_USER_PREFIX):
                raise UnknownUser(user)
        if user not in self.users:
            raise UnknownUser(user)
        return user

    # ---- paths ----------------------------------------------------------------------------
    def user_root(self, user: str) -> str:
        """Absolute root of a user's files (a string: checks use ``os.path`` like real)."""
        root_dir = str(self.user_dir)
        root = os.path.abspath(os.path.join(root_dir, user))
        if os.path.commonpath((root_dir, root)) != root_dir:
            raise PathOutsideRoot(user)
        return root

    def resolve(self, user: str, rel: str | None, create_parent: bool = True) -> str:
        """Absolute path of ``rel`` inside the user's root (the root itself for None).

        A name containing ``%`` is URL-decoded once more, like real. With ``create_parent``
        the parent directory is created, even when the file is then not found (real ComfyUI does so).
        """
        root = self.user_root(user)
        path = root
        if rel is not None:
            if "%" in rel:
                rel = urllib.parse.unquote(rel)
            path = os.path.abspath(os.path.join(root, rel))
            if os.path.commonpath((root, path)) != root:
                raise PathOutsideRoot(rel)
        parent = os.path.dirname(path)
        if create_parent and not os.path.exists(parent):
            os.makedirs(parent, exist_ok=True)
        return path

    def relative(self, user: str, path: str, full_info: bool) -> str | FileInfo:
        """How a written or moved file is reported: its path from the user's root, or its info."""
        root = self.resolve(user, None)
        return file_info(path, root) if full_info else os.path.relpath(path, root)

    # ---- settings -------------------------------------------------------------------------
    def settings(self, user: str) -> dict[str, Any]:
        """All settings of a user; ``{}`` when there are none or the file is corrupt."""
        path = self.resolve(user, SETTINGS_FILE)
        if not os.path.isfile(path):
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                loaded: dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            return {}
        return loaded

    def save_settings(self, user: str, settings: dict[str, Any]) -> None:
        with open(self.resolve(user, SETTINGS_FILE), "w", encoding="utf-8") as f:
            f.write(json.dumps(settings, indent=4))

    def merge_settings(self, user: str, current: dict[str, Any], new: Any) -> None:
        """Store ``current`` updated with the mapping ``new`` (TypeError for anything else)."""
        if not isinstance(new, dict):
            raise TypeError(f"settings must be a JSON object, got {type(new).__name__}")
        self.save_settings(user, {**current, **new})

    def setting(self, user: str, key: str) -> Any:
        """One setting, or None when the user lacks it."""
        settings = self.settings(user)
        return settings[key] if key and key in settings else None

    def set_setting(self, user: str, current: dict[str, Any], key: str, value: Any) -> None:
        current[key] = value
        self.save_settings(user, current)

    # ---- userdata files -------------------------------------------------------------------
    def existing(self, user: str, rel: str) -> str:
        """Path of an existing file or directory (creating its parent, like real)."""
        path = self.resolve(user, rel)
        if not os.path.exists(path):
            raise UserdataNotFound(rel)
        return path

    def writable(self, user: str, rel: str, overwrite: bool) -> str:
        """Path a write may go to; checked before the request body is read, like real."""
        path = self.resolve(user, rel)
        if not overwrite and os.path.exists(path):
            raise UserdataExists(rel)
        return path

    def write(self, path: str, data: bytes) -> None:
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as err:
            raise UserdataWriteFailed(path) from err

    def delete(self, user: str, rel: str) -> None:
        os.remove(self.existing(user, rel))

    def move(self, user: str, source: str, dest: str, overwrite: bool) -> str:
        """Move within the user's root; returns the destination path (``shutil.move`` rules)."""
        src_path = self.existing(user, source)
        dest_path = self.writable(user, dest, overwrite)
        shutil.move(src_path, dest_path)
        return dest_path

    def list_dir(self, user: str, rel_dir: str, recurse: bool, full_info: bool,
                 split: bool) -> list[ListEntry]:
        """Files of a directory in filesystem order (``glob``, so dot-files are skipped)."""
        path = self.resolve(user, rel_dir)
        if not os.path.exists(path):
            raise UserdataNotFound(rel_dir)
        parts = ("**", "*") if recurse else ("*",)
        found = glob.glob(os.path.join(glob.escape(path), *parts), recursive=recurse)
        out: list[ListEntry] = []
        for full in found:
            if not os.path.isfile(full):
                continue
            if full_info:
                out.append(file_info(full, path))
                continue
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            out.append([rel, *rel.split("/")] if split else rel)
        return out

    def tree(self, user: str, rel: str) -> list[TreeEntry]:
        """``/v2/userdata``: everything below ``rel``, directories first, then by lower-cased name.

        A missing root directory is an empty list (a new user); a missing sub-path is not found.
        """
        base = self.resolve(user, None, create_parent=False)
        target = self.resolve(user, rel, create_parent=False) if rel else base
        if not os.path.exists(target):
            if target == base:
                return []
            raise UserdataNotFound(rel)
        if not os.path.isdir(target):
            raise NotADirectory(rel)
        entries: list[TreeEntry] = []
        for dirpath, dirnames, filenames in os.walk(target):
            for name in dirnames:
                entries.append({"name": name, "path": _rel(os.path.join(dirpath, name), base),
                                "type": "directory"})
            for name in filenames:
                full = os.path.join(dirpath, name)
                entry: TreeEntry = {"name": name, "path": _rel(full, base), "type": "file"}
                try:
                    st = os.stat(full)
                except OSError:  # vanished or unreadable: listed without size, like real
                    pass
                else:
                    entry["size"] = st.st_size
                    entry["modified"] = st.st_mtime
                entries.append(entry)
        entries.sort(key=lambda e: (e["type"] != "directory", e["name"].lower()))
        return entries


def file_info(path: str, relative_to: str) -> FileInfo:
    return {
        "path": _rel(path, relative_to),
        "size": os.path.getsize(path),
        "modified": os.path.getmtime(path),
        "created": os.path.getctime(path),
    }


def _rel(path: str, start: str) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")
