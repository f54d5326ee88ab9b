"""A WebSocket client for the tests: it records every message of ``/ws`` in a reader thread, and
tests wait for messages with it, never on the clock (except :meth:`WsClient.assert_quiet`)."""
from __future__ import annotations

import contextlib
import io
import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket
from PIL import Image

TIMEOUT = 15.0
QUIET = 0.3  # how long "nothing more arrives" is watched for


# ---- a WebSocket client that records everything -----------------------------------------------
@dataclass
class Binary:
    """A binary frame: event type, then the format code (type 1) or metadata length (type 4)."""

    event: int
    second: int
    metadata: dict[str, Any] | None
    image: bytes
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Binary:
        event, second = struct.unpack(">II", raw[:8])
        if event == 4:
            return cls(event, second, json.loads(raw[8:8 + second]), raw[8 + second:], raw)
        return cls(event, second, None, raw[8:], raw)

    def picture(self) -> tuple[str | None, tuple[int, int], str]:
        with Image.open(io.BytesIO(self.image)) as image:
            return image.format, image.size, image.mode


Message = dict[str, Any] | Binary


def kind(m: Message) -> str:
    return f"binary{m.event}" if isinstance(m, Binary) else str(m["type"])


def label(m: Message) -> str:
    """``executing:2``, ``progress:1/3``, ``status:1``, ``binary1`` ..."""
    if isinstance(m, Binary):
        return kind(m)
    data = m["data"]
    if m["type"] in ("executing", "executed"):
        return f"{m['type']}:{data['node']}"
    if m["type"] == "progress":
        return f"progress:{data['value']}/{data['max']}"
    if m["type"] == "status":
        return f"status:{data['status']['exec_info']['queue_remaining']}"
    return str(m["type"])


class WsClient:
    """``/ws`` in a reader thread; tests wait for messages with :meth:`wait`."""

    def __init__(self, url: str, client_id: str | None) -> None:
        query = f"?clientId={client_id}" if client_id is not None else ""
        self.ws = websocket.create_connection(url.replace("http://", "ws://", 1) + "/ws" + query,
                                              timeout=TIMEOUT)
        self.ws.settimeout(None)
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except Exception:  # noqa: BLE001 - closed under us
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            message: Message = Binary.parse(data) if opcode == websocket.ABNF.OPCODE_BINARY else json.loads(data)
            with self._cond:
                self.messages.append(message)
                self._cond.notify_all()

    def send(self, payload: Any) -> None:
        self.ws.send(payload if isinstance(payload, str) else json.dumps(payload))

    def wait(self, predicate: Callable[[Message], bool], after: int = 0) -> int:
        """Index of the first message from ``after`` on that satisfies ``predicate``."""
        def find() -> int | None:
            return next((i for i in range(after, len(self.messages)) if predicate(self.messages[i])), None)

        with self._cond:
            assert self._cond.wait_for(lambda: find() is not None, TIMEOUT), f"timed out; got {self.labels()}"
            found = find()
            assert found is not None
            return found

    def wait_for(self, event: str, after: int = 0, **match: Any) -> int:
        return self.wait(lambda m: kind(m) == event and not isinstance(m, Binary)
                         and all(m["data"].get(k) == v for k, v in match.items()), after)

    def wait_done(self, prompt_id: str) -> int:
        return self.wait_for("executing", node=None, prompt_id=prompt_id)

    def wait_count(self, count: int) -> None:
        self.wait(lambda m: True, after=count - 1)

    def assert_quiet(self, count: int) -> None:
        """Nothing beyond the first ``count`` messages arrives within QUIET seconds."""
        time.sleep(QUIET)
        assert len(self.messages) == count, self.labels()[count:]

    def text(self, index: int) -> dict[str, Any]:
        message = self.messages[index]
        assert not isinstance(message, Binary), message
        return message

    def labels(self, start: int = 0, end: int | None = None) -> list[str]:
        with self._cond:
            return [label(m) for m in self.messages[start:end]]

    def of(self, event: str) -> list[Any]:
        return [m["data"] for m in self.messages if not isinstance(m, Binary) and m["type"] == event]

    def binaries(self) -> list[Binary]:
        return [m for m in self.messages if isinstance(m, Binary)]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already closed
            self.ws.send_close()
        self._thread.join(TIMEOUT)
        self.ws.shutdown()
