"""File answers (``fakecomfy/web/files.py``) like aiohttp's ``web.FileResponse``: the fake and a
bare aiohttp app serve the *same* files on disk, so every header of the answer, ``ETag`` and
``Last-Modified`` included, must be the same, as must the body."""
from __future__ import annotations

import asyncio
import http.client
import math
import mimetypes
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web

from fakecomfy import Settings, create_app
from fakecomfy.testing import ServerThread

TEXT = b"hello world, this is a text file\n"
BIG = os.urandom(700 * 1024)  # past the size the fake sends in one piece
PAST = "Sat, 01 Jan 2000 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
# Cache-Control comes from ComfyUI's cache middleware, which the reference app leaves out.
NOT_COMPARED = ("date", "server", "cache-control")


# ---- the reference: aiohttp serving the fake's own folders -----------------------------------
def reference_app(base: Path) -> web.Application:
    user_root = base / "user" / "default"

    async def userdata(request: web.Request) -> web.StreamResponse:
        path = user_root / request.match_info["file"]
        return web.FileResponse(path) if path.exists() else web.Response(status=404)

    async def view(request: web.Request) -> web.StreamResponse:
        # ComfyUI's /view: the file with both headers given (so aiohttp guesses no type)
        path = base / "input" / request.rel_url.query["filename"]
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return web.FileResponse(path, headers={"Content-Disposition": f'filename="{path.name}"',
                                               "Content-Type": media})

    app = web.Application()
    app.router.add_get("/userdata/{file}", userdata)
    app.router.add_get("/view", view)
    return app


@dataclass
class Reference:
    base: Path
    port: int = 0

    def start(self) -> Reference:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(reference_app(self.base), access_log=None)

        async def serve() -> None:
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            self.port = self.runner.addresses[0][1]

        self.thread = threading.Thread(target=self.loop.run_forever, name="aiohttp-files", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    """(aiohttp port, fake port, base directory) over the same files."""
    base = tmp_path_factory.mktemp("files")
    fake = ServerThread(create_app(Settings(base_directory=base, log_requests=False))).start()
    user = base / "user" / "default"
    user.mkdir(parents=True, exist_ok=True)
    (base / "input").mkdir(exist_ok=True)
    for folder in (user, base / "input"):
        (folder / "a.txt").write_bytes(TEXT)
        (folder / "a.txt.gz").write_bytes(b"gzip stand-in")
        (folder / "both.txt").write_bytes(TEXT)
        (folder / "both.txt.gz").write_bytes(b"gzip stand-in")
        (folder / "both.txt.br").write_bytes(b"brotli stand-in")
        (folder / "e.txt").write_bytes(b"")
        (folder / "big.bin").write_bytes(BIG)
    (user / "d").mkdir()
    (user / "s.js").write_bytes(b"export {};\n")
    os.symlink(user / "a.txt", user / "link.txt.gz")
    os.symlink(user / "a.txt", user / "link.txt")
    ref = Reference(base).start()
    try:
        yield ref.port, fake.port, base
    finally:
        ref.stop()
        fake.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def fetch(port: int, method: str, path: str, headers: tuple[tuple[str, str], ...]) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        kept = tuple(sorted((k.lower(), v) for k, v in resp.getheaders() if k.lower() not in NOT_COMPARED))
        return Answer(resp.status, kept, body)
    finally:
        conn.close()


REQUESTS = {
    "whole": (),
    "range": (("Range", "bytes=2-6"),),
    "range_open": (("Range", "bytes=3-"),),
    "range_suffix": (("Range", "bytes=-4"),),
    "range_suffix_zero": (("Range", "bytes=-0"),),
    "range_suffix_long": (("Range", "bytes=-9999"),),
    "range_past_end": (("Range", "bytes=9999-"),),
    "range_two": (("Range", "bytes=0-1,4-5"),),
    "range_backwards": (("Range", "bytes=5-1"),),
    "range_unit": (("Range", "pages=1-2"),),
    "range_huge": (("Range", "bytes=1-" + "9" * 5000),),
    "if_range_past": (("Range", "bytes=0-1"), ("If-Range", PAST)),
    "if_range_future": (("Range", "bytes=0-1"), ("If-Range", FUTURE)),
    "if_none_match_any": (("If-None-Match", "*"),),
    "if_none_match_other": (("If-None-Match", '"x", W/"y"'),),
    "if_none_match_broken_list": (("If-None-Match", '"x", *'),),
    "if_modified_since_future": (("If-Modified-Since", FUTURE),),
    "if_modified_since_past": (("If-Modified-Since", PAST),),
    "if_modified_since_bad": (("If-Modified-Since", "Mon, 99 Foo 2000 99:99:99 GMT"),),
    "if_match_other": (("If-Match", '"x"'),),
    "if_match_any": (("If-Match", "*"),),
    "if_match_empty": (("If-Match", ""),),
    "if_unmodified_since_past": (("If-Unmodified-Since", PAST),),
    "if_unmodified_since_future": (("If-Unmodified-Since", FUTURE),),
    "gzip": (("Accept-Encoding", "gzip, deflate"),),
    "brotli": (("Accept-Encoding", "br"),),
    "gzip_and_brotli": (("Accept-Encoding", "gzip, br"),),
    "gzip_ranged": (("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")),
    "gzip_not_modified": (("Accept-Encoding", "gzip"), ("If-None-Match", "*")),
}
FILES = ["a.txt", "both.txt", "e.txt", "big.bin"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("headers", list(REQUESTS.values()), ids=list(REQUESTS))
@pytest.mark.parametrize("route", ["/userdata/{name}", "/view?filename={name}&type=input"], ids=["userdata", "view"])
def test_a_file_answer_is_aiohttps(servers: tuple[int, int, Path], route: str, name: str,
                                   headers: tuple[tuple[str, str], ...], method: str) -> None:
    ref_port, fake_port, _ = servers
    path = route.format(name=name)
    assert fetch(fake_port, method, path, headers) == fetch(ref_port, method, path, headers)


@pytest.mark.parametrize("path", ["/userdata/d", "/userdata/s.js", "/userdata/link.txt"])
@pytest.mark.parametrize("headers", [(), (("Accept-Encoding", "gzip"),), (("Range", "bytes=0-0"),)],
                         ids=["plain", "gzip", "range"])
def test_odd_files_are_answered_like_aiohttp(servers: tuple[int, int, Path], path: str,
                                             headers: tuple[tuple[str, str], ...]) -> None:
    """A directory (403), a guessed type, a link (followed) whose ``.gz`` sibling is a link (not)."""
    ref_port, fake_port, _ = servers
    assert fetch(fake_port, "GET", path, headers) == fetch(ref_port, "GET", path, headers)


def test_the_validators_are_the_files_stamp(servers: tuple[int, int, Path]) -> None:
    _, fake_port, base = servers
    st = (base / "input" / "a.txt").stat()
    answer = dict(fetch(fake_port, "GET", "/view?filename=a.txt&type=input", ()).headers)
    assert answer["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    assert answer["last-modified"] == formatdate(math.ceil(st.st_mtime), usegmt=True)


def test_a_matching_etag_is_not_modified_and_a_stale_one_fails(servers: tuple[int, int, Path]) -> None:
    _, fake_port, _ = servers
    path = "/userdata/a.txt"
    etag = dict(fetch(fake_port, "GET", path, ()).headers)["etag"]
    assert fetch(fake_port, "GET", path, (("If-None-Match", f"W/{etag}"),)).status == 304
    assert fetch(fake_port, "GET", path, (("If-Match", etag),)).status == 200
    assert fetch(fake_port, "GET", path, (("If-Match", f"W/{etag}"),)).status == 412  # weak never matches
