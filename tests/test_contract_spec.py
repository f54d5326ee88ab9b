"""fakecomfy.contract: checking single answers against openapi/comfyui.yaml and openapi/ws."""
from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from fakecomfy.contract import middleware
from fakecomfy.contract.spec import check_response, check_ws_message, find_operation

JSON = {"content-type": "application/json; charset=utf-8"}
TEXT = {"content-type": "text/plain; charset=utf-8"}
QUEUE_STATUS = {"exec_info": {"queue_remaining": 0}}
SERVER_ERROR = b"500 Internal Server Error\n\nServer got itself in trouble"


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# ---- HTTP ---------------------------------------------------------------------------------------
def test_a_conforming_json_answer_has_no_problems() -> None:
    assert check_response("GET", "/prompt", 200, JSON, body(QUEUE_STATUS)) == []


def test_a_json_body_off_its_schema_is_a_problem() -> None:
    problems = check_response("GET", "/prompt", 200, JSON, body({"exec_info": {"queue_remaining": "none"}}))
    assert problems and "queue_remaining" in problems[0]


def test_a_body_that_is_not_json_is_a_problem() -> None:
    assert check_response("GET", "/prompt", 200, JSON, b"{nope")


def test_an_unknown_path_is_only_right_as_the_routers_empty_404() -> None:
    octet = {"content-type": "application/octet-stream"}
    assert check_response("GET", "/no/such/path", 404, octet, b"") == []
    assert check_response("GET", "/no/such/path", 404, octet, b"x")
    assert check_response("GET", "/no/such/path", 200, JSON, body({}))[0].startswith("no operation answers")


def test_an_undocumented_status_is_a_problem() -> None:
    assert check_response("GET", "/system_stats", 418, TEXT, b"teapot") == [
        "getSystemStats does not document status 418"]


def test_an_undocumented_media_type_is_a_problem() -> None:
    problems = check_response("GET", "/prompt", 200, {"content-type": "text/html"}, b"<p>")
    assert problems and problems[0].startswith("media type 'text/html' not in")


def test_text_answers_are_validated_as_strings() -> None:
    assert check_response("POST", "/prompt", 500, TEXT, SERVER_ERROR) == []
    assert check_response("POST", "/prompt", 500, TEXT, b"something else")


def test_no_content_means_an_empty_body() -> None:
    assert check_response("GET", "/prompt", 403, {}, b"") == []
    assert check_response("GET", "/prompt", 403, TEXT, b"Forbidden") == ["spec says empty body, got text"]


def test_binary_answers_are_only_media_checked() -> None:
    headers = {"content-type": "image/png", "content-disposition": 'filename="a.png"'}
    assert check_response("GET", "/view", 200, headers, b"\x89PNG not really") == []


def test_the_api_alias_and_the_doubled_jobs_prefix_resolve() -> None:
    assert find_operation("GET", "/api/prompt") == find_operation("GET", "/prompt")
    assert check_response("GET", "/api/prompt", 200, JSON, body(QUEUE_STATUS)) == []
    assert find_operation("GET", "/api/api/jobs")[0] == "/api/jobs"  # type: ignore[index]
    assert find_operation("GET", "/api/api/jobs/abc")[0] == "/api/jobs/{job_id}"  # type: ignore[index]
    assert find_operation("GET", "/jobs") is None
    assert find_operation("GET", "/api/") == find_operation("GET", "/")  # the index is under /api too


def test_head_is_checked_like_get_without_a_body() -> None:
    assert check_response("HEAD", "/prompt", 200, JSON, b"") == []


def test_options_is_the_empty_preflight() -> None:
    assert check_response("OPTIONS", "/anything", 200, {}, b"") == []


def test_405_needs_its_allow_header() -> None:
    assert check_response("DELETE", "/prompt", 405, {**TEXT, "Allow": "GET,HEAD,POST"},
                          b"405: Method Not Allowed") == []
    assert check_response("DELETE", "/prompt", 405, TEXT, b"405: Method Not Allowed") == ["missing header Allow"]


# ---- WebSocket ----------------------------------------------------------------------------------
def test_a_conforming_ws_message_has_no_problems() -> None:
    assert check_ws_message(json.dumps({"type": "executing", "data": {"node": None, "prompt_id": "p"}})) == []


def test_a_ws_message_off_its_schema_is_a_problem() -> None:
    assert check_ws_message(json.dumps({"type": "executing", "data": {"node": 5}}))


def test_an_unknown_ws_message_type_is_a_problem() -> None:
    assert check_ws_message(json.dumps({"type": "bogus", "data": {}})) == [
        "WebSocket message type 'bogus' has no schema"]
    assert check_ws_message("not json")[0].startswith("WebSocket text frame is not JSON")


# ---- the middleware -----------------------------------------------------------------------------
def test_the_suite_checks_every_answer_of_create_app(client: TestClient) -> None:
    """conftest sets FAKECOMFY_SPEC_CHECK=1: answers are counted and pass through unchanged."""
    before = middleware.CHECKED["http"]
    response = client.get("/prompt")
    assert response.status_code == 200 and response.json() == {"exec_info": {"queue_remaining": 0}}
    assert middleware.CHECKED["http"] == before + 1


def test_the_middleware_records_a_problem(monkeypatch: Any) -> None:
    monkeypatch.delenv(middleware.ENV_FILE, raising=False)
    monkeypatch.setattr(middleware, "PROBLEMS", [])

    async def teapot(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 418, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"tea", "more_body": True})
        await send({"type": "http.response.body", "body": b"pot"})

    response = TestClient(middleware.SpecCheckMiddleware(teapot)).get("/system_stats")  # no lifespan
    assert (response.status_code, response.text) == (418, "teapot")
    assert middleware.PROBLEMS == ["GET /system_stats 418: getSystemStats does not document status 418"]
