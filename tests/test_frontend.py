"""The web frontend at /: a folder (--front-end-root), the [ui] extra's packages, or our own page.

The answers were compared with a real ComfyUI 0.8.0 serving frontend 1.35.9: the same
/extensions list in the same order, the same types, cache headers, 403/404 shapes and 304s.
The contract check stays on: it holds ``/``, ``/api/`` and ``/extensions`` to the OpenAPI
document and leaves the static route's answers (files, not API) alone.
"""
from __future__ import annotations

import glob
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fakecomfy.cli import main as cli_main
from fakecomfy.cli import settings_from_args
from fakecomfy.core import defaults
from fakecomfy.routes import frontend
from fakecomfy.settings import Settings, env_defaults

HAS_UI = importlib.util.find_spec(frontend.FRONTEND_PACKAGE) is not None
needs_ui = pytest.mark.skipif(not HAS_UI, reason="the [ui] extra (comfyui-frontend-package) is not installed")


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    """A small frontend folder: an index, nested extension scripts, a font and an image."""
    root = tmp_path / "web"
    (root / "extensions" / "core" / "deep").mkdir(parents=True)
    (root / "fonts").mkdir()
    (root / "index.html").write_text("<!doctype html><title>mine</title>")
    (root / "extensions" / "core" / "a.js").write_text("export {}")
    (root / "extensions" / "core" / "deep" / "b.js").write_text("export {}")
    (root / "extensions" / "core" / "notes.txt").write_text("not a script")
    (root / "fonts" / "x.woff2").write_bytes(b"wOF2")
    (root / "logo.png").write_bytes(b"\x89PNG")
    (root / "style.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("outside")
    return root


def test_own_page_says_how_to_get_the_ui(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html"
    assert b"pip install 'fakecomfy[ui]'" in r.content and b"--front-end-root" in r.content
    assert client.get("/extensions").json() == []
    r = client.get("/index.html")  # no web root: unknown paths stay the empty 404
    assert r.status_code == 404 and r.content == b"" and "cache-control" not in r.headers


def test_folder_index_and_extensions(make_client: Callable[..., TestClient], web_root: Path) -> None:
    client = make_client(front_end_root=web_root)
    r = client.get("/")
    assert r.status_code == 200 and r.content == (web_root / "index.html").read_bytes()
    assert r.headers["content-type"] == "text/html"  # no charset, as aiohttp's FileResponse
    assert (r.headers["cache-control"], r.headers["pragma"], r.headers["expires"]) == ("no-cache", "no-cache", "0")
    st = (web_root / "index.html").stat()
    assert r.headers["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    assert r.headers["accept-ranges"] == "bytes" and "last-modified" in r.headers
    listed = client.get("/extensions").json()
    assert sorted(listed) == ["/extensions/core/a.js", "/extensions/core/deep/b.js"]
    assert client.get("/api/extensions").json() == listed


def test_folder_static_files_like_aiohttp(make_client: Callable[..., TestClient], web_root: Path) -> None:
    client = make_client(front_end_root=web_root)
    r = client.get("/extensions/core/a.js")
    assert (r.status_code, r.content) == (200, b"export {}")
    assert r.headers["content-type"] == "application/javascript" and r.headers["cache-control"] == "no-cache"
    r = client.get("/fonts/x.woff2")
    assert r.headers["content-type"] == "application/octet-stream" and "cache-control" not in r.headers
    assert client.get("/logo.png").headers["cache-control"] == "public, max-age=86400"
    assert client.get("/style.css").headers["content-type"] == "text/css"
    # a directory is a raised 403, a missing file an empty 404 carrying the path's cache header
    for path in ("/fonts", "/fonts/", "/extensions/core/"):
        r = client.get(path)
        assert (r.status_code, r.text) == (403, "403: Forbidden"), path
    r = client.get("/user.css")
    assert (r.status_code, r.content, r.headers["cache-control"]) == (404, b"", "no-cache")
    assert client.get("/missing.png").headers["cache-control"] == "public, max-age=86400"
    # climbing out of the root: a raised 404; dot segments of the raw path are resolved first
    r = client.get("/%2e%2e/secret.txt")
    assert (r.status_code, r.text) == (404, "404: Not Found")
    assert client.get("/fonts/%2e%2e/index.html").status_code == 200  # still inside the root
    # conditional and partial requests
    etag = client.get("/style.css").headers["etag"]
    r = client.get("/style.css", headers={"If-None-Match": etag})
    assert (r.status_code, r.content, r.headers["etag"]) == (304, b"", etag)
    r = client.get("/style.css", headers={"Range": "bytes=0-3"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"body", "bytes 0-3/6")
    assert client.head("/style.css").headers["content-length"] == "6"
    r = client.post("/style.css")
    assert r.status_code == 405 and r.headers["allow"] == "GET,HEAD"


def test_dot_segments_resolve_with_the_folder(make_client: Callable[..., TestClient], web_root: Path) -> None:
    client = make_client(front_end_root=web_root)
    assert client.get("/fonts/%2e%2e/%2e%2e/secret.txt").text == "404: Not Found"  # above the root
    assert client.get("/fonts/%2e%2e").text == "403: Forbidden"  # the root itself
    assert client.get("/x/%2e%2e/logo.png").content == b"\x89PNG"  # through a folder that is not there
    assert client.get("/%2fsecret.txt").text == "404: Not Found"  # an absolute name


@pytest.mark.parametrize(("path", "prefix", "taken"), [
    ("/docs/a.md", "/docs", True), ("/docs", "/docs", True), ("/docs/x/..", "/docs", True),
    ("/docs/../index.html", "/docs", False), ("/docs/..", "/docs", False), ("/docsx/a.md", "/docs", False),
    ("/docs%2Fa.md", "/docs", False), ("/docs/./a.md", "/docs", True),
])
def test_a_static_route_takes_the_normalised_path(path: str, prefix: str, taken: bool) -> None:
    assert frontend.under_prefix(path, prefix) is taken


def test_contract_check_leaves_static_answers_alone(make_client: Callable[..., TestClient], web_root: Path) -> None:
    from fakecomfy.contract import middleware

    client = make_client(front_end_root=web_root, spec_check=True)
    before = middleware.CHECKED["http"]
    for path in ("/logo.png", "/fonts", "/nope.js", "/%2e%2e/secret.txt"):
        client.get(path)
    assert middleware.CHECKED["http"] == before  # the static route's answers: not checked
    assert client.get("/api/").status_code == 200 and client.get("/index.html").status_code == 200
    assert middleware.CHECKED["http"] == before + 1  # the index route's answer is
    problems = len(middleware.PROBLEMS)
    client.get("/api/")
    assert len(middleware.PROBLEMS) == problems


def test_api_root_is_the_index(make_client: Callable[..., TestClient], web_root: Path) -> None:
    r = make_client(front_end_root=web_root).get("/api/")
    assert r.content == (web_root / "index.html").read_bytes() and r.headers["pragma"] == "no-cache"
    own = make_client().get("/api/")  # our own page too
    assert own.status_code == 200 and b"fakecomfy[ui]" in own.content


def test_front_end_flag_and_variable(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    from fakecomfy.cli import _serve_parser

    _serve_parser(sub)
    args = parser.parse_args(["serve", "--front-end-root", str(tmp_path)])
    settings = settings_from_args(args, environ={})
    assert settings.front_end_root == tmp_path and settings.front_end
    assert settings_from_args(parser.parse_args(["serve"]), environ={"FAKECOMFY_FRONT_END": "0"}).front_end is False
    assert env_defaults({"FAKECOMFY_FRONT_END_ROOT": str(tmp_path)})["front_end_root"] == tmp_path
    assert Settings().front_end is False and Settings(front_end_root=str(tmp_path)).front_end_root == tmp_path  # type: ignore[arg-type]
    assert callable(cli_main)


def test_missing_frontend_package_falls_back_to_own_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontend, "FRONTEND_PACKAGE", "no_such_frontend_package_here")
    assert frontend.locate(Settings(front_end=True)) is None
    assert frontend.locate(Settings()) is None


@needs_ui
def test_installed_frontend_is_served(make_client: Callable[..., TestClient]) -> None:
    client = make_client(front_end=True)
    located = frontend.locate(Settings(front_end=True))
    assert located is not None
    root = located.web_root
    assert client.get("/").content == (root / "index.html").read_bytes()
    found = glob.glob(os.path.join(glob.escape(str(root)), "extensions/**/*.js"), recursive=True)
    listed = client.get("/extensions").json()
    assert listed == ["/" + os.path.relpath(f, root) for f in found] and "/extensions/core/groupNode.js" in listed
    assert client.get(listed[0]).status_code == 200
    assert client.get("/fonts/inter-latin-normal.woff2").status_code == 200


@needs_ui
def test_templates_and_docs(make_client: Callable[..., TestClient]) -> None:
    client = make_client(front_end=True)
    r = client.get("/templates/index.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    index = r.json()
    assert isinstance(index, list) and any(t["name"] == "default" for group in index for t in group["templates"])
    r = client.get("/templates/default.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and "cache-control" not in r.headers
    assert client.get("/templates/default-1.webp").headers["cache-control"] == "public, max-age=86400"
    for path in ("/templates/nope.json", "/templates/"):
        r = client.get(path)
        assert (r.status_code, r.text, "cache-control" in r.headers) == (404, "404: Not Found", False), path
    assert client.get("/api/templates/index.json").content == b""  # not an /api route
    r = client.get("/docs/KSampler/en.md")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert client.get("/docs").status_code == 403 and client.get("/docs/nope.md").status_code == 404


@needs_ui
def test_default_workflow_checkpoint_is_a_standin() -> None:
    """The checkpoint of the frontend's default graph and of the stock default template is among
    the stand-ins, so Run works on a fresh fake."""
    located = frontend.locate(Settings(front_end=True))
    assert located is not None and located.templates is not None
    template = json.loads(located.templates["default.json"].read_text(encoding="utf-8"))
    names = {w for node in template["nodes"] if node["type"] == "CheckpointLoaderSimple"
             for w in node["widgets_values"]}
    scripts = (located.web_root / "assets").glob("*.js")
    bundle = "".join(p.read_text(encoding="utf-8", errors="replace") for p in scripts)
    assert "v1-5-pruned-emaonly-fp16.safetensors" in bundle
    assert names == {"v1-5-pruned-emaonly-fp16.safetensors"}
    assert names <= set(defaults.STANDINS["checkpoints"])
