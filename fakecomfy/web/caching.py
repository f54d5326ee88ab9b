"""``Cache-Control`` as ComfyUI's cache middleware sets it, from the request path and the status.

Real sets it only where the handler *returned* a response (raised errors such as its 405s and
500s get none) and only where the handler left the header unset. Its static route answers a
missing file with a response that is still a 200 when the middleware looks at it, so those
404s get a success's header (the caller passes ``status=200`` for them).
"""
from __future__ import annotations

from starlette.responses import Response

from fakecomfy import protocol

ONE_HOUR = 3600
ONE_DAY = 86400
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CACHED_STATUSES = frozenset({200, 201, 202, 203, 204, 205, 206, 301, 308})
TEMPORARY_REDIRECTS = frozenset({302, 303, 307})


def cache_control_for(path: str, status: int) -> str | None:
    """The header value real's middleware gives an answer of ``status`` to ``path``, or None."""
    last = path.rsplit("/", 1)[-1]
    if path.endswith((".js", ".css")) or (last.startswith("index") and last.endswith(".json")):
        return protocol.NO_CACHE
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return None
    if status == 404:
        return f"public, max-age={ONE_HOUR}"
    if status in CACHED_STATUSES:
        return f"public, max-age={ONE_DAY}"
    if status in TEMPORARY_REDIRECTS:
        return protocol.NO_CACHE
    return None  # 304 and the rest: none


def apply_cache_control(path: str, response: Response, status: int | None = None) -> Response:
    """Set ``Cache-Control`` on ``response`` where real's middleware would and it is unset."""
    if protocol.HEADER_CACHE_CONTROL.lower() not in response.headers:
        value = cache_control_for(path, response.status_code if status is None else status)
        if value is not None:
            response.headers[protocol.HEADER_CACHE_CONTROL] = value
    return response
