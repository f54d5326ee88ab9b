"""The OpenAPI contract (``openapi/comfyui.yaml``) and the WebSocket schemas (``openapi/ws/``).

The spec must be valid OpenAPI 3.1, cover exactly the routes the app registers, and describe
what a real ComfyUI 0.8.0 answered in the recorded transcripts (``../shared/golden``): every
recorded response validates against the schema of its operation, status and media type, and
every recorded WebSocket message against the schema of its type. The fake's own WebSocket
stream, preview metadata and node catalog are checked against the same schemas.
"""
from __future__ import annotations

import json
import re
import struct
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import websocket
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate as validate_openapi

from fakecomfy import Settings, create_app
from fakecomfy.contract.spec import (
    CLIENT_MESSAGES,
    METHODS,
    OPENAPI_DIR,
    OPERATIONS,
    SERVER_MESSAGES,
    SPEC,
    SPEC_PATH,
    WS_DIR,
    WS_INDEX,
    check_step,
    deref,
    errors_of,
    find_operation,
    validator_at,
    ws_validator,
)
from fakecomfy.testing import ServerThread

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT.parent / "shared" / "golden"
GOLDEN_FILES = sorted(GOLDEN.glob("*.json"))
REAL_OBJECT_INFO = ROOT.parent / "shared" / "fixtures" / "object_info_0.8.0_interface.json"

needs_golden = pytest.mark.skipif(not GOLDEN_FILES, reason="../shared/golden is not beside the checkout")


def router_routes(tmp_path: Path) -> set[tuple[str, str]]:
    router: Any = create_app(Settings(base_directory=tmp_path, log_requests=False)).router
    routes = {(r.method, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", r.path)) for r in router.routes}
    # fakecomfy's control plane is not ComfyUI's API: openapi/control.yaml describes it
    # (tests/test_routes_control.py holds the two to each other)
    routes = {(method, path) for method, path in routes if not path.startswith("/_fakecomfy/")}
    return routes | {("GET", path) for path in router.ws_routes}


# ---- the spec itself --------------------------------------------------------------------------
def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1")
    validate_openapi(SPEC, base_uri=SPEC_PATH.as_uri())


def test_every_registered_route_is_specified(tmp_path: Path) -> None:
    specified = {(m, url) for m, _, url, _, _ in OPERATIONS}
    assert sorted(router_routes(tmp_path) - specified) == []


def test_every_specified_operation_is_served(tmp_path: Path) -> None:
    specified = {(m, url) for m, _, url, _, _ in OPERATIONS}
    assert sorted(specified - router_routes(tmp_path)) == []


def test_jobs_routes_exist_only_under_api() -> None:
    urls = {url for m, _, url, _, _ in OPERATIONS if m == "GET"}
    assert {"/api/jobs", "/api/api/jobs", "/api/jobs/{job_id}", "/api/api/jobs/{job_id}"} <= urls
    assert not {"/jobs", "/jobs/{job_id}"} & urls and "/api/" in urls  # the index is under /api too


def test_every_operation_documents_the_origin_check() -> None:
    missing = [f"{m} {url}" for m, _, url, _, op in OPERATIONS if "403" not in op["responses"]]
    assert missing == []


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for path, item in SPEC["paths"].items() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))


def test_links_name_existing_operations_and_parameters() -> None:
    by_id = {op["operationId"]: (path, op) for path, item in SPEC["paths"].items()
             for m, op in item.items() if m in METHODS}
    for name, link in SPEC["components"]["links"].items():
        path, op = by_id[link["operationId"]]
        params = SPEC["paths"][path].get("parameters", []) + op.get("parameters", [])
        names = {deref(p)[0]["name"] for p in params}
        assert set(link["parameters"]) <= names, name


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_ref_of_the_spec_resolves() -> None:
    for ref in set(_refs(SPEC)):
        assert ref.startswith("#/"), ref
        assert deref({"$ref": ref})[0] is not None


def test_every_schema_of_the_spec_is_a_valid_2020_12_schema() -> None:
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


# ---- the WebSocket schemas --------------------------------------------------------------------
WS_FILES = sorted(WS_DIR.glob("*.schema.json"))


@pytest.mark.parametrize("path", WS_FILES, ids=[p.name for p in WS_FILES])
def test_ws_schema_is_valid_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_ws_index_names_every_schema_file() -> None:
    named = set(SERVER_MESSAGES.values()) | set(CLIENT_MESSAGES.values())
    named |= {WS_INDEX["shared_definitions"], WS_INDEX["server_to_client"]["binary"]["4"]["metadata"]}
    assert named == {p.name for p in WS_FILES}
    for event, filename in SERVER_MESSAGES.items():
        schema = json.loads((WS_DIR / filename).read_text(encoding="utf-8"))
        assert schema["properties"]["type"] == {"const": event}


def test_spec_points_at_every_ws_schema() -> None:
    pointed = SPEC["paths"]["/ws"]["get"]["x-websocket-messages"]
    assert {v.removeprefix("ws/") for v in pointed["server-to-client"].values()} == set(SERVER_MESSAGES.values())
    assert (OPENAPI_DIR / pointed["binary-frames"]).is_file()


def golden_ws_messages() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in GOLDEN_FILES:
        for name, connection in (json.loads(path.read_text(encoding="utf-8")).get("ws") or {}).items():
            for message in connection["messages"]:
                yield f"{path.stem}/{name}", message


@needs_golden
def test_golden_ws_text_messages_match_their_schemas() -> None:
    validators = {event: ws_validator(f) for event, f in SERVER_MESSAGES.items()}
    problems, seen = [], set()
    for where, message in golden_ws_messages():
        if "text" not in message:
            continue
        event = message["text"]["type"]
        seen.add(event)
        problems += [f"{where} {event}: {e}" for e in errors_of(validators[event], message["text"])]
    assert problems == []
    assert seen == set(SERVER_MESSAGES), "every message type is exercised by the transcripts"


@needs_golden
def test_golden_ws_binary_frames_are_indexed() -> None:
    binary = WS_INDEX["server_to_client"]["binary"]
    frames = [m for _, m in golden_ws_messages() if "binary" in m]
    assert frames
    for frame in frames:
        assert str(frame["event"]) in binary
        assert frame["format"] in (1, 2) and frame["image"]["format"] == {1: "JPEG", 2: "PNG"}[frame["format"]]


@needs_golden
def test_golden_client_feature_flags_match_the_client_schema() -> None:
    validator = ws_validator(CLIENT_MESSAGES["feature_flags"])
    sent = [step["sent"] for path in GOLDEN_FILES for step in json.loads(path.read_text())["steps"]
            if step.get("kind") == "ws_send" and isinstance(step["sent"], dict)
            and step["sent"].get("type") == "feature_flags"]
    assert sent and all(validator.is_valid(m) for m in sent)


def history_messages(body: Any) -> Iterator[list[Any]]:
    """The ``status.messages`` of history entries and job details in a response body."""
    entries = list(body.values()) if isinstance(body, dict) and "id" not in body else [body]
    for entry in entries:
        status = entry.get("status") if isinstance(entry.get("status"), dict) else entry.get("execution_status")
        if isinstance(status, dict):
            yield from status.get("messages", [])


@needs_golden
def test_golden_history_messages_match_the_ws_schemas() -> None:
    validators = {event: ws_validator(f) for event, f in SERVER_MESSAGES.items()}
    checked, problems = 0, []
    for path in GOLDEN_FILES:
        for step in json.loads(path.read_text(encoding="utf-8"))["steps"]:
            request = step.get("request", {})
            url = request.get("path", "")
            if request.get("method") == "GET" and step["response"]["status"] == 200 \
                    and (url.startswith(("/history", "/api/history")) or "/jobs/" in url):
                for event, data in history_messages(step["response"]["json"]):
                    checked += 1
                    problems += errors_of(validators[event], {"type": event, "data": data})
    assert checked and problems == []


# ---- golden HTTP responses against the spec ---------------------------------------------------
@needs_golden
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden_http_responses_match_the_spec(path: Path) -> None:
    recording = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for step in recording["steps"]:
        if "request" in step and step.get("response"):
            where = f"step {step['i']} {step['request']['method']} {step['request']['path']}"
            problems += [f"{where}: {p}" for p in check_step(step)]
    assert problems == []


@needs_golden
def test_golden_responses_validate_with_openapi_core() -> None:
    """The same check through a third-party validator: the spec works with OpenAPI tooling."""
    api = OpenAPI.from_file_path(str(SPEC_PATH))
    checked = 0
    for path in GOLDEN_FILES:
        for step in json.loads(path.read_text(encoding="utf-8"))["steps"]:
            request, response = step.get("request"), step.get("response")
            if request is None or not response or response["body_kind"] not in ("json", "text", "empty"):
                continue
            raw_path = request["path"].split("?")[0]
            if find_operation(request["method"], raw_path) is None:
                continue
            body = json.dumps(response["json"]) if response["body_kind"] == "json" else response.get("text") or ""
            headers = response.get("headers") or {}
            api.validate_response(
                MockRequest("http://127.0.0.1:8188", request["method"].lower(), raw_path,
                            args=request.get("query") or {}),
                MockResponse(body.encode("utf-8"), status_code=response["status"],
                             content_type=headers.get("content-type") or "", headers=headers))
            checked += 1
    assert checked > 150


# ---- the fake against the same schemas --------------------------------------------------------
def test_fake_object_info_matches_node_definition_schema(tmp_path: Path) -> None:
    app: Any = create_app(Settings(base_directory=tmp_path, log_requests=False))
    catalog = json.loads(app.state.model.catalog.object_info_bytes())
    assert len(catalog) > 500
    assert errors_of(validator_at("components", "schemas", "ObjectInfo"), catalog) == []


@pytest.mark.skipif(not REAL_OBJECT_INFO.is_file(), reason="../shared/fixtures is not beside the checkout")
def test_real_object_info_matches_node_definition_schema() -> None:
    catalog = json.loads(REAL_OBJECT_INFO.read_text(encoding="utf-8"))
    assert errors_of(validator_at("components", "schemas", "ObjectInfo"), catalog) == []


SAMPLER_PROMPT = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}},
    "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "4": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 2, "cfg": 7.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["1", 0],
                                               "positive": ["2", 0], "negative": ["2", 0],
                                               "latent_image": ["3", 0]}},
    "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
    "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "spec"}},
}


def _run_with_previews(server: ServerThread) -> tuple[list[Any], dict[str, Any]]:
    """Every frame a metadata-negotiating client gets for one sampler prompt, and its answer."""
    client_id = uuid.uuid4().hex
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?clientId={client_id}", timeout=20)
    try:
        frames: list[Any] = [json.loads(ws.recv())]
        ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        frames.append(json.loads(ws.recv()))
        body = {"prompt": SAMPLER_PROMPT, "client_id": client_id, "extra_data": {"preview_method": "latent2rgb"}}
        request = urllib.request.Request(server.url + "/prompt", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            answer: dict[str, Any] = json.loads(response.read())
        while True:
            frame = ws.recv()
            frames.append(frame if isinstance(frame, bytes) else json.loads(frame))
            if isinstance(frame, str) and frames[-1]["type"] == "executing" and frames[-1]["data"]["node"] is None:
                return frames, answer
    finally:
        ws.close()


def test_fake_ws_stream_and_preview_metadata_match_the_schemas(
        make_server: Callable[..., ServerThread]) -> None:
    frames, answer = _run_with_previews(make_server())
    assert errors_of(validator_at("paths", "/prompt", "post", "responses", "200", "content",
                                  "application/json", "schema"), answer) == []
    validators = {event: ws_validator(f) for event, f in SERVER_MESSAGES.items()}
    metadata = ws_validator(WS_INDEX["server_to_client"]["binary"]["4"]["metadata"])
    texts = [f for f in frames if not isinstance(f, bytes)]
    previews = [f for f in frames if isinstance(f, bytes)]
    assert [e for m in texts for e in errors_of(validators[m["type"]], m)] == []
    assert previews, "latent2rgb previews are sent"
    for frame in previews:
        event, length = struct.unpack(">II", frame[:8])
        assert event == 4
        assert errors_of(metadata, json.loads(frame[8:8 + length])) == []
