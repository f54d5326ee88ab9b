"""How to drive the fake from a client written in another language: the control plane over
HTTP under ``/_fakecomfy/``, here with curl.

The session below (each step one curl line of the README) seeds the ids, injects an
out-of-memory fault, pauses the worker, queues a prompt, steps it to its first node, resumes,
reads the error the client was sent and the requests the server received, and resets. It runs
with curl where curl is installed, and over urllib always: the same requests.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.testing import FakeComfy
from tests.conftest import ROOT
from tests.examples.workflows import txt2img


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # $PROMPT_ID: the prompt id the session's POST /prompt answered
    body: Any = None  # a JSON value, or "@FILE" (curl's name for a body read from a file)
    until: str | None = None  # repeat until the answer has this key (polling, as a script would)

    def curl(self) -> str:
        """The curl line (``$COMFY`` is the server's URL)."""
        method = "" if self.method == "GET" or (self.method == "POST" and self.body is not None) else \
            f" -X {self.method}"
        data = ""
        if self.body is not None:
            data = f" -d {self.body}" if isinstance(self.body, str) else f" -d '{json.dumps(self.body)}'"
        return f'curl -s{method} "$COMFY{self.path}"{data}'


SESSION = {
    "seed": Call("POST", "/_fakecomfy/seed", {"seed": 42}),
    "fault": Call("POST", "/_fakecomfy/faults", {"kind": "oom", "node_class": "KSampler", "at_step": 2}),
    "pause": Call("POST", "/_fakecomfy/pause"),
    "queue": Call("POST", "/prompt", "@prompt.json"),
    "paused": Call("GET", "/_fakecomfy/worker?wait=5"),
    "step": Call("POST", "/_fakecomfy/step", {"unit": "node"}),
    "resume": Call("POST", "/_fakecomfy/resume"),
    "history": Call("GET", "/history/$PROMPT_ID", until="$PROMPT_ID"),
    "errors": Call("GET", "/_fakecomfy/journal/messages?type=execution_error"),
    "received": Call("GET", "/_fakecomfy/journal/requests?method=POST&path=/prompt"),
    "state": Call("GET", "/_fakecomfy/state"),
    "reset": Call("POST", "/_fakecomfy/reset"),
    "faults": Call("GET", "/_fakecomfy/faults"),
}
Runner = Callable[[Call, str], Any]


def run_session(url: str, folder: Path, send: Runner) -> dict[str, Any]:
    """Each call of the session in turn; their JSON answers by name."""
    (folder / "prompt.json").write_text(json.dumps({"prompt": txt2img(steps=4), "client_id": "my-app"}))
    answers: dict[str, Any] = {}
    prompt_id = ""
    for name, call in SESSION.items():
        deadline = time.monotonic() + 10
        while True:
            answer = send(call, prompt_id)
            if call.until is None or call.until.replace("$PROMPT_ID", prompt_id) in answer:
                break
            assert time.monotonic() < deadline, f"{call.curl()} never answered {call.until}"
            time.sleep(0.05)
        answers[name] = answer
        prompt_id = answers.get("queue", {}).get("prompt_id", "")
    return answers


def check(answers: dict[str, Any]) -> None:
    prompt_id = answers["queue"]["prompt_id"]
    assert answers["seed"] == {"ok": True}
    assert answers["fault"]["kind"] == "oom" and answers["fault"]["id"] == "fault-1"
    assert answers["paused"] == {"paused": True, "position": {"at": "prompt", "prompt_id": prompt_id}}
    assert answers["step"]["position"]["node"] == "4"  # the checkpoint loader runs first
    assert answers["history"][prompt_id]["status"]["status_str"] == "error"
    [error] = answers["errors"]["messages"]
    assert error["sid"] == "my-app" and error["data"]["exception_type"] == "torch.OutOfMemoryError"
    [received] = answers["received"]["requests"]
    assert received["body"]["client_id"] == "my-app"
    assert answers["state"]["seed"] == 42 and answers["state"]["history"] == 1
    assert answers["faults"] == {"faults": []}  # the reset cleared them


def test_the_session_with_curl(fakecomfy: FakeComfy, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (the same session runs over urllib below)")

    def send(call: Call, prompt_id: str) -> Any:
        env = {**os.environ, "COMFY": fakecomfy.url, "PROMPT_ID": prompt_id}
        done = subprocess.run(["sh", "-c", call.curl()], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=30, check=True)
        return json.loads(done.stdout)

    check(run_session(fakecomfy.url, tmp_path, send))


def test_the_session_over_urllib(fakecomfy: FakeComfy, tmp_path: Path) -> None:
    def send(call: Call, prompt_id: str) -> Any:
        body = call.body
        if isinstance(body, str):
            data: bytes | None = (tmp_path / body.removeprefix("@")).read_bytes()
        else:
            data = None if body is None else json.dumps(body).encode()
        path = call.path.replace("$PROMPT_ID", prompt_id)
        request = urllib.request.Request(fakecomfy.url + path, data, method=call.method)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    check(run_session(fakecomfy.url, tmp_path, send))


def test_the_readme_shows_each_curl_line() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [call.curl() for call in SESSION.values() if call.curl() not in readme] == []
