"""schemathesis-generated requests for the read-only (GET) operations of ``openapi/comfyui.yaml``,
each answer checked with :func:`fakecomfy.contract.spec.check_response`. Used by the contract
runner with ``--max-examples N`` (N cases per operation)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from fakecomfy.contract import spec
from fakecomfy.contract.report import Check, Outcome, judged

# Not generated: the WebSocket upgrade, and the index page (no parameters to vary).
EXCLUDED = {"connectWebSocket", "getIndex"}


def run(base: str, max_examples: int, headers: dict[str, str], timeout: float) -> Iterator[Check]:
    import requests
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(spec.SPEC)
    session = requests.Session()
    try:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                yield Check("generated (an operation schemathesis cannot load)", Outcome.FAIL, "", "", None,
                            [repr(result)])
                continue
            operation = result.ok()
            if operation.method.upper() != "GET" or operation.definition.raw.get("operationId", "") in EXCLUDED:
                continue
            yield _probe(operation, base, session, max_examples, headers, timeout)
    finally:
        session.close()


def _probe(operation: Any, base: str, session: Any, max_examples: int, headers: dict[str, str],
           timeout: float) -> Check:
    """``max_examples`` generated cases of one schemathesis ``APIOperation``, sent through the
    ``requests.Session``; the first deviation stops the operation's cases."""
    import hypothesis
    import requests
    from hypothesis import HealthCheck, Phase, given, settings

    problems: list[str] = []
    shown: list[str] = []
    statuses: list[int] = []

    @settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=operation.as_strategy())
    def probe(case: Any) -> None:
        if problems:
            return
        try:
            response = case.call(base_url=base, session=session, headers=dict(headers), timeout=timeout)
        except requests.RequestException as exc:
            problems.append(f"request failed: {exc!r}")
            shown.append(f"{case.method} {case.formatted_path}")
            return
        raw = urlsplit(response.request.url)
        pairs = [(k, v) for k, values in response.headers.items()
                 for v in (values if isinstance(values, list) else [values])]
        found = spec.check_response(case.method, raw.path, response.status_code, pairs, response.content or b"")
        statuses.append(response.status_code)
        if found:
            problems.extend(found)
            shown.append(f"{case.method} {raw.path}" + (f"?{raw.query}" if raw.query else ""))

    try:
        probe()
    except hypothesis.errors.HypothesisException as exc:  # e.g. unsatisfiable parameters
        problems.append(f"generation failed: {exc!r}")
    return Check(f"generated {operation.method.upper()} {operation.path} ({len(statuses)} cases)",
                 judged(problems), operation.definition.raw.get("operationId", ""), shown[0] if shown else "",
                 statuses[-1] if statuses else None, problems)
