"""Reading requests the way aiohttp does: bodies bounded by the server's client_max_size, gzip
and deflate bodies decompressed first (aiohttp's parser decodes them, auto_decompress), text in
the charset the Content-Type declares, and a repeated query parameter read as its first value."""
from __future__ import annotations

import email.policy
import functools
import json
import zlib
from email.message import EmailMessage
from email.parser import HeaderParser
from typing import Any

from starlette.datastructures import FormData, QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.types import Scope

from fakecomfy.web.responses import internal_error, request_too_large

MAX_BODY_KEY = "fakecomfy.max_body"


class FirstValueQueryParams(QueryParams):
    """Query parameters whose lookups (``[]``, ``get``, ``in``) give a repeated key's *first*
    value, as aiohttp's MultiDict does (Starlette's give the last); ``getlist`` and
    ``multi_items`` still give every value in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        first: dict[str, str] = {}
        for key, value in self._list:
            first.setdefault(key, value)
        self._dict = first


def first_value_query(scope: Scope) -> QueryParams:
    """The query string of an HTTP or WebSocket scope as aiohttp's ``request.query``."""
    return FirstValueQueryParams(scope.get("query_string", b""))


class ComfyRequest(Request):
    """Starlette's Request whose ``query_params`` read repeated keys as aiohttp does."""

    @property
    def query_params(self) -> QueryParams:
        if not hasattr(self, "_query_params"):
            self._query_params = first_value_query(self.scope)
        return self._query_params


async def read_body(request: Request) -> bytes:
    """The whole body, or a raised 413 once it passes the upload limit (nothing is stored then)."""
    cached = getattr(request, "_body", None)
    if cached is not None:
        return bytes(cached)
    limit: int = request.scope.get(MAX_BODY_KEY, 100 * 1024 * 1024)
    declared = next((v for k, v in request.scope["headers"] if k == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(request)
        raise request_too_large(limit)
    # The ASGI messages directly (Starlette's stream() is an async generator per request).
    receive = request.receive
    decoder = _Decoder.for_request(request)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if decoder is not None:
            chunk = decoder.decode(chunk, more=message.get("more_body", False))
        size += len(chunk)
        if size > limit:  # aiohttp counts the decoded bytes
            raise request_too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # starlette's own cache: body(), form() and stream() reuse these bytes
    return body


class _Decoder:
    """An incremental gzip or deflate decoder; a body it cannot decode is aiohttp's 500 (the
    handler's read raises). br and zstd stay encoded: aiohttp needs extra packages for them."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib: zlib._Decompress | None = None

    @classmethod
    def for_request(cls, request: Request) -> _Decoder | None:
        # aiohttp's C parser keeps the last Content-Encoding header it meets
        encodings = [v for k, v in request.scope["headers"] if k == b"content-encoding"]
        encoding = encodings[-1].decode("latin-1").lower() if encodings else ""
        return cls(encoding) if encoding in ("gzip", "deflate") else None

    def decode(self, chunk: bytes, more: bool) -> bytes:
        if self._zlib is None:
            if not chunk:
                return b""
            # like aiohttp: "deflate" without the zlib header (RFC 1950) is raw deflate
            raw = self._encoding == "deflate" and chunk[0] & 0xF != 8
            bits = 16 + zlib.MAX_WBITS if self._encoding == "gzip" else -zlib.MAX_WBITS if raw else zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(bits)
        try:
            return self._zlib.decompress(chunk) + (b"" if more else self._zlib.flush())
        except zlib.error:
            raise internal_error() from None


async def _drain(request: Request) -> None:
    """Let the client finish sending (real aiohttp does not reset the connection)."""
    try:
        async for _ in request.stream():
            pass
    except Exception:  # noqa: BLE001 - the client went away; nothing to answer any more
        pass


@functools.lru_cache(maxsize=64)
def declared_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type, parsed as aiohttp parses it: by the standard
    library's e-mail header parser with the HTTP policy (quotes, case and spacing forgiven)."""
    message = HeaderParser(EmailMessage, policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}")
    params = dict(message.get_params(())[1:])  # the first pair is the media type itself
    charset = params.get("charset")
    return str(charset) if charset is not None else None


async def read_text(request: Request) -> str:
    """``await request.text()`` of aiohttp: the body decoded with the declared charset, UTF-8
    where none (or an empty one) is named; bytes the charset cannot decode, or a charset Python
    does not know as a text encoding, are a 500 (the handler's read raises)."""
    body = await read_body(request)
    content_type = request.headers.get("content-type")
    charset = declared_charset(content_type) if content_type is not None else None
    try:
        return body.decode(charset or "utf-8")
    except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        raise internal_error() from None


async def read_json(request: Request) -> Any:
    """``await request.json()`` of aiohttp: any Content-Type, the body read as text in its
    charset (:func:`read_text`), a 500 on text that is not JSON (a UTF-8 byte order mark
    included: ``json.loads`` of text refuses it)."""
    text = await read_text(request)
    try:
        return json.loads(text)
    except ValueError:
        raise internal_error() from None


async def read_form(request: Request) -> FormData | None:
    """The multipart/urlencoded form, or None when the body is not a form: then, like aiohttp's
    ``request.post()``, the body is not read (no 413, no wait for it)."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return None
    await read_body(request)
    try:
        return await request.form(max_files=10_000, max_fields=10_000, max_part_size=1 << 40)
    except Exception:  # noqa: BLE001 - a body that is no form is answered as none
        return None
