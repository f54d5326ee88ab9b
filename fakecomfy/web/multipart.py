"""Reading a form body the way aiohttp's ``request.post()`` does, which is how ComfyUI's upload
routes read theirs: which Content-Types count as a form, how multipart framing, part headers and
``Content-Disposition`` parameters are read, and which bodies make the reader raise (real
ComfyUI then answers 500).

The body is already in memory, so the framing is read with plain ``bytes`` searches; the rules
(a part ends at the first CRLF + boundary, ``filename=`` loses leading slashes and backslashes,
a repeated parameter voids the whole header, ...) are aiohttp 3.14's, checked against it by
``tests/test_edge_uploads.py``. Request-level Content-Type parameters go through the standard
library's ``email`` parser, as aiohttp's do.
"""
from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass
from email.message import Message

FORM_URLENCODED = "application/x-www-form-urlencoded"
FORM_DATA = "multipart/form-data"
MAX_BOUNDARY = 70
MAX_LINE = 8190  # aiohttp's max_field_size: the longest part header line
MAX_PART_HEADERS = 128
# part headers aiohttp refuses to see twice
SINGLETON_HEADERS = frozenset({"content-length", "content-location", "content-range", "content-type", "etag",
                               "host", "max-forwards", "server", "transfer-encoding", "user-agent"})

_TOKEN_RE = re.compile(r"[0-9A-Za-z!#$%&'*+\-.^_`|~]+")
_FORBIDDEN_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_PARAM_TOKEN = frozenset(chr(i) for i in range(32, 127)) - frozenset('()<>@,;:\\"/[]?={} ')
_UNESCAPE_RE = re.compile(r"\\([\x00-\x7f])")


class FormError(ValueError):
    """A body aiohttp's form reader raises on: real ComfyUI answers it with a 500."""


@dataclass(frozen=True)
class FormFile:
    """A part with a non-empty filename, decoded as aiohttp hands it over."""

    filename: str
    data: bytes
    content_type: str


FormItem = FormFile | str | bytes


def request_media_type(content_type: str | None) -> str:
    """The lower-case ``type/subtype`` aiohttp reads from a request's Content-Type."""
    if content_type is None:
        return "application/octet-stream"
    media = content_type.lower().partition(";")[0].strip()
    return media if media.count("/") == 1 else "application/octet-stream"


def read_post(content_type: str | None, body: bytes) -> list[tuple[str, FormItem]]:
    """The form fields of a request, in order; [] where aiohttp reads no form."""
    media = request_media_type(content_type)
    if media == FORM_DATA:
        return _Multipart(content_type or "", body).fields()
    if media != FORM_URLENCODED or not body:
        return []
    return _urlencoded(content_type or "", body)


def _urlencoded(content_type: str, body: bytes) -> list[tuple[str, FormItem]]:
    message = Message()
    message["Content-Type"] = content_type
    charset = message.get_param("charset")
    encoding = charset if isinstance(charset, str) and charset else "utf-8"
    try:
        text = body.rstrip().decode(encoding)
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding=encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FormError(f"the form is not {encoding}: {exc}") from exc
    return list(pairs)


def _mimetype_params(value: str) -> dict[str, str]:
    """Parameters of a part's or request's Content-Type as aiohttp's ``parse_mimetype`` reads
    them: split at ``;``, keys lower-cased, quotes and spaces stripped, the first value kept."""
    params: dict[str, str] = {}
    for item in value.split(";")[1:]:
        if item.strip():
            key, _, val = item.partition("=")
            params.setdefault(key.lower().strip(), val.strip(' "'))
    return params


def _mimetype_type(value: str) -> str:
    return value.split(";")[0].strip().lower().partition("/")[0]


class _Multipart:
    """One ``multipart/form-data`` body read from start to end, like aiohttp's reader."""

    def __init__(self, content_type: str, body: bytes) -> None:
        boundary = _mimetype_params(content_type).get("boundary")
        if boundary is None:
            raise FormError(f"no boundary in {content_type!r}")
        if len(boundary) > MAX_BOUNDARY:
            raise FormError(f"the boundary is longer than {MAX_BOUNDARY} characters")
        self._boundary = ("--" + boundary).encode("utf-8", "surrogateescape")
        self._body = body
        self._pos = 0

    def _readline(self) -> bytes:
        end = self._body.find(b"\n", self._pos)
        end = len(self._body) if end < 0 else end + 1
        line = self._body[self._pos:end]
        self._pos = end
        return line

    def fields(self) -> list[tuple[str, FormItem]]:
        out: list[tuple[str, FormItem]] = []
        if not self._first_boundary():
            return out
        charset: str | None = None
        first = True
        while True:
            headers = self._headers()
            data = self._part_data()
            disposition = _parse_disposition(_header(headers, "content-disposition"))
            name = _param(disposition, "name")
            if first and disposition.get("name") == "_charset_":
                # aiohttp takes the default charset from this part and then reads the next
                # part's headers without looking for a boundary first.
                if len(data) > 31:
                    raise FormError("the _charset_ part is too long")
                charset = data.strip().decode("utf-8")
                headers = self._headers()
                data = self._part_data()
                disposition = _parse_disposition(_header(headers, "content-disposition"))
                name = _param(disposition, "name")
            first = False
            out.append(_field(headers, data, disposition, name, charset))
            if not self._next_boundary():
                return out

    def _first_boundary(self) -> bool:
        """Skip the preamble; False when the closing boundary comes first (no parts)."""
        while True:
            line = self._readline()
            if not line:
                raise FormError(f"no starting boundary {self._boundary!r}")
            line = line.rstrip()
            if line == self._boundary:
                return True
            if line == self._boundary + b"--":
                return False

    def _next_boundary(self) -> bool:
        line = self._readline().rstrip()
        if line == self._boundary:
            return True
        if line == self._boundary + b"--":
            return False
        raise FormError(f"invalid boundary {line!r}")

    def _headers(self) -> list[tuple[str, str]]:
        lines: list[bytes] = []
        while True:
            line = self._readline()
            if len(line) > MAX_LINE:
                raise FormError("a part header line is too long")
            line = line.rstrip(b"\r\n")
            if not line:
                break
            lines.append(line)
            if len(lines) > MAX_PART_HEADERS:
                raise FormError("too many part headers")
        headers: list[tuple[str, str]] = []
        for line in lines:
            raw_name, colon, raw_value = line.partition(b":")
            name = raw_name.decode("utf-8", "surrogateescape")
            value = raw_value.strip(b" \t").decode("utf-8", "surrogateescape")
            if not colon or not _TOKEN_RE.fullmatch(name) or _FORBIDDEN_CTL_RE.search(value):
                raise FormError(f"invalid part header {line!r}")
            if name.lower() in SINGLETON_HEADERS and _header(headers, name) is not None:
                raise FormError(f"a part repeats {name}")
            headers.append((name, value))
        return headers

    def _part_data(self) -> bytes:
        """The bytes up to the next CRLF + boundary; the boundary line stays unread."""
        rest = self._body[self._pos:]
        if rest.startswith(self._boundary):  # an empty part: the CRLF was the headers' end
            return b""
        end = rest.find(b"\r\n" + self._boundary)
        if end < 0:
            raise FormError("the body ends inside a part")
        self._pos += end + 2
        return rest[:end]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def _field(headers: list[tuple[str, str]], data: bytes, disposition: dict[str, str], name: str | None,
           charset: str | None) -> tuple[str, FormItem]:
    ctype = _header(headers, "content-type")
    if ctype is not None and _mimetype_type(ctype) == "multipart":
        raise FormError("a nested multipart part")
    if name is None:
        raise FormError("a part has no name")
    data = _transfer_decode(_header(headers, "content-transfer-encoding"), data)
    filename = _param(disposition, "filename")
    if filename:
        return name, FormFile(filename, data, ctype or "application/octet-stream")
    if ctype is not None and not ctype.startswith("text/"):
        return name, data
    encoding = _mimetype_params(ctype or "").get("charset", charset or "utf-8")
    try:
        return name, data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FormError(f"the {name!r} part is not {encoding}: {exc}") from exc


def _transfer_decode(encoding: str | None, data: bytes) -> bytes:
    if encoding is None:
        return data
    kind = encoding.lower()
    try:
        if kind == "base64":
            return base64.b64decode(data)
        if kind == "quoted-printable":
            return binascii.a2b_qp(data)
    except binascii.Error as exc:
        raise FormError(f"the part is not {kind}: {exc}") from exc
    if kind in ("binary", "8bit", "7bit"):
        return data
    raise FormError(f"unknown Content-Transfer-Encoding {encoding!r}")


# ---- Content-Disposition ----------------------------------------------------------------------
def _is_token(text: str) -> bool:
    return bool(text) and set(text) <= _PARAM_TOKEN


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] == '"'


def _unquote_plain(text: str) -> str:
    # Quirk of aiohttp: a quoted value loses its leading slashes and backslashes.
    return _UNESCAPE_RE.sub(r"\1", text[1:-1].lstrip("\\/"))


def _parse_disposition(header: str | None) -> dict[str, str]:
    """The parameters aiohttp reads from a part's Content-Disposition ({} where it gives up)."""
    if not header:
        return {}
    kind, *items = header.split(";")
    if not _is_token(kind.strip()):
        return {}
    params: dict[str, str] = {}
    while items:
        item = items.pop(0)
        if not item:
            continue
        if "=" not in item:
            return {}
        key, value = item.split("=", 1)
        key, value = key.lower().strip(), value.lstrip()
        if key in params:
            return {}
        if not _is_token(key):
            continue
        if _is_continuation(key):
            if _is_quoted(value):
                value = _UNESCAPE_RE.sub(r"\1", value[1:-1])
            elif not _is_token(value):
                continue
        elif key.endswith("*"):
            decoded = _decode_extended(value)
            if decoded is None:
                continue
            value = decoded
        else:
            stripped = value.rstrip()
            if _is_quoted(stripped):
                value = _unquote_plain(stripped)
            elif _is_token(value):
                pass
            elif items and _is_quoted(joined := f"{value};{items[0]}"):
                items.pop(0)
                value = _unquote_plain(joined)
            else:
                return {}
        params[key] = value
    return params


def _is_continuation(key: str) -> bool:
    star = key.find("*") + 1
    if not star:
        return False
    return (key[star:-1] if key.endswith("*") else key[star:]).isdigit()


def _decode_extended(value: str) -> str | None:
    """An RFC 5987 ``charset'lang'percent-encoded`` value, or None where aiohttp skips it."""
    if not (_is_token(value) and value.count("'") == 2):
        return None
    return _percent_decoded(value)


def _percent_decoded(value: str) -> str | None:
    """``charset'lang'percent-encoded`` decoded; None where the charset or the bytes do not fit."""
    try:
        charset, _, encoded = value.split("'", 2)
    except ValueError as exc:  # a single quote: aiohttp's unpacking raises
        raise FormError(f"expected charset'language'value, got {value!r}") from exc
    try:
        return urllib.parse.unquote(encoded, charset or "utf-8", "strict")
    except (LookupError, UnicodeDecodeError):
        return None


def _param(params: dict[str, str], name: str) -> str | None:
    """``name*`` before ``name``, else RFC 2231 continuations ``name*0``, ``name*1``, ..."""
    if not params:
        return None
    if f"{name}*" in params:
        return params[f"{name}*"]
    if name in params:
        return params[name]
    pieces = []
    for number, (key, value) in enumerate(sorted(kv for kv in params.items() if kv[0].startswith(f"{name}*"))):
        if key.split("*", 1)[1].removesuffix("*") != str(number):
            break
        pieces.append(value)
    if not pieces:
        return None
    value = "".join(pieces)
    return _percent_decoded(value) if "'" in value else value
