"""Files served the way aiohttp's ``web.FileResponse`` serves them (real ComfyUI's ``/``,
``/view`` for unconverted files, ``/userdata/{file}``), without aiohttp.

:func:`serve_file` decides the answer from the file's ``stat`` and the request's headers, in
aiohttp 3.14's order: a ``.br``/``.gz`` sibling when ``Accept-Encoding`` names the encoding;
``If-Match`` and ``If-Unmodified-Since`` (412), ``If-None-Match`` and ``If-Modified-Since`` (304);
then ``If-Range`` and a single ``Range`` (206, or 416 with ``bytes */N`` for anything aiohttp
cannot parse, multiple ranges included). Starlette's own ``FileResponse`` answers several of
these differently (multipart ranges, 400 for a malformed range, an MD5 ETag), so it is not used.
"""
from __future__ import annotations

import datetime
import math
import mimetypes
import os
import re
import stat
from collections.abc import Sequence
from email.utils import formatdate, parsedate
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fakecomfy import protocol

# Header names as ASGI carries them (lower case), and the values aiohttp writes.
ACCEPT_RANGES = (b"accept-ranges", b"bytes")
VARY_ENCODING = (b"vary", b"Accept-Encoding")
CONTENT_TYPE = b"content-type"
CONTENT_LENGTH = b"content-length"
CONTENT_ENCODING = b"content-encoding"
CONTENT_RANGE = b"content-range"
ETAG = b"etag"
LAST_MODIFIED = b"last-modified"
RANGE_VALUE = "bytes {start}-{last}/{size}"
UNSATISFIED_RANGE_VALUE = "bytes */{size}"

# aiohttp guesses from Python's built-in table only (no system mime.types), with the
# compression suffixes mapped to their own types instead of being treated as encodings.
FILE_TYPES = mimetypes.MimeTypes()
FILE_TYPES.encodings_map.clear()
for _ext, _ctype in protocol.COMPRESSED_FILE_MEDIA.items():
    FILE_TYPES.add_type(_ctype, _ext)

# Checked in this order; the encoding is looked for as a substring of Accept-Encoding.
ENCODED_SIBLINGS = ((".br", "br"), (".gz", "gzip"))
RANGE = re.compile(r"bytes=(\d*)-(\d*)$", re.ASCII | re.IGNORECASE)
_ETAG_CHARS = r"[!\x23-\x7E\x80-\xff]+"
# One entity tag of a list and its separator, or (group 4) the character where the list breaks.
ETAG_LIST = re.compile(rf'((W/)?"({_ETAG_CHARS})")(?:\s*,\s*|$)|(.)')
ETAG_ANY = "*"
BODY_CHUNK = 256 * 1024  # bodies up to this size are read and sent in one piece


class FileResponse(Response):
    """A decided file answer: status and headers, and the bytes ``offset:offset+count`` of
    ``path`` as body (none for HEAD). Without a ``Content-Length`` the server frames the empty
    body as chunked, as aiohttp does for its 403/404/416."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], path: Path | None = None,
                 offset: int = 0, count: int = 0) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.background = None
        self.path = path
        self.offset = offset
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.path is None or self.count == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        if self.count <= BODY_CHUNK:  # a small file: one read, no thread hop
            with self._open() as f:
                f.seek(self.offset)
                await send({"type": "http.response.body", "body": f.read(self.count)})
            return
        await self._stream(send)

    def _open(self) -> BinaryIO:
        assert self.path is not None
        return open(self.path, "rb")

    async def _stream(self, send: Send) -> None:
        left = self.count
        f = await anyio.to_thread.run_sync(self._open)
        try:
            f.seek(self.offset)
            while left > 0:
                chunk = await anyio.to_thread.run_sync(f.read, min(BODY_CHUNK, left))
                if not chunk:  # the file shrank after its stat
                    break
                left -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        finally:
            f.close()
        if left > 0:
            await send({"type": "http.response.body", "body": b""})


def serve_file(request: Request, path: str | os.PathLike[str],
               headers: Sequence[tuple[str, str]] = ()) -> FileResponse:
    """Answer ``request`` with the file at ``path`` like aiohttp's ``FileResponse(path, headers=...)``.

    ``headers`` go first and stay on every answer (a ``Content-Type`` among them stops the
    guess); values are written as UTF-8, as aiohttp writes them."""
    path = Path(path)
    given = [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers]
    req = request.headers
    head = request.method == "HEAD"
    try:
        chosen, st, encoding = _pick_file(path, (_field(req, "accept-encoding") or "").lower())
    except PermissionError:
        return _bodyless(403, given, head)
    except OSError:
        return _bodyless(404, given, head)
    if chosen is None:  # a directory, socket, device...
        return _bodyless(403, given, head)
    validators = [(ETAG, _etag(st).encode("latin-1")), (LAST_MODIFIED, _http_date(st.st_mtime))]
    refusal = _preconditions(req, st)
    if refusal == 412:
        return FileResponse(412, [*given, (CONTENT_LENGTH, b"0")])
    if refusal == 304:
        return FileResponse(304, [*given, *validators])
    size = st.st_size
    try:
        span = _span(req, st)
    except RangeRefused:
        return _bodyless(416, [*given, (CONTENT_RANGE, UNSATISFIED_RANGE_VALUE.format(size=size).encode())], head)
    start, count = span or (0, size)
    out = list(given)
    if not _has(given, CONTENT_TYPE):
        guessed = FILE_TYPES.guess_type(path)[0] or protocol.OCTET_MEDIA
        out.append((CONTENT_TYPE, guessed.encode("latin-1")))
    if encoding is not None:
        out += [(CONTENT_ENCODING, encoding.encode("latin-1")), VARY_ENCODING]
    out += [*validators, (CONTENT_LENGTH, b"%d" % count), ACCEPT_RANGES]
    if span is not None:
        out.append((CONTENT_RANGE, RANGE_VALUE.format(start=start, last=start + count - 1, size=size).encode()))
    return FileResponse(200 if span is None else 206, out, None if head else chosen, start, count)


# ---- the steps ------------------------------------------------------------------------------
def _pick_file(path: Path, accept_encoding: str) -> tuple[Path | None, os.stat_result, str | None]:
    """The file to send: an encoded regular-file sibling the client accepts (not followed if a
    link), else ``path`` itself (None if not a regular file)."""
    for suffix, encoding in ENCODED_SIBLINGS:
        if encoding not in accept_encoding:
            continue
        sibling = path.with_suffix(path.suffix + suffix)
        try:
            st = sibling.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return sibling, st, encoding
    st = path.stat()
    return (path if stat.S_ISREG(st.st_mode) else None), st, None


def _preconditions(req: Headers, st: os.stat_result) -> int | None:
    """412 or 304 as the conditional headers decide, else None."""
    etag = _etag_value(st)
    if_match = _etag_list(_field(req, "if-match"))
    if if_match is not None and not _etag_matches(etag, if_match, weak=False):
        return 412
    unmodified_since = _parse_date(_field(req, "if-unmodified-since"))
    if unmodified_since is not None and if_match is None and st.st_mtime > unmodified_since:
        return 412
    if_none_match = _etag_list(_field(req, "if-none-match"))
    if if_none_match is not None and _etag_matches(etag, if_none_match, weak=True):
        return 304
    modified_since = _parse_date(_field(req, "if-modified-since"))
    if modified_since is not None and if_none_match is None and st.st_mtime <= modified_since:
        return 304
    return None


def _span(req: Headers, st: os.stat_result) -> tuple[int, int] | None:
    """(first byte, count) of a range to send, or None for the whole file: the ``Range`` is read
    unless an ``If-Range`` date is before the modification time (an entity tag there is not a
    date, so it does not stop the range). Raises :class:`RangeRefused` for a 416."""
    if_range = _parse_date(_field(req, "if-range"))
    if if_range is not None and st.st_mtime > if_range:
        return None
    wanted = _parse_range(_field(req, "range"))
    if wanted is None:
        return None
    size = st.st_size
    first, end = wanted
    if first < 0 and end is None:  # a suffix: the last bytes, at most the whole file
        start = max(first + size, 0)
        count = size - start
    else:
        start = first
        count = min(end if end is not None else size, size) - start
    if start >= size:
        raise RangeRefused(f"bytes={first}-: the file has {size} bytes")
    return start, count


class RangeRefused(ValueError):
    """A ``Range`` aiohttp does not serve: not one ``bytes=first-last``, or past the end."""


def _parse_range(value: str | None) -> tuple[int, int | None] | None:
    """``Range`` as aiohttp reads it: None when absent, else (first byte, end exclusive or
    None); a suffix range ``-N`` comes as (-N, None). Raises :class:`RangeRefused`."""
    if value is None:
        return None
    found = RANGE.match(value)
    if found is None:
        raise RangeRefused(value)
    try:  # a number past Python's digit limit is a refusal too
        first = int(found[1]) if found[1] else None
        end = int(found[2]) if found[2] else None
    except ValueError as exc:
        raise RangeRefused(value) from exc
    if first is None:
        if end is None:
            raise RangeRefused(value)
        return -end, None
    if end is not None:
        end += 1
        if first >= end:
            raise RangeRefused(value)
    return first, end


def _etag_list(value: str | None) -> list[tuple[bool, str]] | None:
    """``If-Match``/``If-None-Match`` as aiohttp reads them: (weak, tag) pairs up to the first
    malformed one; a list with nothing valid is empty (and matches nothing), an empty header is
    no header."""
    if not value:
        return None
    if value == ETAG_ANY:
        return [(False, ETAG_ANY)]
    tags = []
    for found in ETAG_LIST.finditer(value):
        if found[4]:
            break
        tags.append((bool(found[2]), found[3]))
    return tags


def _etag_matches(etag: str, tags: list[tuple[bool, str]], weak: bool) -> bool:
    if len(tags) == 1 and tags[0][1] == ETAG_ANY:
        return True
    return any(value == etag for is_weak, value in tags if weak or not is_weak)


def _parse_date(value: str | None) -> float | None:
    """An HTTP date as aiohttp's ``parse_http_date`` reads it (leniently, as UTC), as a timestamp."""
    if value is None:
        return None
    parsed = parsedate(value)
    if parsed is None:
        return None
    try:
        return datetime.datetime(*parsed[:6], tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def _field(headers: Headers, name: str) -> str | None:
    """The first ``name`` header with its surrounding blanks cut, as aiohttp's parser reads it."""
    value = headers.get(name)
    return None if value is None else value.strip(" \t")


def _etag_value(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _etag(st: os.stat_result) -> str:
    return protocol.FILE_ETAG.format(mtime_ns=st.st_mtime_ns, size=st.st_size)


def _http_date(mtime: float) -> bytes:
    """aiohttp's ``Last-Modified``: the modification time rounded up to the second."""
    return formatdate(math.ceil(mtime), usegmt=True).encode("latin-1")


def _bodyless(status: int, headers: list[tuple[bytes, bytes]], head: bool) -> FileResponse:
    """An answer aiohttp sends with no length: chunked and typed ``application/octet-stream``
    unless typed already, and bare for HEAD."""
    if not head and not _has(headers, CONTENT_TYPE):
        headers = [*headers, (CONTENT_TYPE, protocol.OCTET_MEDIA.encode("latin-1"))]
    return FileResponse(status, headers)


def _has(headers: list[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(k == name for k, _ in headers)
