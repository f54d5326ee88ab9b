"""The OpenAPI contract (``openapi/comfyui.yaml``) and the WebSocket schemas (``openapi/ws/``),
loaded once, and checks of responses and messages against them.

``check_response(method, path, status, headers, body)`` and ``check_ws_message(text)`` check
what the fake sends; ``check_step`` checks a recorded transcript step (``../shared/golden``).
Each returns a list of problems, empty when the answer is what the spec describes.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The contract ships inside the package (the checkout's top-level ``openapi`` links here), so an
# installed fakecomfy reads it from its own files.
OPENAPI_DIR = Path(__file__).resolve().parents[1] / "openapi"
SPEC_PATH = OPENAPI_DIR / "comfyui.yaml"
WS_DIR = OPENAPI_DIR / "ws"
SPEC_URI = "urn:fakecomfy:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Responses that belong to no operation: the router's own answers (see the spec's info), and the
# Origin check, which refuses before routing (its 403 wins over 404 and 405).
ROUTER_RESPONSES = {403: "OriginRejected", 404: "UnknownPath", 405: "MethodNotAllowed"}


# ---- loading and resolving --------------------------------------------------------------------
def _load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


SPEC = _load_spec()
WS_INDEX: dict[str, Any] = json.loads((WS_DIR / "messages.json").read_text(encoding="utf-8"))
SERVER_MESSAGES: dict[str, str] = WS_INDEX["server_to_client"]["text"]
CLIENT_MESSAGES: dict[str, str] = WS_INDEX["client_to_server"]["text"]


def _registry() -> Registry:
    resources = [(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))]
    for path in sorted(WS_DIR.glob("*.schema.json")):
        resources.append((path.as_uri(), Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def validator_at(*parts: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at this location of the spec, its ``$ref``s resolved."""
    return jsonschema.Draft202012Validator({"$ref": f"{SPEC_URI}#/{_pointer(*parts)}"}, registry=REGISTRY)


@cache
def ws_validator(filename: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": (WS_DIR / filename).as_uri()}, registry=REGISTRY)


def deref(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Follow a local ``$ref`` of a response, parameter or request body: (object, its location)."""
    location: list[str] = []
    while "$ref" in obj:
        location = [p.replace("~1", "/").replace("~0", "~") for p in obj["$ref"].removeprefix("#/").split("/")]
        obj = at(location)
    return obj, location


def at(location: Iterable[str]) -> dict[str, Any]:
    target: Any = SPEC
    for part in location:
        target = target[part]
    result: dict[str, Any] = target
    return result


def errors_of(validator: jsonschema.Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)]


# ---- the operations and the URLs they answer ---------------------------------------------------
def operations() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(METHOD, full URL path template, spec path, operation) for every server of every path."""
    for path, item in SPEC["paths"].items():
        servers = item.get("servers", SPEC["servers"])
        for method in METHODS:
            if method in item:
                for server in servers:
                    yield method.upper(), server["url"].rstrip("/") + path, path, item[method]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


OPERATIONS = [(m, _template_regex(url), url, path, op) for m, url, path, op in operations()]


def find_operation(method: str, raw_path: str) -> tuple[str, dict[str, Any]] | None:
    """(spec path, operation) answering this request; the most literal match wins."""
    found = [(url.count("{"), path, op) for m, regex, url, path, op in OPERATIONS
             if m == method and regex.match(raw_path)]
    if not found:
        return None
    _, path, op = min(found, key=lambda f: f[0])
    return path, op


# ---- responses ----------------------------------------------------------------------------------
def media_entry(content: dict[str, Any], content_type: str) -> str | None:
    base = content_type.split(";")[0].strip().lower()
    for candidate in (base, base.split("/")[0] + "/*", "*/*"):
        if candidate in content:
            return candidate
    return None


def check_recorded(response: dict[str, Any], location: list[str]) -> list[str]:
    """Problems of a response (in the transcripts' shape: ``headers``, ``body_kind`` of json,
    text, empty or binary, ``json``/``text``) against the spec's response object at ``location``."""
    spec_response, ref = deref(at(location))
    location = ref or location
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    problems = []
    for name, header in (spec_response.get("headers") or {}).items():
        if name.lower() not in headers:
            if header.get("required"):
                problems.append(f"missing header {name}")
            continue
        validator = validator_at(*location, "headers", name, "schema")
        problems += [f"header {name}: {e}" for e in errors_of(validator, headers[name.lower()])]
    content = spec_response.get("content")
    kind = response.get("body_kind")
    if not content:
        return problems + ([] if kind == "empty" else [f"spec says empty body, got {kind}"])
    media = media_entry(content, headers.get("content-type", ""))
    if media is None:
        return [*problems, f"media type {headers.get('content-type')!r} not in {sorted(content)}"]
    if "schema" not in content[media]:
        return problems
    validator = validator_at(*location, "content", media, "schema")
    if kind in ("json", "text", "empty"):
        problems += errors_of(validator, {"json": response.get("json"), "text": response.get("text")}.get(kind, ""))
    elif "size" in response and content[media]["schema"].get("maxLength") is not None:
        limit = content[media]["schema"]["maxLength"]
        if response["size"] > limit:  # a binary body where the spec allows at most `limit` bytes
            problems.append(f"{response['size']}-byte body, the spec allows at most {limit}")
    return problems


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return value.lower() == "true"
    return value


def check_request(request: dict[str, Any], spec_path: str, method: str, op: dict[str, Any]) -> list[str]:
    """Problems of an accepted request's query and JSON body against the operation."""
    params = SPEC["paths"][spec_path].get("parameters", []) + op.get("parameters", [])
    query_params = {p["name"]: p for p in (deref(p)[0] for p in params) if p["in"] == "query"}
    problems = []
    for name, value in (request.get("query") or {}).items():
        if name not in query_params:
            problems.append(f"query parameter {name!r} is not specified")
            continue
        schema = query_params[name]["schema"]
        try:
            coerced = _coerce(value, schema)
        except ValueError:
            problems.append(f"query {name}={value!r} is not a {schema.get('type')}")
            continue
        problems += [f"query {name}: {e}" for e in errors_of(jsonschema.Draft202012Validator(schema), coerced)]
    if "json" in request:
        _body, location = deref(op["requestBody"])
        location = location or ["paths", spec_path, method, "requestBody"]
        validator = validator_at(*location, "content", "application/json", "schema")
        problems += [f"request body: {e}" for e in errors_of(validator, request["json"])]
    return problems


def response_location(method: str, raw_path: str, status: int) -> list[str] | str:
    """Where the spec describes this answer (a location in the spec), or the problem why not."""
    found = find_operation("GET" if method == "HEAD" else method, raw_path)
    if found is None:
        if method == "OPTIONS" and status == 200:
            return ["components", "responses", "Preflight"]
        if status in ROUTER_RESPONSES:
            return ["components", "responses", ROUTER_RESPONSES[status]]
        if status == 500:  # any request can fail before routing (an Origin that cannot be read)
            return ["components", "responses", "InternalServerError"]
        return f"no operation answers {method} {raw_path} (status {status})"
    spec_path, op = found
    if str(status) not in op["responses"]:
        if status == 500:  # every route's handler, and the Origin check before it, may fail so
            return ["components", "responses", "InternalServerError"]
        return f"{op['operationId']} does not document status {status}"
    return ["paths", spec_path, "get" if method == "HEAD" else method.lower(), "responses", str(status)]


def check_step(step: dict[str, Any]) -> list[str]:
    """Problems of a recorded transcript step (request and response) against the spec."""
    request, response = step["request"], step["response"]
    method, raw_path = request["method"], request["path"].split("?")[0]
    status = response["status"]
    location = response_location(method, raw_path, status)
    if isinstance(location, str):
        return [location]
    problems = check_recorded(response, location)
    if location[0] == "paths" and 200 <= status < 300:
        problems += check_request(request, location[1], location[2], at(location[:3]))
    return problems


def _is_json(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _has_schema(location: list[str], content_type: str) -> bool:
    """Whether the spec gives this media type a schema (or says there is no body at all)."""
    content = deref(at(location))[0].get("content")
    if not content:
        return True
    media = media_entry(content, content_type)
    return media is not None and "schema" in content[media]


def check_response(method: str, path: str, status: int,
                   headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes) -> list[str]:
    """Problems of an answer the fake gave: ``path`` is the raw request path (no query string).

    JSON bodies are parsed and validated, text bodies validated as strings, binary bodies only
    checked for their media type; an empty body is required where the spec documents no content.
    A HEAD answer is checked like its GET's, without its (absent) body.
    """
    method = method.upper()
    location = response_location(method, path, status)
    if isinstance(location, str):
        return [location]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered = {k.lower(): v for k, v in pairs}
    content_type = lowered.get("content-type", "")
    response: dict[str, Any] = {"headers": lowered}
    if method == "HEAD":
        if not deref(at(location))[0].get("content"):
            response["body_kind"] = "empty"
        else:
            response["body_kind"] = "binary"  # media type only
    elif not body:
        response["body_kind"] = "empty"
    elif not _has_schema(location, content_type):  # e.g. a file served with its guessed type
        response.update(body_kind="binary", size=len(body))
    elif _is_json(content_type):
        try:
            response.update(body_kind="json", json=json.loads(body))
        except ValueError as exc:
            return [f"{content_type} body is not JSON: {exc}"]
    elif content_type.lower().startswith("text/"):
        try:
            response.update(body_kind="text", text=body.decode("utf-8"))
        except UnicodeDecodeError:
            response["body_kind"] = "binary"
    else:
        response.update(body_kind="binary", size=len(body))
    return check_recorded(response, location)


# ---- WebSocket messages -------------------------------------------------------------------------
def check_ws_message(text: str) -> list[str]:
    """Problems of a server-to-client text frame against the schema of its ``type``."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        return [f"WebSocket text frame is not JSON: {exc}"]
    event = message.get("type") if isinstance(message, dict) else None
    if not isinstance(event, str) or event not in SERVER_MESSAGES:
        return [f"WebSocket message type {event!r} has no schema"]
    return [f"{event}: {e}" for e in errors_of(ws_validator(SERVER_MESSAGES[event]), message)]
