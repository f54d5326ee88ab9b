"""Responses shaped like aiohttp's: JSON with default separators, empty bodies, raised errors."""
from __future__ import annotations

from typing import Any

from starlette.responses import Response

from fakecomfy import jsontext, protocol


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """aiohttp's ``web.json_response``: ``json.dumps`` with its default separators."""
    body = jsontext.dumps(data).encode("utf-8")
    return Response(body, status_code=status, media_type=protocol.JSON_MEDIA, headers=headers)


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A bodyless response: ``Content-Length: 0`` and no Content-Type, like ``web.Response(status=N)``."""
    return Response(b"", status_code=status, headers=headers)


def text(body: str, status: int = 200) -> Response:
    return Response(body.encode("utf-8"), status_code=status, media_type=protocol.TEXT_MEDIA)


class HTTPError(Exception):
    """An error aiohttp would *raise* (not return): it bypasses the CORS headers, like real."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def internal_error() -> HTTPError:
    return HTTPError(text(protocol.TEXT_500, 500))


def unauthorized() -> HTTPError:
    return HTTPError(text(protocol.TEXT_401, 401))


def method_not_allowed(allowed: set[str]) -> Response:
    resp = text(protocol.TEXT_405, 405)
    resp.headers[protocol.HEADER_ALLOW] = ",".join(sorted(allowed))
    return resp


def request_too_large(limit: int) -> HTTPError:
    return HTTPError(text(protocol.TEXT_413.format(limit=limit), 413))
