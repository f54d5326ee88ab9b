"""Schemathesis against the fake: every operation of ``openapi/comfyui.yaml``, then its links.

What runs (schemathesis 4.x, Hypothesis underneath, against one real uvicorn server, the
``ServerThread`` that ``make_server`` uses but shared by the module, whose base directory is a
pytest tmp dir, so uploads and userdata stay there; it is stopped after the module):

* ``test_operation``: for each operation and each of the spec's two ``servers`` ("/" and "/api";
  GET / exists only bare), up to ``FAKECOMFY_SCHEMATHESIS_EXAMPLES`` (default 25) generated cases
  (operations without parameters or body have only one distinct case);
* ``test_stateful``: schemathesis' state machine over the spec's ``components/links`` (POST
  /prompt → GET /history/{prompt_id} and GET /api/jobs/{job_id}; upload → view; userdata write →
  read → move → delete), ``FAKECOMFY_SCHEMATHESIS_EXAMPLES`` scenarios of up to 10 steps, each
  from a reset server with seeded ids (the control plane), so a scenario's answers depend only
  on its own requests and Hypothesis' replays draw alike;
* ``test_case_count``: the total is at least 1 000 cases (the count is printed, with or without ``-s``).

Every response goes through the five checks ``not_a_server_error`` (see ``documented_500``),
``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance`` and
``response_headers_conformance``; and, as for every app of the suite, the contract middleware
(tests/conftest.py) checks each answer against the spec again.

Generation is derandomized (Hypothesis derives its seed from the test), with no example database,
so a CI run sends the same cases every time and writes nothing outside tmp dirs: about 1 700
cases (1 430 per operation, 290 stateful steps) in about 15 s. A bigger local run, with new
cases every time::

    FAKECOMFY_SCHEMATHESIS_EXAMPLES=500 FAKECOMFY_SCHEMATHESIS_RANDOM=1 \\
        .venv/bin/pytest -q -p no:cacheprovider tests/test_schemathesis.py

(``FAKECOMFY_SCHEMATHESIS_RANDOM=1`` turns derandomization off; the failing case's seed is then
in Hypothesis' report.)
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import stateful as st_stateful
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fakecomfy import protocol
from fakecomfy.contract.spec import SPEC_PATH
from fakecomfy.testing import ServerThread

# Hypothesis caches what it learns (constants, unicode data) in .hypothesis/ of the working
# directory unless told otherwise; set before any strategy is built, removed after the module.
HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="fakecomfy-hypothesis-")
set_hypothesis_home_dir(HYPOTHESIS_HOME)

EXAMPLES = int(os.environ.get("FAKECOMFY_SCHEMATHESIS_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("FAKECOMFY_SCHEMATHESIS_RANDOM", "") in ("", "0")
MIN_CASES = 1000
REQUEST_TIMEOUT = 10

# Links only from the spec: schemathesis' own link inference guesses from names, and what it
# guesses changes between its versions.
CONFIG = schemathesis.Config.from_dict({"phases": {"stateful": {"inference": {"algorithms": []}}}})
SCHEMA = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations() if isinstance(result, Ok)]
assert len(OPERATIONS) == len(list(SCHEMA.get_all_operations())), "an operation schemathesis cannot load"


def _servers_of(operation: Any) -> list[str]:
    path_item = SCHEMA.raw_schema["paths"][operation.path]
    return [server["url"].rstrip("/") for server in path_item.get("servers", SCHEMA.raw_schema["servers"])]


PARAMS = [
    pytest.param(operation, prefix, id=f"{prefix or '/'} {operation.label}")
    for operation in OPERATIONS
    for prefix in _servers_of(operation)
]

CASES: Counter[str] = Counter()
# A prompt that validates (a random one never does, so POST /prompt would never answer the 200
# that its links start from): the stateful run puts it into every generated POST /prompt body.
VALID_PROMPT = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "schemathesis"}},
}


def documented_500(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, except for a 500 the spec documents for this operation.

    Real ComfyUI answers 500 when a handler fails on its input: a body that is not JSON or has
    the wrong types (POST /prompt, /settings, /settings/{id}, /queue, /history, /free, /users,
    /interrupt), a non-integer ``max_items``/``offset`` (GET /history), an unknown user of the
    userdata routes in multi-user mode, a failing upload (original_ref of
    /upload/mask naming nothing usable) and a job whose ``extra_pnginfo`` is not an object.
    The spec lists a "500" for exactly those operations, and ``response_schema_conformance``
    still checks that body against the documented one (ComfyUI's fixed text); every other
    operation keeps the plain ``not_a_server_error``.
    """
    if response.status_code == 500 and "500" in case.operation.definition.raw.get("responses", {}):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    documented_500,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _settings(**kwargs: Any) -> settings:
    return settings(
        max_examples=EXAMPLES,
        derandomize=DERANDOMIZE,
        database=None,  # no .hypothesis/ directory in the work tree
        deadline=None,  # a real server on a loaded 2-core CI machine: timing is not the contract
        # Drawing schema-shaped bodies (prompts, multipart forms) is slow and filter-heavy by
        # nature; these health checks would only flag schemathesis' generators, not the fake.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        **kwargs,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One server for the module (``make_server`` is function-scoped): the state the cases leave
    behind (uploads, userdata, history) only widens what later cases see."""
    from fakecomfy import Settings, create_app
    from fakecomfy.core import defaults

    base = tmp_path_factory.mktemp("schemathesis") / "base"
    defaults.populate(base)
    srv = ServerThread(create_app(Settings(base_directory=base, log_requests=False))).start()
    yield srv
    srv.stop()
    shutil.rmtree(HYPOTHESIS_HOME, ignore_errors=True)


@pytest.mark.parametrize(("operation", "prefix"), PARAMS)
def test_operation(server: ServerThread, operation: Any, prefix: str) -> None:
    base_url = server.url + prefix

    @_settings(phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        CASES[f"{prefix} {operation.label}"] += 1
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=REQUEST_TIMEOUT)

    run()


def _finite_number(value: Any) -> bool:
    """Whether ``float(value)`` is a finite number (or fails: then the prompt is refused)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return True


def wait_for_history(url: str, prompt_id: str) -> None:
    """Until the prompt is in the whole history (a client-chosen id such as ``..`` or ``""``
    has no ``/history/{prompt_id}`` URL of its own)."""
    deadline = time.monotonic() + REQUEST_TIMEOUT
    while prompt_id not in requests.get(f"{url}/history", timeout=REQUEST_TIMEOUT).json():
        assert time.monotonic() < deadline, f"prompt {prompt_id} never reached history"
        time.sleep(0.005)


def test_stateful(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    # schemathesis starts scenarios only at operations it thinks can succeed on random data, and
    # its dependency analysis reads PromptRequest's optional, client-chosen `prompt_id` as a
    # reference to a "Prompt" that nothing produces, so it never starts one at POST /prompt, the
    # head of the main link chain. Its own rule without that guard: any POST, or a GET without
    # path parameters (only link sources are considered at all).
    monkeypatch.setattr(
        st_stateful,
        "is_likely_root_transition",
        lambda operation, node, produced_anywhere: operation.method == "post"
        or (operation.method == "get" and not operation.path_parameters),
    )
    steps: Counter[str] = Counter()
    machine = SCHEMA.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Every scenario starts from a fresh server's state (files, queue, history) with
            # seeded ids. Hypothesis replays choice sequences and checks that they draw alike;
            # which link rules can fire depends on earlier answers (a 409 for a userdata file an
            # earlier scenario left, a job list that grew), so a server carrying state from one
            # scenario into the next made the draws differ: FlakyStrategyDefinition.
            for path, body in (("reset", None), ("seed", {"seed": 0})):
                answer = requests.post(f"{server.url}{protocol.CONTROL_PREFIX}{path}", json=body,
                                       timeout=REQUEST_TIMEOUT)
                assert answer.status_code == 200, answer.text

        def before_call(self, case: Any) -> None:
            if case.operation.label == "POST /prompt" and isinstance(case.body, dict):
                case.body = {**case.body, "prompt": VALID_PROMPT}
                if not _finite_number(case.body.get("number", 0)):
                    # an accepted prompt echoes float(number): real writes an infinite or NaN
                    # one as a bare Infinity/NaN, which is no JSON and no schema can describe
                    del case.body["number"]

        def after_call(self, response: Any, case: Any) -> None:
            # Prompts run on the worker thread: wait until an accepted one is in history, so the
            # next step's answers (history, jobs: the links' data) do not depend on timing, which
            # Hypothesis would see as a strategy that draws differently when replayed.
            if case.operation.label == "POST /prompt" and response.status_code == 200:
                wait_for_history(server.url, response.json()["prompt_id"])

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": server.url, "timeout": REQUEST_TIMEOUT}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            steps[case.operation.label] += 1
            CASES[f"stateful {case.operation.label}"] += 1
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    Workflow.run(settings=_settings(stateful_step_count=10))
    # The chains that the links describe were walked, not only their first operations.
    for target in ("GET /history/{prompt_id}", "GET /api/jobs/{job_id}", "GET /view", "GET /userdata/{file}",
                   "POST /userdata/{file}/move/{dest}", "DELETE /userdata/{file}"):
        assert steps[target], (target, steps)


def test_case_count(capsys: pytest.CaptureFixture[str]) -> None:
    ran = set(CASES)
    if sum(CASES.values()) == 0 or not any(key.startswith("stateful ") for key in ran):
        pytest.skip("the generating tests did not run (deselected)")
    total = sum(CASES.values())
    line = (f"schemathesis: {total} cases ({sum(v for k, v in CASES.items() if not k.startswith('stateful '))}"
            f" per operation over {len(PARAMS)} operation/server pairs, "
            f"{sum(v for k, v in CASES.items() if k.startswith('stateful '))} stateful steps)")
    with capsys.disabled():  # shown with or without -s
        print(f"\n{line}")
    if len(ran) - sum(1 for k in ran if k.startswith("stateful ")) == len(PARAMS):
        assert total >= MIN_CASES, line

