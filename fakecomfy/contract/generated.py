"""schemathesis-generated requests for the read-only (GET) operations of ``openapi/comfyui.yaml``,
each answer checked with :func:`fakecomfy.contract.spec.check_response`. Used by the contract
runner with ``--max-examples N`` (N cases per operation)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from fakecomfy.contract import spec
from fakecomfy.contract.runner import FAIL, PASS, Check

# Not generated: the WebSocket upgrade, and the index page (no parameters to vary).
EXCLUDED = {"connectWebSocket", "getIndex"}


def run(base: str, max_examples: int, headers: dict[str, str], timeout: float) -> Iterator[Check]:
    import hypothesis
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(spec.SPEC)
    session = requests.Session()
    try:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                yield Check("generated (an operation schemathesis cannot load)", FAIL, "", "", None, [repr(result)])
                continue
            operation = result.ok()
            op_id = operation.definition.raw.get("operationId", "")
            if operation.method.upper() != "GET" or op_id in EXCLUDED:
                continue
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
            yield Check(f"generated {operation.method.upper()} {operation.path} ({len(statuses)} cases)",
                        FAIL if problems else PASS, op_id, shown[0] if shown else "",
                        statuses[-1] if statuses else None, problems)
    finally:
        session.close()
