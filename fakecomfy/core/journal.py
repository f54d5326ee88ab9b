"""The journal: every request the server received and every WebSocket message it sent, newest
last, for a test to assert on (``received POST /prompt with client_id X``, ``sent 20 progress
messages to sid Y``). Bounded: the oldest entries go first."""
from __future__ import annotations

import collections
import fnmatch
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

MAX_ENTRIES = 10_000
_MISSING = object()


def _field(value: Any, dotted: str) -> Any:
    """``a.b.c`` of nested JSON objects; _MISSING where the path does not exist."""
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


class Journal:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_entries)
        self._messages: collections.deque[tuple[float, str | None, str, str | int]] = collections.deque(
            maxlen=max_entries)

    # ---- recording (the wire layer) ----------------------------------------------------------
    def request(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                status: int | None) -> None:
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body.decode("utf-8"))
            except ValueError:
                parsed = None
        record = {"time": time.time(), "method": method, "path": path, "query": query,
                  "headers": dict(headers), "body": parsed, "size": len(body), "status": status}
        with self._lock:
            self._requests.append(record)

    def message(self, sid: str | None, event: str, frame: str | bytes) -> None:
        """A message sent to ``sid`` (None: to every socket); JSON frames keep their text."""
        entry = (time.time(), sid, event, frame if isinstance(frame, str) else len(frame))
        self._messages.append(entry)  # deque.append is atomic

    def counts(self) -> dict[str, int]:
        return {"requests": len(self._requests), "messages": len(self._messages)}

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._messages.clear()

    # ---- reading (the control plane) ---------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None,
                 body: Mapping[str, Any] | None = None, status: int | None = None) -> list[dict[str, Any]]:
        """Received requests, oldest first: ``path`` may be a glob; ``body`` maps dotted field
        names of a JSON body to the values they must have."""
        with self._lock:
            records = list(self._requests)
        out = []
        for record in records:
            if method is not None and record["method"] != method.upper():
                continue
            if path is not None and not fnmatch.fnmatchcase(record["path"], path):
                continue
            if status is not None and record["status"] != status:
                continue
            if body and any(_field(record["body"], k) != v for k, v in body.items()):
                continue
            out.append(dict(record))
        return out

    def messages(self, event: str | None = None, sid: str | None = None,
                 prompt_id: str | None = None) -> list[dict[str, Any]]:
        """Sent messages, oldest first: ``sid`` matches messages to that client and broadcasts;
        ``event`` is a message type (``binary`` for binary frames)."""
        out = []
        for sent_at, to, kind, frame in list(self._messages):
            if event is not None and kind != event:
                continue
            if sid is not None and to is not None and to != sid:
                continue
            record: dict[str, Any] = {"time": sent_at, "sid": to, "type": kind}
            if isinstance(frame, str):
                record["data"] = json.loads(frame).get("data")
            else:
                record["size"] = frame
            if prompt_id is not None and not (isinstance(record.get("data"), dict)
                                              and record["data"].get("prompt_id") == prompt_id):
                continue
            out.append(record)
        return out


__all__ = ["MAX_ENTRIES", "Journal"]
