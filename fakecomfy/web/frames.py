"""The bytes of every WebSocket message: JSON text exactly as ``json.dumps`` writes it, and the
binary preview frames.

The engine and the model send plain data; this is where it becomes wire text, with caches for
the messages sent most: a ``status`` per queue length, and the entries of ``progress_state``
(each message carries every node of the prompt seen so far, so an entry is encoded once, when it
changes, not once per message).
"""
from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageOps

from fakecomfy import jsontext, protocol
from fakecomfy.core.execution import Preview
from fakecomfy.protocol import PreviewFormat

FrameCheck = Callable[[str], None]


class _ProgressStateText:
    """The text of a prompt's ``progress_state`` messages, entry by entry.

    The engine replaces a node's entry (a new dict) whenever it changes and never changes one in
    place, so an entry that is the same object as last time has the same text.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prompt_id: str | None = None
        self._entries: dict[str, tuple[object, str]] = {}

    def text(self, data: dict[str, Any]) -> str | None:
        """The data's text, or None when it is not the engine's shape (then dumps encodes it)."""
        prompt_id, nodes = data.get("prompt_id"), data.get("nodes")
        if type(prompt_id) is not str or type(nodes) is not dict or len(data) != 2 \
                or next(iter(data)) != "prompt_id":
            return None
        with self._lock:
            if prompt_id != self._prompt_id:
                self._prompt_id, self._entries = prompt_id, {}
            parts = []
            for node_id, entry in nodes.items():
                known = self._entries.get(node_id)
                if known is None or known[0] is not entry:
                    known = (entry, jsontext.dumps(node_id) + ": " + jsontext.dumps(entry))
                    self._entries[node_id] = known
                parts.append(known[1])
        return '{"prompt_id": ' + jsontext.string(prompt_id) + ', "nodes": {' + ", ".join(parts) + "}}"


class FrameEncoder:
    """JSON frames ``{"type": event, "data": data}`` and binary preview frames.

    ``check``, when given, sees every JSON frame (the contract check of the test suite).
    """

    _MAX_CACHED = 1024  # event types (ComfyUI's plus what custom nodes send), queue lengths

    def __init__(self, check: FrameCheck | None = None) -> None:
        self.check = check
        # '{"type": <event>, "data": ' per event: a frame is this, the data's text and "}"
        self._heads: dict[str, str] = {}
        self._statuses: dict[int, str] = {}
        self._progress_state = _ProgressStateText()

    def json(self, event: str, data: Any) -> str:
        head = self._heads.get(event)
        if head is None:
            head = '{"type": ' + jsontext.dumps(event) + ', "data": '
            if len(self._heads) < self._MAX_CACHED:
                self._heads[event] = head
        frame = head + self._data_text(event, data) + "}"
        if self.check is not None:
            self.check(frame)
        return frame

    def _data_text(self, event: str, data: Any) -> str:
        if event == protocol.EV_PROGRESS_STATE and type(data) is dict:
            text = self._progress_state.text(data)
            if text is not None:
                return text
        elif event == protocol.EV_STATUS:
            remaining = _queue_remaining(data)
            if remaining is not None:
                cached = self._statuses.get(remaining)
                if cached is None:
                    cached = jsontext.dumps(data)
                    if len(self._statuses) < self._MAX_CACHED:
                        self._statuses[remaining] = cached
                return cached
        return jsontext.dumps(data)

    @staticmethod
    def preview(preview: Preview, metadata: dict[str, Any] | None) -> bytes:
        """A preview frame: type 1 (format code, image) without ``metadata``, else type 4
        (metadata length, metadata JSON as json.dumps writes it, image)."""
        image = encode_preview(preview)
        if metadata is None:
            return struct.pack(">II", protocol.BIN_PREVIEW_IMAGE, protocol.IMAGE_FORMAT_CODES[preview.format]) + image
        meta = json.dumps(metadata).encode("utf-8")
        return struct.pack(">II", protocol.BIN_PREVIEW_IMAGE_WITH_METADATA, len(meta)) + meta + image


def _queue_remaining(data: Any) -> int | None:
    """N for the broadcast status ``{"status": {"exec_info": {"queue_remaining": N}}}``."""
    if type(data) is not dict or len(data) != 1:
        return None
    status = data.get("status")
    if type(status) is not dict or len(status) != 1:
        return None
    info = status.get("exec_info")
    if type(info) is not dict or len(info) != 1:
        return None
    remaining = info.get("queue_remaining")
    return remaining if type(remaining) is int else None


def encode_preview(preview: Preview) -> bytes:
    """The image bytes of a preview frame, encoded like ComfyUI's ``send_image``: fitted with
    bilinear resampling, JPEG quality 95, PNG compress level 1."""
    image = preview.image
    if preview.max_size:
        image = ImageOps.contain(image, (preview.max_size, preview.max_size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if preview.format is PreviewFormat.PNG:
        image.save(buf, format="PNG", compress_level=1)
    else:
        image.convert("RGB").save(buf, format="JPEG", quality=95)
    return buf.getvalue()
