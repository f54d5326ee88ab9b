"""POST /prompt (validate, number, queue) and GET /prompt (the queue's size).

Real ComfyUI reads the body with ``await request.json()`` whatever its Content-Type and then
probes it with Python's ``in`` and ``[]``: a body that is a list or a string is probed too (it
has no ``prompt``, so 400 ``no_prompt``), anything those operations fail on is a 500.
"""
from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core.execution import QueueItem
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.validation import MalformedPromptError, error, validate_prompt
from fakecomfy.web.requests import read_json
from fakecomfy.web.responses import internal_error, json_response
from fakecomfy.web.routing import Router


def _has(body: Any, key: str) -> bool:
    """Python's ``key in body`` on any JSON value (substring test for a string, a 500 for a number)."""
    if isinstance(body, (dict, list, str)):
        return key in body
    raise internal_error()


def _get(body: Any, key: str) -> Any:
    """``body[key]``: only an object can be indexed by a name."""
    if isinstance(body, dict):
        return body[key]
    raise internal_error()


def _number(body: Any, counter: Any) -> int | float:
    """An explicit ``number`` as a float; else the next counter value, negated for ``front``.
    The counter advances for every such POST, valid or not."""
    if _has(body, "number"):
        try:
            return float(_get(body, "number"))
        except (TypeError, ValueError, OverflowError):
            raise internal_error() from None
    front = _has(body, "front") and bool(_get(body, "front"))
    number: int = counter()
    return -number if front else number


def _extra_data(body: dict[str, Any], accepted: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(extra_data, sensitive): the request's extra_data, then client_id; on acceptance the
    sensitive keys move out and create_time (ms) is set. A non-object extra_data is a 500 once
    real ComfyUI writes into it."""
    extra: Any = body.get("extra_data", {})
    writes = accepted or "client_id" in body
    if not isinstance(extra, dict):
        if writes:
            raise internal_error()
        return {}, {}
    if "client_id" in body:
        extra["client_id"] = body["client_id"]
    sensitive: dict[str, Any] = {}
    if accepted:
        for key in protocol.SENSITIVE_EXTRA_DATA_KEYS:
            if key in extra:
                sensitive[key] = extra.pop(key)
        extra["create_time"] = int(time.time() * 1000)
    return extra, sensitive


def register(router: Router, model: ComfyModel) -> None:
    async def get_prompt(request: Request) -> Response:
        return json_response({"exec_info": {"queue_remaining": model.queue.remaining()}})

    async def post_prompt(request: Request) -> Response:
        body = await read_json(request)
        number = _number(body, model.queue.next_number)
        if not _has(body, "prompt"):
            missing = error(protocol.ERR_NO_PROMPT, protocol.MSG_NO_PROMPT, protocol.MSG_NO_PROMPT)
            return json_response({"error": missing, "node_errors": {}}, status=400)
        prompt = _get(body, "prompt")
        prompt_id = str(body["prompt_id"]) if "prompt_id" in body else str(model.env.ids.uuid4())
        try:
            result = validate_prompt(prompt, body.get("partial_execution_targets"), model.catalog, model.files,
                                     model.injected_validation_errors())
        except MalformedPromptError:
            raise internal_error() from None
        extra_data, sensitive = _extra_data(body, result.ok)
        if not result.ok:
            return json_response({"error": result.error, "node_errors": result.node_errors}, status=400)
        model.queue.put(QueueItem(number, prompt_id, result.prompt, extra_data, result.good_outputs, sensitive))
        return json_response({"prompt_id": prompt_id, "number": number, "node_errors": result.node_errors})

    router.add("GET", "/prompt", get_prompt)
    router.add("POST", "/prompt", post_prompt)
