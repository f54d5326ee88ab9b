"""HTTP behaviour of POST /prompt and GET /prompt: numbering, ids, priority, validation errors.

The TestClient does not run the lifespan, so no worker takes queued prompts away: what POST
/prompt queued is read back from ``model.queue``.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from fakecomfy.core.execution import QueueItem
from fakecomfy.core.model import ComfyModel

TEXT_500 = "500 Internal Server Error\n\nServer got itself in trouble"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NO_PROMPT = {"error": {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided",
                       "extra_info": {}}, "node_errors": {}}


def good_prompt(**width: Any) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": width.get("width", 64), "height": 64,
                                                         "batch_size": 1, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}


@pytest.fixture
def model(client: TestClient) -> ComfyModel:
    m: ComfyModel = client.app.state.model  # type: ignore[attr-defined]
    return m


def post(client: TestClient, body: Any = None, raw: str | None = None, **headers: str) -> Any:
    content = raw if raw is not None else json.dumps(body)
    return client.post("/prompt", content=content.encode(), headers=headers)


def pending(model: ComfyModel) -> list[QueueItem]:
    return model.queue.current()[1]


# ---- GET /prompt --------------------------------------------------------------------------------
def test_get_prompt_reports_queue_remaining(client: TestClient) -> None:
    assert client.get("/prompt").json() == {"exec_info": {"queue_remaining": 0}}
    post(client, {"prompt": good_prompt()})
    assert client.get("/api/prompt").json() == {"exec_info": {"queue_remaining": 1}}


# ---- bodies -------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["{not json", "", "null", "5", "true", '"has a prompt in it"', '["prompt"]',
                                 '{"prompt": null}', '{"prompt": 5}', '{"prompt": [1]}', '{"prompt": "abc"}',
                                 '{"prompt": {"1": 5}}', '{"prompt": {"1": null}}'],
                         ids=["malformed", "empty", "null", "number", "bool", "str-with-prompt", "list-with-prompt",
                              "prompt-null", "prompt-number", "prompt-list", "prompt-str", "node-number",
                              "node-null"])
def test_bodies_real_comfyui_fails_on_are_500_text(client: TestClient, model: ComfyModel, raw: str) -> None:
    r = post(client, raw=raw)
    assert (r.status_code, r.text, r.headers["content-type"]) == (500, TEXT_500, "text/plain; charset=utf-8")
    assert pending(model) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_bodies_that_are_not_plain_utf8_are_500_text(client: TestClient, model: ComfyModel, encoding: str) -> None:
    """aiohttp reads the body as UTF-8 text before parsing it: a UTF-16/32 body, or one with a
    byte-order mark, fails there (json.loads of the bytes would have taken them)."""
    body = json.dumps({"prompt": good_prompt()}).encode(encoding)
    r = client.post("/prompt", content=body)
    assert (r.status_code, r.text) == (500, TEXT_500)
    assert pending(model) == []


@pytest.mark.parametrize("raw", ["{}", "[1, 2]", '"just a string"', '{"client_id": "x", "extra_data": {}}'],
                         ids=["object", "list", "string", "other-keys"])
def test_bodies_without_prompt_are_no_prompt(client: TestClient, raw: str) -> None:
    r = post(client, raw=raw)
    assert (r.status_code, r.json()) == (400, NO_PROMPT)


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_body_is_json_whatever_the_content_type(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    assert post(client, {"prompt": good_prompt()}, **headers).status_code == 200


def test_empty_list_prompt_has_no_outputs(client: TestClient) -> None:
    r = post(client, {"prompt": []})
    assert (r.status_code, r.json()["error"]["type"]) == (400, "prompt_no_outputs")


# ---- success, numbers and ids -------------------------------------------------------------------
def test_success_response_and_queued_item(client: TestClient, model: ComfyModel) -> None:
    r = post(client, {"prompt": good_prompt(width="16"), "client_id": "cid"})
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["prompt_id", "number", "node_errors"]
    assert UUID4.match(body["prompt_id"]) and body["number"] == 0 and body["node_errors"] == {}
    [item] = pending(model)
    assert (item.number, item.prompt_id, item.outputs_to_execute) == (0, body["prompt_id"], ["2"])
    assert item.prompt["1"]["inputs"]["width"] == 16  # the converted value is queued
    assert item.client_id == "cid"


def test_counter_advances_on_every_post_without_number(client: TestClient) -> None:
    assert post(client, {"prompt": good_prompt()}).json()["number"] == 0
    assert post(client, {"prompt": good_prompt(width=0)}).status_code == 400  # still counted
    assert post(client, {}).status_code == 400  # counted too: the number comes before the prompt check
    assert post(client, {"prompt": good_prompt()}).json()["number"] == 3


def test_front_negates_the_counter(client: TestClient) -> None:
    post(client, {"prompt": good_prompt()})
    assert post(client, {"prompt": good_prompt(), "front": True}).json()["number"] == -1
    assert post(client, {"prompt": good_prompt(), "front": 0}).json()["number"] == 2


@pytest.mark.parametrize("given,expected", [(42, 42.0), ("7", 7.0), (2.5, 2.5), (True, 1.0)])
def test_explicit_number_is_a_float_and_does_not_advance(client: TestClient, given: Any, expected: float) -> None:
    r = post(client, {"prompt": good_prompt(), "number": given, "front": True})
    assert r.json()["number"] == expected and isinstance(r.json()["number"], float)
    assert post(client, {"prompt": good_prompt()}).json()["number"] == 0


@pytest.mark.parametrize("given", ["abc", None, [1]], ids=["str", "null", "list"])
def test_unconvertible_number_is_500(client: TestClient, given: Any) -> None:
    assert post(client, {"prompt": good_prompt(), "number": given}).status_code == 500


@pytest.mark.parametrize("given,expected", [("my-id", "my-id"), (12345, "12345"), (None, "None"),
                                            ({"a": 1}, "{'a': 1}")])
def test_prompt_id_is_python_str_of_the_given_value(client: TestClient, given: Any, expected: str) -> None:
    assert post(client, {"prompt": good_prompt(), "prompt_id": given}).json()["prompt_id"] == expected


# ---- extra_data ---------------------------------------------------------------------------------
def test_extra_data_order_and_sensitive_keys(client: TestClient, model: ComfyModel) -> None:
    before = int(time.time() * 1000)
    extra = {"b": 1, "api_key_comfy_org": "k", "a": 2, "auth_token_comfy_org": "t"}
    post(client, {"prompt": good_prompt(), "extra_data": extra, "client_id": "cid"})
    [item] = pending(model)
    assert list(item.extra_data) == ["b", "a", "client_id", "create_time"]
    assert item.extra_data["client_id"] == "cid" and item.extra_data["create_time"] >= before
    assert item.sensitive == {"auth_token_comfy_org": "t", "api_key_comfy_org": "k"}
    assert list(item.sensitive) == ["auth_token_comfy_org", "api_key_comfy_org"]


def test_client_id_replaces_one_in_extra_data_in_place(client: TestClient, model: ComfyModel) -> None:
    post(client, {"prompt": good_prompt(), "extra_data": {"client_id": "old", "x": 1}, "client_id": "new"})
    assert pending(model)[0].extra_data == {"client_id": "new", "x": 1,
                                            "create_time": pending(model)[0].extra_data["create_time"]}


def test_extra_data_not_an_object(client: TestClient, model: ComfyModel) -> None:
    assert post(client, {"prompt": good_prompt(), "extra_data": [1]}).status_code == 500
    assert post(client, {"prompt": good_prompt(width=0), "extra_data": [1]}).status_code == 400
    assert post(client, {"prompt": good_prompt(width=0), "extra_data": "x", "client_id": "c"}).status_code == 500
    assert pending(model) == []


# ---- validation outcomes ------------------------------------------------------------------------
def test_validation_failure_is_400_and_queues_nothing(client: TestClient, model: ComfyModel) -> None:
    r = post(client, {"prompt": good_prompt(width=0), "client_id": "cid"})
    assert r.status_code == 400 and list(r.json()) == ["error", "node_errors"]
    assert r.json()["error"]["type"] == "prompt_outputs_failed_validation"
    assert r.json()["node_errors"]["1"]["errors"][0]["type"] == "value_smaller_than_min"
    assert pending(model) == []


def test_partial_acceptance_queues_only_good_outputs(client: TestClient, model: ComfyModel) -> None:
    prompt = good_prompt()
    prompt["3"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "y"}}
    r = post(client, {"prompt": prompt})
    assert r.status_code == 200
    assert r.json()["node_errors"]["3"]["errors"][0]["type"] == "required_input_missing"
    assert pending(model)[0].outputs_to_execute == ["2"]


def test_partial_execution_targets(client: TestClient, model: ComfyModel) -> None:
    prompt = good_prompt()
    prompt["3"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    assert post(client, {"prompt": prompt, "partial_execution_targets": ["3"]}).status_code == 200
    assert pending(model)[0].outputs_to_execute == ["3"]
    r = post(client, {"prompt": prompt, "partial_execution_targets": ["1"]})
    assert (r.status_code, r.json()["error"]["type"]) == (400, "prompt_no_outputs")
