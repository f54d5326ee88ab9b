"""Where the server's random names come from: prompt ids, WebSocket sids, user ids, temp file
names. Unseeded they are random as on real ComfyUI; seeded (the control plane's ``seed``) they
repeat from run to run, so a test can know them in advance."""
from __future__ import annotations

import random
import threading
import uuid


class IdSource:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rng: random.Random | None = None
        self.seed_value: int | None = None

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self.seed_value = seed
            self._rng = None if seed is None else random.Random(seed)

    def uuid4(self) -> uuid.UUID:
        """A version-4 UUID: random, or the seeded sequence's next."""
        with self._lock:
            if self._rng is None:
                return uuid.uuid4()
            return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def choice(self, letters: str) -> str:
        with self._lock:
            return (self._rng or random).choice(letters)


__all__ = ["IdSource"]
