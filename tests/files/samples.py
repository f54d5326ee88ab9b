"""Small PNGs the file store tests store and convert, and the status of a refused operation."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakecomfy.core.files import FileError


def png(color: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (16, 16),
        text: dict[str, str] | None = None) -> bytes:
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


RED = png((255, 0, 0))
BLUE = png((0, 0, 255))
RGBA = png((0, 255, 0, 128), "RGBA", (16, 8))


def status_of(fn: object, *args: object) -> int:
    with pytest.raises(FileError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.status
