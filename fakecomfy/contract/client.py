"""The HTTP side of a contract run: :class:`ContractClient` sends each request, checks its answer
against the spec and records the result in the run's :class:`~fakecomfy.contract.report.Report`.
The check groups (``reads``, ``files``, ``users``, ``prompt``, ``queue``) all go through it."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from fakecomfy import protocol
from fakecomfy.contract import spec
from fakecomfy.contract.report import Check, Outcome, Report, judged

# What a run creates is named PREFIX + its token, so it never touches anything else.
PREFIX = "fakecomfy-contract-"
BodyCheck = Callable[[httpx.Response], list[str]]


class ContractClient:
    """One run's connection to the target, its options and the checks recorded so far."""

    def __init__(self, url: str, *, destructive: bool = False, timeout: float = 60.0,
                 user: str | None = None, log: Callable[[str], None] | None = None) -> None:
        self.base = url.rstrip("/")
        self.destructive = destructive
        self.timeout = timeout
        self.token = uuid.uuid4().hex[:12]
        self.headers = {protocol.HEADER_COMFY_USER: user} if user else {}
        self.log: Callable[[str], None] = log or (lambda line: None)
        self.report = Report(self.base, self.token, destructive)
        self.exercised: set[str] = set()
        self._http = httpx.Client(base_url=self.base, timeout=timeout, headers=self.headers)

    @property
    def own_name(self) -> str:
        """``fakecomfy-contract-<token>``: the name of everything this run creates."""
        return f"{PREFIX}{self.token}"

    def close(self) -> None:
        self._http.close()

    # ---- recording --------------------------------------------------------------------------
    def add(self, check: Check) -> Check:
        self.report.checks.append(check)
        if check.operation:
            self.exercised.add(check.operation)
        self.log(check.headline)
        return check

    def skip(self, operation: str, name: str, why: str) -> None:
        self.add(Check(name=name, outcome=Outcome.SKIP, operation=operation, note=why))

    # ---- requests ---------------------------------------------------------------------------
    def call(self, operation: str, method: str, path: str, *, expect: Iterable[int] = (200,),
             check_body: BodyCheck | None = None, label: str | None = None,
             **kwargs: Any) -> httpx.Response | None:
        """One request, its answer checked against the spec (and ``expect``, and ``check_body``)."""
        shown = self._shown(method, path, kwargs)
        name = label or f"{method} {path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.add(Check(name, Outcome.FAIL, operation, shown, None, [f"request failed: {exc!r}"]))
            return None
        raw_path = response.request.url.raw_path.decode().split("?")[0]
        body = b"" if method == "HEAD" else response.content
        problems = spec.check_response(method, raw_path, response.status_code, response.headers.multi_items(), body)
        expected = list(expect)
        if response.status_code not in expected:
            snippet = response.text[:200] if response.content else "<empty body>"
            problems.insert(0, f"expected status {'/'.join(map(str, expected))}, got {response.status_code}: {snippet}")
        elif not problems and check_body is not None:
            try:
                problems += check_body(response)
            except Exception as exc:  # noqa: BLE001 - a malformed answer is a deviation
                problems.append(f"unexpected answer: {exc!r}")
        self.add(Check(name, judged(problems), operation, shown, response.status_code, problems))
        return response

    def both(self, operation: str, method: str, path: str, **kwargs: Any) -> list[httpx.Response | None]:
        """The request under both servers of the spec (``/`` and ``/api``)."""
        return [self.call(operation, method, prefix + path, **kwargs) for prefix in ("", "/api")]

    def _shown(self, method: str, path: str, kwargs: dict[str, Any]) -> str:
        """The request as the report shows it: method, raw path and query, a hint of the body."""
        request = httpx.Request(method, self.base + path, params=kwargs.get("params"))
        shown = f"{method} {request.url.raw_path.decode()}"
        if "json" in kwargs:
            shown += " " + json.dumps(kwargs["json"])[:200]
        elif "content" in kwargs:
            shown += f" <{len(kwargs['content'])} bytes>"
        elif "files" in kwargs:
            shown += " <multipart " + ", ".join(sorted(kwargs["files"])) + ">"
        return shown


def answered(response: httpx.Response | None, default: Any = None) -> Any:
    """The JSON of a 200 answer, or ``default`` when the request failed or was refused."""
    return response.json() if response is not None and response.status_code == 200 else default


__all__ = ["PREFIX", "BodyCheck", "ContractClient", "answered"]
