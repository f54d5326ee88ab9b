"""Queue, history, interrupt, free and jobs routes (``/queue``, ``/history``, ``/api/jobs``).

The POST handlers apply ComfyUI's ``key in body`` / ``body[key]`` tests to whatever JSON came
in, so a list or string body that lacks the key is accepted and ignored, while one that
contains it, or a number or null, is a 500 (see :func:`_member`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.core import jobs
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.queue import WorkerFlag
from fakecomfy.web.requests import read_json, read_text
from fakecomfy.web.responses import empty, internal_error, json_response
from fakecomfy.web.routing import Router, path_param

_MISSING = object()


def query_params(request: Request) -> dict[str, str]:
    """The query as aiohttp's ``query.get`` sees it: the *first* value of a repeated key."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, value)
    return params


def _member(body: Any, key: str) -> Any:
    """``body[key]`` when ``key in body`` holds, else ``_MISSING``, as real's handlers test it.

    An object is looked up; a list or string without the key passes (``in`` is False there);
    a list or string with it, a number, a boolean or null fails like Python would: a 500.
    """
    if isinstance(body, dict):
        return body.get(key, _MISSING)
    if isinstance(body, (list, str)) and key not in body:
        return _MISSING
    raise internal_error()


def _clear_then_delete(body: Any, clear: Callable[[], None], delete: Callable[[Any], None]) -> None:
    """POST /queue and /history as real handles them: ``clear`` first, then each ``delete`` id."""
    flag = _member(body, "clear")
    if flag is not _MISSING and flag:
        clear()
    ids = _member(body, "delete")
    if ids is not _MISSING:
        for prompt_id in _ids(ids):
            delete(prompt_id)


def _ids(value: Any) -> Iterable[Any]:
    """What ``for id in body["delete"]`` walks: list items, object keys, string characters."""
    if isinstance(value, (list, dict, str)):
        return list(value)
    raise internal_error()


def _int_param(params: dict[str, str], name: str) -> int | None:
    """``int(query[name])`` or None; anything int() refuses is a 500, like real."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise internal_error() from None


async def _interrupt_body(request: Request) -> Any:
    """The body of ``POST /interrupt``: JSON that does not parse counts as ``{}``.

    Only JSON syntax errors are forgiven; bytes the declared charset (UTF-8 by default) cannot
    decode fail before parsing (500).
    """
    text = await read_text(request)
    try:
        return json.loads(text)
    except ValueError:
        return {}


def register(router: Router, model: ComfyModel) -> None:
    queue = model.queue

    # ---- queue ----------------------------------------------------------------------------
    async def get_queue(request: Request) -> Response:
        running, pending = queue.current()
        return json_response({
            "queue_running": [item.as_list() for item in running],
            "queue_pending": [item.as_list() for item in pending],  # raw heap order, like real
        })

    async def post_queue(request: Request) -> Response:
        def delete(prompt_id: Any) -> None:
            if isinstance(prompt_id, str):  # other JSON values never equal a prompt id
                queue.delete(prompt_id)

        _clear_then_delete(await read_json(request), queue.wipe, delete)
        return empty()

    # ---- history --------------------------------------------------------------------------
    async def get_history(request: Request) -> Response:
        params = query_params(request)
        max_items = _int_param(params, "max_items")
        offset = _int_param(params, "offset")
        return json_response(queue.get_history(max_items=max_items,
                                               offset=-1 if offset is None else offset))

    async def get_history_entry(request: Request) -> Response:
        return json_response(queue.get_history(prompt_id=path_param(request, "prompt_id")))

    async def post_history(request: Request) -> Response:
        def delete(prompt_id: Any) -> None:
            # real's dict.pop raises on a list or object id, except on an empty history (CPython
            # returns the default of an empty dict's pop before it hashes the key)
            if not isinstance(prompt_id, Hashable) and queue.history:
                raise internal_error()
            if isinstance(prompt_id, str):  # history is keyed by strings only
                queue.delete_history(prompt_id)

        _clear_then_delete(await read_json(request), queue.wipe_history, delete)
        return empty()

    # ---- interrupt and free ---------------------------------------------------------------
    async def post_interrupt(request: Request) -> Response:
        body = await _interrupt_body(request)
        if not isinstance(body, dict):
            raise internal_error()  # real calls body.get(...)
        prompt_id = body.get("prompt_id")
        if not prompt_id:  # absent, null, "" or 0: a global interrupt
            model.interrupt_prompt(None)
        elif isinstance(prompt_id, str):
            model.interrupt_prompt(prompt_id)  # fires only if that prompt is the running one
        # Any other JSON value never equals a running prompt id: nothing happens.
        return empty()

    async def post_free(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise internal_error()  # real calls body.get(...)
        for flag in (WorkerFlag.UNLOAD_MODELS, WorkerFlag.FREE_MEMORY):
            value = body.get(flag.value, False)
            if value:
                queue.set_flag(flag, value)
        return empty()

    # ---- jobs -----------------------------------------------------------------------------
    async def list_jobs(request: Request) -> Response:
        try:
            query = jobs.JobQuery.parse(query_params(request))
        except jobs.JobQueryError as err:
            return json_response({"error": err.message}, status=400)
        running, pending = queue.current()
        return json_response(jobs.list_jobs(running, pending, queue.history_snapshot(), query))

    async def get_job(request: Request) -> Response:
        job_id = path_param(request, "job_id")
        running, pending = queue.current()
        job = jobs.find_job(job_id, running, pending, queue.get_history(prompt_id=job_id))
        if job is None:
            return json_response({"error": protocol.ERR_JOB_NOT_FOUND}, status=404)
        return json_response(job)

    router.add("GET", "/queue", get_queue)
    router.add("POST", "/queue", post_queue)
    router.add("GET", "/history", get_history)
    router.add("GET", "/history/{prompt_id}", get_history_entry)
    router.add("POST", "/history", post_history)
    router.add("POST", "/interrupt", post_interrupt)
    router.add("POST", "/free", post_free)
    # Registered as /api/jobs like real, so the /api alias makes /api/api/jobs and /jobs is 404.
    router.add("GET", "/api/jobs", list_jobs)
    router.add("GET", "/api/jobs/{job_id}", get_job)
