"""aiohttp-compatible routing: 404/405/OPTIONS/500 answers and the /api aliases."""
from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from fakecomfy.web.responses import json_response
from fakecomfy.web.routing import Router, safe_path


@pytest.mark.parametrize("path", ["/no_such_route", "/api/no_such_route", "/jobs", "/interrupt", "/upload/image"])
def test_unknown_path_and_get_on_post_only_path_is_empty_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.content == b""
    assert r.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/settings", "GET,HEAD,POST"),
        ("PUT", "/userdata/a.json", "DELETE,GET,HEAD,POST"),
        ("POST", "/system_stats", "GET,HEAD"),
        ("POST", "/api/system_stats", "GET,HEAD"),
        ("PUT", "/no_such_route", "GET,HEAD"),
    ],
)
def test_wrong_method_is_405_text_with_allow(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.text == "405: Method Not Allowed"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/prompt", "/no_such_route", "/api/system_stats"])
def test_options_is_empty_200_everywhere(client: TestClient, path: str) -> None:
    r = client.options(path)
    assert r.status_code == 200
    assert r.content == b""
    assert not any(h.startswith("access-control-") for h in r.headers)


def test_every_route_has_an_api_alias(client: TestClient) -> None:
    for path in ("/system_stats", "/features", "/embeddings", "/models", "/extensions"):
        plain, api = client.get(path), client.get("/api" + path)
        assert plain.status_code == api.status_code == 200
        assert plain.headers["content-type"] == api.headers["content-type"]


def test_head_is_served_for_get_routes(client: TestClient) -> None:
    r = client.head("/features")
    assert r.status_code == 200


def _mini_app(router: Router) -> TestClient:
    from starlette.applications import Starlette

    app = Starlette()
    app.router = router  # type: ignore[assignment]
    return TestClient(app)


def test_handler_exception_is_aiohttp_500_text() -> None:
    router = Router()

    async def boom(request: Request) -> Response:
        raise TypeError("broken")

    router.add("GET", "/boom", boom)
    with _mini_app(router) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.text == "500 Internal Server Error\n\nServer got itself in trouble"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_path_params_keep_encoded_slashes_in_one_segment() -> None:
    router = Router()

    async def echo(request: Request) -> Response:
        return json_response(dict(request.path_params))

    router.add("GET", "/userdata/{file}", echo)
    router.add("GET", "/userdata/{file}/move/{dest}", echo)
    with _mini_app(router) as c:
        assert c.get("/userdata/dir%2Fa.json").json() == {"file": "dir/a.json"}
        assert c.get("/api/userdata/a%25b").json() == {"file": "a%b"}
        assert c.get("/userdata/a%2Fb/move/c%2Fd").json() == {"file": "a/b", "dest": "c/d"}
        assert c.get("/userdata/dir/a.json").status_code == 404


def test_safe_path_decodes_all_but_slash_and_percent() -> None:
    scope = {"path": "/x", "raw_path": b"/a%20b/c%2Fd/e%25f"}
    assert safe_path(scope) == "/a b/c%2Fd/e%25f"


@pytest.mark.parametrize("path", ["/ws", "/api/ws"])
def test_plain_get_of_the_websocket_route_is_aiohttps_400(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert r.text == 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
