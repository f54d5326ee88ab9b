"""The whole fake server as plain objects: what routes call into, what the control plane resets."""
from __future__ import annotations

from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.users import UserManager
from fakecomfy.settings import Settings


class ComfyModel:
    """One server's state. Knows nothing about HTTP."""

    def __init__(self, settings: Settings, paths: FolderPaths) -> None:
        self.settings = settings
        self.paths = paths
        paths.create_dirs()
        self.catalog = NodeCatalog(paths, settings.object_info_files)
        self.files = FileStore(paths)
        self.users = UserManager(paths.user, multi_user=settings.multi_user)
