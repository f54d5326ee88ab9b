"""``fakecomfy contract URL``: check any ComfyUI-compatible server against ``openapi/``.

Plain HTTP and WebSocket clients (httpx, websocket-client); nothing here needs Starlette. What it
does to the target, one check group a module:

* ``reads``: every read-only operation of the spec, under both servers (``/`` and ``/api``), with
  valid parameters, its answer checked with :func:`fakecomfy.contract.spec.check_response`;
* writes only on what the run itself creates: ``files``, one uploaded image and mask with a unique
  ``fakecomfy-contract-<token>`` name in ``input/``; ``users``, userdata files under a unique
  ``fakecomfy-contract-<token>/`` directory (deleted again; ComfyUI's API cannot remove the then
  empty directory); ``prompt``, one model-free prompt (EmptyImage 64x64 -> PreviewImage, nothing
  lands in ``output/``) whose history entry ``queue`` deletes afterwards, with a queue delete of
  an unknown id;
* only with ``destructive=True``: settings written back with their own values, a user created,
  ``POST /queue {"clear": true}``, ``POST /history {"clear": true}``, ``/interrupt`` and ``/free``;
* ``prompt``: the WebSocket greeting, the feature_flags answer, the event order of the prompt, no
  binary frames;
* optionally (``max_examples > 0``) ``generated``: schemathesis-generated requests for the
  read-only operations.
"""
from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

from fakecomfy.contract import spec
from fakecomfy.contract.client import ContractClient
from fakecomfy.contract.files import check_files
from fakecomfy.contract.prompt import check_websocket_and_prompt
from fakecomfy.contract.queue import check_queue_and_history
from fakecomfy.contract.reads import check_read_only
from fakecomfy.contract.report import Check, Outcome, Report
from fakecomfy.contract.users import check_settings_and_users, check_userdata


class ContractRunner:
    """The check groups in order, each failure of a check itself reported and the run going on;
    then a SKIP for every operation of the spec no group exercised."""

    def __init__(self, url: str, *, destructive: bool = False, max_examples: int = 0,
                 timeout: float = 60.0, user: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.client = ContractClient(url, destructive=destructive, timeout=timeout, user=user, log=log)
        self.max_examples = max_examples
        self.prompt_id: str | None = None

    @property
    def report(self) -> Report:
        return self.client.report

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        """(name, step): the name is what a failure of the step itself is reported as."""
        client = self.client
        return [
            ("read_only", lambda: check_read_only(client)),
            ("files", lambda: check_files(client)),
            ("userdata", lambda: check_userdata(client)),
            ("settings_and_users", lambda: check_settings_and_users(client)),
            ("websocket_and_prompt", self.websocket_and_prompt),
            ("queue_and_history", lambda: check_queue_and_history(client, self.prompt_id)),
            ("generated", self.generated),
        ]

    def run(self) -> Report:
        started = time.monotonic()
        try:
            for name, step in self.steps():
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - report, go on with the next group
                    self.client.add(Check(f"{name} (internal)", Outcome.FAIL, "", "",
                                          None, [f"the check itself failed: {exc!r}"]))
            self.skip_unexercised()
        finally:
            self.client.close()
            self.report.duration_s = time.monotonic() - started
        return self.report

    def websocket_and_prompt(self) -> None:
        self.prompt_id = check_websocket_and_prompt(self.client)

    def generated(self) -> None:
        if self.max_examples <= 0:
            return
        from fakecomfy.contract import generated  # needs schemathesis

        client = self.client
        for check in generated.run(client.base, self.max_examples, client.headers, client.timeout):
            client.add(check)

    def skip_unexercised(self) -> None:
        for method, url, _path, op in spec.operations():
            if op["operationId"] not in self.client.exercised:
                self.client.skip(op["operationId"], f"{method} {url}", "not exercised by this run")


def run_contract(url: str, *, destructive: bool = False, max_examples: int = 0, timeout: float = 60.0,
                 user: str | None = None, report: Path | None = None,
                 out: Callable[[str], None] = print) -> int:
    """The ``fakecomfy contract`` command: print the report, write it, exit status 0 or 1."""
    if report is not None and report.suffix.lower() not in (".json", ".md"):
        raise SystemExit(f"fakecomfy contract: --report must end in .json or .md, not {report.name!r}")
    if max_examples > 0 and importlib.util.find_spec("schemathesis") is None:
        raise SystemExit("fakecomfy contract: --max-examples needs schemathesis: pip install 'fakecomfy[contract]'")
    result = ContractRunner(url, destructive=destructive, max_examples=max_examples, timeout=timeout,
                            user=user).run()
    out(result.text())
    if report is not None:
        result.write(report)
        out(f"report written to {report}")
    return 0 if result.ok else 1


__all__ = ["ContractRunner", "run_contract"]
