"""The fake's form reader (``fakecomfy/web/multipart.py``) reads every body as aiohttp's
``request.post()`` does (real ComfyUI's upload routes read theirs with it): the same fields, or
an error where aiohttp raises. The bodies are the differential upload cases and seeded random
mutations of them (bytes dropped, doubled, or CR, LF, quotes, semicolons and slashes put in)."""
from __future__ import annotations

import asyncio
import random
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from fakecomfy.web.multipart import FormError, FormFile, read_post
from tests.differential.cases_uploads import STEPS

# aiohttp leaves the spooled file of a part it fails inside unclosed
# (and warns, as RuntimeWarning, about each Content-Disposition it gives up on)
pytestmark = [pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]

Outcome = list[tuple[Any, ...]] | str

CASES = [(s.name, dict(s.headers).get("Content-Type"), s.data.replace(b"{uniq}", b"u1"))
         for s in STEPS if s.method == "POST"]
NOISE = [b"\r", b"\n", b"\r\n", b'"', b";", b"/", b"\\", b"=", b"*", b"'", b"--", b" ", b"\x00", b"%"]


def _mutations(seed: int, count: int) -> list[tuple[str, str | None, bytes]]:
    rng = random.Random(seed)
    out = []
    for index in range(count):
        name, ctype, body = rng.choice(CASES)
        data = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            action = rng.randrange(3)
            if action == 0 and data:
                del data[at:at + rng.randint(1, 4)]
            elif action == 1:
                data[at:at] = rng.choice(NOISE)
            else:
                data[at:at] = data[at:at + rng.randint(1, 12)]
        out.append((f"{name}-m{index}", ctype, bytes(data)))
    return out


def _aiohttp_post(ctype: str | None, body: bytes) -> Outcome:
    async def read() -> Outcome:
        protocol = mock.Mock(max_field_size=8190, max_headers=128, _reading_paused=False)
        payload = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        payload.feed_data(body)
        payload.feed_eof()
        headers = {"Content-Type": ctype} if ctype is not None else {}
        request = make_mocked_request("POST", "/", headers=headers, payload=payload, protocol=protocol)
        try:
            post = await request.post()
        except Exception as exc:  # noqa: BLE001 - whatever aiohttp raises is real's 500
            return f"error: {type(exc).__name__}"
        values: list[tuple[Any, ...]] = []
        for name, value in post.items():
            if isinstance(value, web.FileField):
                values.append((name, "file", value.filename, value.file.read(), value.content_type))
                value.file.close()
            else:
                values.append((name, type(value).__name__.replace("bytearray", "bytes"), bytes(value)
                               if isinstance(value, bytearray) else value))
        return values

    return asyncio.run(read())


def _fake_post(ctype: str | None, body: bytes) -> Outcome:
    try:
        items = read_post(ctype, body)
    except FormError as exc:
        return f"error: {type(exc).__name__}"
    return [(name, "file", v.filename, v.data, v.content_type) if isinstance(v, FormFile)
            else (name, type(v).__name__, v) for name, v in items]


def _same(ctype: str | None, body: bytes) -> None:
    want, got = _aiohttp_post(ctype, body), _fake_post(ctype, body)
    assert isinstance(want, str) == isinstance(got, str), (want, got)
    if not isinstance(want, str):
        assert got == want


@pytest.mark.parametrize(("ctype", "body"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_upload_case_reads_as_aiohttp_reads_it(ctype: str | None, body: bytes) -> None:
    _same(ctype, body)


def test_mutated_bodies_read_as_aiohttp_reads_them() -> None:
    differing = []
    for name, ctype, body in _mutations(seed=12, count=3000):
        want, got = _aiohttp_post(ctype, body), _fake_post(ctype, body)
        if isinstance(want, str) != isinstance(got, str) or (not isinstance(want, str) and want != got):
            differing.append(f"{name}: aiohttp {want!r:.200} / fake {got!r:.200}")
    assert not differing, f"{len(differing)} bodies differ:\n" + "\n".join(differing[:10])


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        (b'form-data; name="image"; filename="/a.png"', "a.png"),
        (b'form-data; name="image"; filename="\\\\/b.png"', "b.png"),
        (b"form-data; name=\"image\"; filename*=UTF-8''%E2%9C%93.png", "\u2713.png"),
        (b'form-data; name="image"; filename*0="c"; filename*1=".png"', "c.png"),
        (b'form-data; name="image"; filename="a;b.png"', "a;b.png"),
    ],
    ids=["leading-slash", "slash-and-backslash", "rfc5987", "rfc2231-continuation", "semicolon"],
)
def test_filename_parameters_read_like_aiohttp(disposition: bytes, filename: str) -> None:
    body = b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\nxy\r\n--B--\r\n"
    assert read_post("multipart/form-data; boundary=B", body) == [("image", FormFile(filename, b"xy",
                                                                                     "application/octet-stream"))]


@pytest.mark.parametrize(
    "body",
    [b"", b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxy",
     b"--B\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nxy\r\n--B--\r\n",
     b"--B\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nxy\r\n--B--\r\n"],
    ids=["empty", "unterminated", "repeated-parameter", "no-name"],
)
def test_bodies_aiohttp_raises_on_are_form_errors(body: bytes) -> None:
    with pytest.raises(FormError):
        read_post("multipart/form-data; boundary=B", body)


@pytest.mark.parametrize(
    "headers",
    [
        b'Content-Disposition: form-data; name="image"; filename*0="a\'b"',
        b"Content-Disposition: form-data; name=\"image\"; filename*0*=UTF-8''%E2%9C%93; filename*1=\".png\"",
        b'Content-Disposition: form-data; name="image"; filename*1="x.png"',
        b"Content-Disposition: form-data; name*=UTF-8''image; filename=a.png",
        b"Content-Disposition: form-data; name=\"image\"; filename*=UTF-8''%FF.png",
        b'Content-Disposition: form-data; name="image"; filename="\\/\\/x.png"',
        b'Content-Disposition:\tform-data; name="image";\tfilename="t.png"',
        b'Content-Disposition: form-data; name="image"\r\n filename="folded.png"',
        b'Content-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: a/b\r\nContent-Type: c/d',
        b'Content-Disposition: form-data; name="image"; filename="a.png"\r\nX-Other: 1\r\nX-Other: 2',
        b'Content-Disposition: form-data; name="image"; filename="a.png"\r\n: novalue',
        b'Content-Disposition: form-data; name="image"; filename="a.png"\r\nBad Name: 1',
        b'content-disposition: FORM-DATA; Name="image"; FileName="lower.png"',
        b'Content-Disposition: form-data; name="image"\r\nContent-Type: text/plain; charset=nope',
        b'Content-Disposition: form-data; name="image"\r\nContent-Type: TEXT/plain',
    ],
    ids=["continuation-one-quote", "continuation-extended", "continuation-without-0", "name-extended",
         "rfc5987-bad-bytes", "slashes-then-escapes", "tabs", "folded-line", "content-type-twice",
         "other-header-twice", "empty-header-name", "header-name-with-space", "case", "unknown-charset",
         "upper-case-text-type"],
)
def test_odd_part_headers_read_as_aiohttp_reads_them(headers: bytes) -> None:
    _same("multipart/form-data; boundary=B", b"--B\r\n" + headers + b"\r\n\r\nxy\r\n--B--\r\n")
