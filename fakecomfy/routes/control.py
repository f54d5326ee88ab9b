"""``/_fakecomfy/``: the control plane over HTTP, for tests in any language (curl works).

Never under ``/api`` and not part of ComfyUI's API; ``openapi/control.yaml`` describes it.
Errors are ``400 {"error": "..."}`` naming what is wrong; unknown fault ids are 404.
"""
from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fakecomfy import protocol
from fakecomfy.control import ControlPlane
from fakecomfy.core import gpu_profiles
from fakecomfy.core.faults import FaultSpecError
from fakecomfy.web.requests import read_body
from fakecomfy.web.responses import HTTPError, json_response
from fakecomfy.web.routing import Router, path_param

_OK = {"ok": True}


def _bad(message: str) -> HTTPError:
    return HTTPError(json_response({"error": message}, status=400))


async def _json(request: Request, default: Any = None) -> Any:
    body = await read_body(request)
    if not body.strip():
        return default
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise _bad("the body is not JSON") from None


async def _object(request: Request) -> dict[str, Any]:
    value = await _json(request, {})
    if not isinstance(value, dict):
        raise _bad("the body must be a JSON object")
    return value


def _number(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a number") from None


class ControlRoutes:
    def __init__(self, control: ControlPlane) -> None:
        self.control = control

    async def reset(self, request: Request) -> Response:
        self.control.reset()
        return json_response(_OK)

    async def seed(self, request: Request) -> Response:
        body = await _object(request)
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise _bad("seed must be an integer or null")
        self.control.seed(seed)
        return json_response(_OK)

    async def list_faults(self, request: Request) -> Response:
        return json_response({"faults": [f.as_dict() for f in self.control.faults]})

    async def add_fault(self, request: Request) -> Response:
        spec = await _object(request)
        try:
            fault = self.control.add_fault(spec)
        except (FaultSpecError, TypeError) as err:
            raise _bad(str(err)) from None
        return json_response(fault.as_dict())

    async def clear_faults(self, request: Request) -> Response:
        self.control.clear_faults()
        return json_response(_OK)

    async def remove_fault(self, request: Request) -> Response:
        if not self.control.remove_fault(path_param(request, "fault_id")):
            return json_response({"error": "no such fault"}, status=404)
        return json_response(_OK)

    async def pause(self, request: Request) -> Response:
        self.control.pause()
        return json_response(_OK)

    async def resume(self, request: Request) -> Response:
        self.control.resume()
        return json_response(_OK)

    async def step(self, request: Request) -> Response:
        body = await _object(request)
        timeout = _number(body.get("timeout"), "timeout", 10.0)
        try:
            position = await _in_thread(self.control.step, body.get("unit", "node"), timeout)
        except ValueError as err:
            raise _bad(str(err)) from None
        return json_response({"position": position})

    async def worker(self, request: Request) -> Response:
        wait = request.query_params.get("wait")
        if wait is not None:
            await _in_thread(self.control.wait_paused, _number(wait, "wait", 10.0))
        return json_response(self.control.model.env.gate.state())

    async def get_node_times(self, request: Request) -> Response:
        return json_response({"node_times": dict(self.control.model.settings.node_times)})

    async def set_node_times(self, request: Request) -> Response:
        try:
            self.control.set_node_times(await _object(request))
        except ValueError as err:
            raise _bad(str(err)) from None
        return await self.get_node_times(request)

    async def get_device(self, request: Request) -> Response:
        return json_response(self.control.device())

    async def set_device(self, request: Request) -> Response:
        body = await _object(request)
        profile = body.get("profile")
        if profile is not None and not isinstance(profile, str):
            raise _bad("profile must be a string or null")
        try:
            if profile is not None:  # over HTTP only the shipped ones: a client must not make the
                gpu_profiles.load(profile, files=False)  # server read its files
            return json_response(await _in_thread(self.control.set_device_profile, profile))
        except ValueError as err:
            raise _bad(str(err)) from None

    async def requests(self, request: Request) -> Response:
        query = request.query_params
        status = query.get("status")
        body = {k[len("body."):]: _query_value(v) for k, v in query.items() if k.startswith("body.")}
        found = self.control.requests(query.get("method"), query.get("path"), body or None,
                                      int(_number(status, "status", 0)) if status is not None else None)
        return json_response({"requests": found})

    async def messages(self, request: Request) -> Response:
        query = request.query_params
        found = self.control.messages(query.get("type"), query.get("sid"), query.get("prompt_id"))
        return json_response({"messages": found})

    async def clear_journal(self, request: Request) -> Response:
        self.control.journal.clear()
        return json_response(_OK)

    async def state(self, request: Request) -> Response:
        return json_response(self.control.state())


def _query_value(text: str) -> Any:
    """A body filter's value: JSON where it parses (``5``, ``true``, ``"x"``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Blocking waits (step, wait for the worker) off the event loop, which keeps serving."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def register(router: Router, control: ControlPlane) -> None:
    routes = ControlRoutes(control)
    base = protocol.CONTROL_PREFIX.rstrip("/")
    table = [
        ("POST", "/reset", routes.reset),
        ("POST", "/seed", routes.seed),
        ("GET", "/faults", routes.list_faults),
        ("POST", "/faults", routes.add_fault),
        ("DELETE", "/faults", routes.clear_faults),
        ("DELETE", "/faults/{fault_id}", routes.remove_fault),
        ("POST", "/pause", routes.pause),
        ("POST", "/resume", routes.resume),
        ("POST", "/step", routes.step),
        ("GET", "/worker", routes.worker),
        ("GET", "/node-times", routes.get_node_times),
        ("PUT", "/node-times", routes.set_node_times),
        ("GET", "/device", routes.get_device),
        ("PUT", "/device", routes.set_device),
        ("GET", "/journal/requests", routes.requests),
        ("GET", "/journal/messages", routes.messages),
        ("DELETE", "/journal", routes.clear_journal),
        ("GET", "/state", routes.state),
    ]
    for method, path, handler in table:
        router.add(method, base + path, handler, api_alias=False)


__all__ = ["ControlRoutes", "register"]
