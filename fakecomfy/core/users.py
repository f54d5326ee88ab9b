"""Users, settings and userdata (placeholder, being written)."""
from __future__ import annotations

from pathlib import Path


class UserManager:
    def __init__(self, user_dir: Path, multi_user: bool) -> None:
        self.user_dir = user_dir
        self.multi_user = multi_user
