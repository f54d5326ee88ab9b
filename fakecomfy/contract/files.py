"""Uploads and ``/view``: one image and one mask of this run's own name in ``input/`` (the API
cannot delete them, so they stay)."""
from __future__ import annotations

import json
import struct
import zlib

from fakecomfy import protocol
from fakecomfy.contract.client import ContractClient


def tiny_png(width: int = 8, height: int = 8, rgba: tuple[int, int, int, int] = (200, 40, 40, 255)) -> bytes:
    """A valid RGBA PNG of one colour, written by hand (no Pillow needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgba) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def check_files(client: ContractClient) -> None:
    name = f"{client.own_name}.png"
    up = client.call("uploadImage", "POST", "/upload/image", label="POST /upload/image",
                     files={"image": (name, tiny_png(), protocol.PNG_MEDIA)}, data={"type": "input"},
                     check_body=lambda r: [] if r.json().get("name") == name else
                     [f"stored as {r.json().get('name')!r}, not {name!r}"])
    if up is None or up.status_code != 200:
        client.skip("viewFile", "GET /view", "the upload failed")
        return
    client.both("viewFile", "GET", "/view", params={"filename": name, "type": "input"},
                check_body=lambda r: [] if r.content.startswith(b"\x89PNG") else ["not the uploaded PNG"])
    client.call("viewFile", "GET", "/view", params={"filename": name, "type": "input", "preview": "webp;50"},
                label="GET /view (preview=webp;50)")
    mask = f"{client.own_name}-mask.png"
    ref = json.dumps({"filename": name, "type": "input", "subfolder": ""})
    client.call("uploadMask", "POST", "/upload/mask", label="POST /upload/mask",
                files={"image": (mask, tiny_png(rgba=(0, 0, 0, 128)), protocol.PNG_MEDIA)},
                data={"type": "input", "original_ref": ref})


__all__ = ["check_files", "tiny_png"]
