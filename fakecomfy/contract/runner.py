"""``fakecomfy contract URL``: check any ComfyUI-compatible server against ``openapi/``.

Plain HTTP and WebSocket clients (httpx, websocket-client); nothing here needs Starlette. What it
does to the target:

* every read-only operation of the spec, under both servers (``/`` and ``/api``), with valid
  parameters, its answer checked with :func:`fakecomfy.contract.spec.check_response`;
* writes only on what the run itself creates: one uploaded image and mask with a unique
  ``fakecomfy-contract-<token>`` name in ``input/``, userdata files under a unique
  ``fakecomfy-contract-<token>/`` directory (deleted again; ComfyUI's API cannot remove the then
  empty directory), one model-free prompt (EmptyImage 64x64 -> PreviewImage, nothing lands in
  ``output/``) whose history entry is deleted afterwards, and a queue delete of an unknown id;
* only with ``destructive=True``: settings written back with their own values, a user created,
  ``POST /queue {"clear": true}``, ``POST /history {"clear": true}``, ``/interrupt`` and ``/free``;
* the WebSocket: greeting, feature_flags answer, the event order of the prompt, no binary frames;
* optionally (``max_examples > 0``) schemathesis-generated requests for the read-only operations.
"""
from __future__ import annotations

import importlib.util
import json
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from fakecomfy.contract import spec
from fakecomfy.contract.report import Check, Outcome, Report, judged

PREFIX = "fakecomfy-contract-"
# Operations that only run with --destructive (they change state the run did not create).
DESTRUCTIVE_ONLY = {"updateSettings", "setSetting", "createUser", "interrupt", "freeMemory"}


def tiny_png(width: int = 8, height: int = 8, rgba: tuple[int, int, int, int] = (200, 40, 40, 255)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgba) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def model_free_prompt(token: str) -> dict[str, Any]:
    """EmptyImage 64x64 -> PreviewImage; the colour comes from the run's token, so no earlier run's
    cached outputs are reused and both nodes execute."""
    color = int(token[:6], 16) if len(token) >= 6 else 0
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": color}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }


class ContractRunner:
    def __init__(self, url: str, *, destructive: bool = False, max_examples: int = 0,
                 timeout: float = 60.0, user: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.base = url.rstrip("/")
        self.destructive = destructive
        self.max_examples = max_examples
        self.timeout = timeout
        self.token = uuid.uuid4().hex[:12]
        self.headers = {"comfy-user": user} if user else {}
        self.log = log or (lambda line: None)
        self.report = Report(self.base, self.token, destructive)
        self.client = httpx.Client(base_url=self.base, timeout=timeout, headers=self.headers)
        self.exercised: set[str] = set()
        self.prompt_id: str | None = None

    # ---- bookkeeping --------------------------------------------------------------------------
    def add(self, check: Check) -> Check:
        self.report.checks.append(check)
        if check.operation:
            self.exercised.add(check.operation)
        self.log(check.headline)
        return check

    def skip(self, operation: str, name: str, why: str) -> None:
        self.add(Check(name=name, outcome=Outcome.SKIP, operation=operation, note=why))

    def call(self, operation: str, method: str, path: str, *, expect: Iterable[int] = (200,),
             check_body: Callable[[httpx.Response], list[str]] | None = None,
             label: str | None = None, **kwargs: Any) -> httpx.Response | None:
        """One request, its answer checked against the spec (and ``expect``, and ``check_body``)."""
        req = httpx.Request(method, self.base + path, params=kwargs.get("params"))
        shown = f"{method} {req.url.raw_path.decode()}"
        if "json" in kwargs:
            shown += " " + json.dumps(kwargs["json"])[:200]
        elif "content" in kwargs:
            shown += f" <{len(kwargs['content'])} bytes>"
        elif "files" in kwargs:
            shown += " <multipart " + ", ".join(sorted(kwargs["files"])) + ">"
        name = label or f"{method} {path}"
        try:
            response = self.client.request(method, path, **kwargs)
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

    # ---- the run --------------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        try:
            steps = (self.read_only, self.files, self.userdata, self.settings_and_users,
                     self.websocket_and_prompt, self.queue_and_history, self.generated)
            for step in steps:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - report, go on with the next group
                    self.add(Check(f"{step.__name__} (internal)", Outcome.FAIL, "", "",
                                   None, [f"the check itself failed: {exc!r}"]))
            for _method, _url, _path, op in spec.operations():
                if op["operationId"] not in self.exercised:
                    self.skip(op["operationId"], f"{_method} {_url}", "not exercised by this run")
                    self.exercised.add(op["operationId"])
        finally:
            self.client.close()
            self.report.duration_s = time.monotonic() - started
        return self.report

    def read_only(self) -> None:
        self.call("getIndex", "GET", "/", label="GET /")
        for op, path in (("getSystemStats", "/system_stats"), ("getFeatures", "/features"),
                         ("listExtensions", "/extensions"), ("getWorkflowTemplates", "/workflow_templates"),
                         ("getTranslations", "/i18n"), ("getGlobalSubgraphs", "/global_subgraphs"),
                         ("listEmbeddings", "/embeddings"), ("getObjectInfo", "/object_info"),
                         ("getUsers", "/users"), ("getQueueStatus", "/prompt"), ("getQueue", "/queue")):
            self.both(op, "GET", path)
        self.both("getHistory", "GET", "/history", params={"max_items": 5})
        self.both("getNodeInfo", "GET", "/object_info/EmptyImage",
                  check_body=lambda r: [] if "EmptyImage" in r.json() else ["EmptyImage is not in the answer"])
        self.call("listJobs", "GET", "/api/jobs", params={"limit": 5})
        self.call("listJobs", "GET", "/api/api/jobs", params={"limit": 5, "status": "completed,failed"})
        folders = self.both("listModelFolders", "GET", "/models")
        names = folders[0].json() if folders[0] is not None and folders[0].status_code == 200 else []
        folder = "checkpoints" if "checkpoints" in names else (names[0] if names else "checkpoints")
        self.both("listExperimentModelFolders", "GET", "/experiment/models")
        models = self.both("listModels", "GET", f"/models/{quote(folder, safe='')}", expect=(200, 404))
        self.both("listExperimentModels", "GET", f"/experiment/models/{quote(folder, safe='')}", expect=(200, 404))
        files = models[0].json() if models[0] is not None and models[0].status_code == 200 else []
        safetensors = next((f for f in files if isinstance(f, str) and f.endswith(".safetensors")),
                           f"{PREFIX}{self.token}-missing.safetensors")
        self.both("getModelMetadata", "GET", f"/view_metadata/{quote(folder, safe='')}",
                  params={"filename": safetensors}, expect=(200, 404))

    def files(self) -> None:
        name = f"{PREFIX}{self.token}.png"
        up = self.call("uploadImage", "POST", "/upload/image", label="POST /upload/image",
                       files={"image": (name, tiny_png(), "image/png")}, data={"type": "input"},
                       check_body=lambda r: [] if r.json().get("name") == name else
                       [f"stored as {r.json().get('name')!r}, not {name!r}"])
        if up is None or up.status_code != 200:
            self.skip("viewFile", "GET /view", "the upload failed")
            return
        self.both("viewFile", "GET", "/view", params={"filename": name, "type": "input"},
                  check_body=lambda r: [] if r.content.startswith(b"\x89PNG") else ["not the uploaded PNG"])
        self.call("viewFile", "GET", "/view", params={"filename": name, "type": "input", "preview": "webp;50"},
                  label="GET /view (preview=webp;50)")
        mask = f"{PREFIX}{self.token}-mask.png"
        ref = json.dumps({"filename": name, "type": "input", "subfolder": ""})
        self.call("uploadMask", "POST", "/upload/mask", label="POST /upload/mask",
                  files={"image": (mask, tiny_png(rgba=(0, 0, 0, 128)), "image/png")},
                  data={"type": "input", "original_ref": ref})

    def userdata(self) -> None:
        folder = f"{PREFIX}{self.token}"
        first, second = f"{folder}/a.json", f"{folder}/b.json"
        enc = lambda p: quote(p, safe="")  # noqa: E731
        w = self.call("writeUserdataFile", "POST", f"/userdata/{enc(first)}", label="POST /userdata/{file}",
                      content=b'{"fakecomfy": "contract"}')
        if w is None or w.status_code != 200:
            for op in ("listUserdata", "getUserdataFile", "moveUserdataFile", "deleteUserdataFile", "listUserdataV2"):
                self.skip(op, op, "writing the userdata file failed")
            return
        try:
            self.call("writeUserdataFile", "POST", f"/api/userdata/{enc(first)}",
                      label="POST /api/userdata/{file}?overwrite=false (exists: 409)",
                      params={"overwrite": "false"}, content=b"{}", expect=(409,))
            self.both("listUserdata", "GET", "/userdata", params={"dir": folder, "full_info": "true"})
            self.call("listUserdataV2", "GET", "/v2/userdata", params={"path": folder})
            self.call("getUserdataFile", "GET", f"/userdata/{enc(first)}", label="GET /userdata/{file}",
                      check_body=lambda r: [] if r.content == b'{"fakecomfy": "contract"}' else ["not the bytes written"])
            self.call("moveUserdataFile", "POST", f"/userdata/{enc(first)}/move/{enc(second)}",
                      label="POST /userdata/{file}/move/{dest}")
        finally:
            for path in (first, second):
                self.call("deleteUserdataFile", "DELETE", f"/userdata/{enc(path)}", label=f"DELETE /userdata/{{file}} ({path.rsplit('/', 1)[1]})",
                          expect=(204, 404))
        self.call("getUserdataFile", "GET", f"/api/userdata/{enc(second)}", label="GET /api/userdata/{file} (deleted: 404)",
                  expect=(404,))

    def settings_and_users(self) -> None:
        settings = self.both("getSettings", "GET", "/settings")
        self.both("getSetting", "GET", "/settings/Comfy.Locale")
        if not self.destructive:
            for op in ("updateSettings", "setSetting", "createUser"):
                self.skip(op, op, "writes server state: only with --destructive")
            return
        current = settings[0].json() if settings[0] is not None and settings[0].status_code == 200 else None
        if isinstance(current, dict):
            self.call("updateSettings", "POST", "/settings", label="POST /settings (its own values)", json=current)
            if current:
                key = sorted(current)[0]
                self.call("setSetting", "POST", f"/settings/{quote(key, safe='')}", label="POST /settings/{id} (its own value)",
                          json=current[key])
            else:
                self.skip("setSetting", "POST /settings/{id}", "the user has no setting to write back unchanged")
        self.call("createUser", "POST", "/users", label="POST /users", json={"username": f"{PREFIX}{self.token}"},
                  expect=(200, 400))

    # ---- WebSocket and one prompt ---------------------------------------------------------------
    def _ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={client_id}", ""))

    def websocket_and_prompt(self) -> None:
        import websocket  # websocket-client

        client_id = f"{PREFIX}{self.token}"
        url = self._ws_url(client_id)
        name = f"WS {urlsplit(url).path}?clientId=<fresh>"
        try:
            ws = websocket.create_connection(url, timeout=self.timeout, header=[f"{k}: {v}" for k, v in self.headers.items()])
        except Exception as exc:  # noqa: BLE001
            self.add(Check(name + " connect", Outcome.FAIL, "connectWebSocket", f"GET {url} (upgrade)", None, [f"could not connect: {exc!r}"]))
            self.skip("queuePrompt", "POST /prompt", "no WebSocket")
            return
        try:
            self._ws_session(ws, client_id, url)
        finally:
            ws.close()

    def _recv(self, ws: Any, deadline: float) -> tuple[str, Any]:
        import websocket

        ws.settimeout(max(0.1, deadline - time.monotonic()))
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return "binary", data
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionError("the server closed the socket")
        return "text", data.decode("utf-8")

    def _ws_session(self, ws: Any, client_id: str, url: str) -> None:
        shown = f"GET {urlsplit(url).path}?clientId={client_id} (upgrade)"
        deadline = time.monotonic() + self.timeout
        # greeting
        kind, text = self._recv(ws, deadline)
        problems = ["first frame is binary"] if kind == "binary" else spec.check_ws_message(text)
        if not problems:
            msg = json.loads(text)
            if msg.get("type") != "status":
                problems.append(f"first message is {msg.get('type')!r}, not status")
            elif msg["data"].get("sid") != client_id:
                problems.append(f"greeting sid is {msg['data'].get('sid')!r}, not the clientId {client_id!r}")
        self.add(Check("WS greeting (status with sid)", judged(problems), "connectWebSocket", shown, None, problems))
        # feature flags
        flags = {"type": "feature_flags", "data": {"supports_preview_metadata": False}}
        ws.send(json.dumps(flags))
        problems = []
        while True:
            kind, text = self._recv(ws, deadline)
            if kind == "binary":
                problems.append("binary frame before the feature_flags answer")
                continue
            problems += spec.check_ws_message(text)
            if json.loads(text).get("type") == "feature_flags":
                break
        self.add(Check("WS feature_flags answer", judged(problems), "connectWebSocket",
                       f"send {json.dumps(flags)}", None, problems))
        # one model-free prompt
        body = {"prompt": model_free_prompt(self.token), "client_id": client_id}
        posted = self.call("queuePrompt", "POST", "/prompt", label="POST /prompt (EmptyImage -> PreviewImage)", json=body,
                           check_body=lambda r: [] if isinstance(r.json().get("prompt_id"), str) else ["no prompt_id"])
        if posted is None or posted.status_code != 200:
            self.skip("connectWebSocket", "WS prompt events", "the prompt was not accepted")
            return
        prompt_id = posted.json()["prompt_id"]
        self.prompt_id = prompt_id
        events: list[tuple[str, Any]] = []
        problems, binary = [], 0
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                kind, data = self._recv(ws, deadline)
                if kind == "binary":
                    binary += 1
                    continue
                problems += spec.check_ws_message(data)
                msg = json.loads(data)
                events.append((msg.get("type"), msg.get("data")))
                d = msg.get("data") or {}
                if msg.get("type") == "executing" and d.get("node") is None and d.get("prompt_id") == prompt_id:
                    break
        except Exception as exc:  # noqa: BLE001 - a timeout or a closed socket
            problems.append(f"no executing with node null for the prompt: {exc!r}")
        self.add(Check("WS messages of the prompt (schemas)", judged(problems), "connectWebSocket",
                       f"POST /prompt {json.dumps(body)[:120]}...", None, problems))
        order = event_order_problems(events, prompt_id)
        self.add(Check("WS event order", judged(order), "connectWebSocket",
                       f"POST /prompt (prompt_id {prompt_id})", None, order,
                       note=" ".join(t for t, _ in events)))
        self.add(Check("WS no binary frames without preview_method", Outcome.FAIL if binary else Outcome.PASS, "connectWebSocket",
                       f"POST /prompt (prompt_id {prompt_id})", None,
                       [f"{binary} binary frames arrived"] if binary else []))
        self.both("getHistoryEntry", "GET", f"/history/{prompt_id}",
                  check_body=lambda r: [] if prompt_id in r.json() else [f"{prompt_id} is not in the answer"])
        self.call("getJob", "GET", f"/api/jobs/{prompt_id}", label="GET /api/jobs/{job_id}")
        self.call("getJob", "GET", f"/api/jobs/{PREFIX}{self.token}-unknown", label="GET /api/jobs/{job_id} (unknown: 404)",
                  expect=(404,))

    def queue_and_history(self) -> None:
        self.call("manageQueue", "POST", "/queue", label="POST /queue (delete an unknown id)",
                  json={"delete": [f"{PREFIX}{self.token}-unknown"]})
        if self.prompt_id:
            self.call("manageHistory", "POST", "/history", label="POST /history (delete this run's prompt)",
                      json={"delete": [self.prompt_id]})
            self.call("getHistoryEntry", "GET", f"/api/history/{self.prompt_id}", label="GET /api/history/{prompt_id} (deleted: {})",
                      check_body=lambda r: [] if r.json() == {} else ["the deleted entry is still there"])
        if not self.destructive:
            for op in ("interrupt", "freeMemory"):
                self.skip(op, op, "affects other users' work: only with --destructive")
            self.skip("manageQueue", "POST /queue {clear}", "only with --destructive")
            self.skip("manageHistory", "POST /history {clear}", "only with --destructive")
            return
        self.call("interrupt", "POST", "/interrupt", json={})
        self.call("freeMemory", "POST", "/free", json={"unload_models": False, "free_memory": False})
        self.call("manageQueue", "POST", "/queue", label="POST /queue {clear}", json={"clear": True})
        self.call("manageHistory", "POST", "/history", label="POST /history {clear}", json={"clear": True})

    # ---- generated cases ------------------------------------------------------------------------
    def generated(self) -> None:
        if self.max_examples <= 0:
            return
        from fakecomfy.contract import generated

        for check in generated.run(self.base, self.max_examples, self.headers, self.timeout):
            self.add(check)


def event_order_problems(events: list[tuple[str, Any]], prompt_id: str) -> list[str]:
    """The order status, execution_start, execution_cached, executing..., execution_success,
    status, executing null, for this prompt (other prompts' events ignored)."""
    mine: list[str] = []
    for kind, data in events:
        data = data if isinstance(data, dict) else {}
        if kind == "status":
            mine.append("status")
        elif data.get("prompt_id") == prompt_id and kind in ("execution_start", "execution_cached",
                                                            "execution_success", "execution_error",
                                                            "execution_interrupted"):
            mine.append(kind)
        elif kind == "executing" and data.get("prompt_id") == prompt_id:
            mine.append("executing null" if data.get("node") is None else "executing")
    problems = []

    def index(kind: str, start: int = 0) -> int:
        try:
            return mine.index(kind, start)
        except ValueError:
            return -1

    start, cached, success = index("execution_start"), index("execution_cached"), index("execution_success")
    for kind in ("execution_error", "execution_interrupted"):
        if kind in mine:
            problems.append(f"the prompt ended with {kind}")
    if start < 0:
        problems.append("no execution_start")
    elif "status" not in mine[:start]:
        problems.append("no status before execution_start")
    if cached < 0 or (start >= 0 and cached < start):
        problems.append("no execution_cached after execution_start")
    running = [i for i, k in enumerate(mine) if k == "executing"]
    if not running:
        problems.append("no executing with a node")
    elif cached >= 0 and running[0] < cached:
        problems.append("executing before execution_cached")
    if success < 0:
        problems.append("no execution_success")
    elif running and running[-1] > success:
        problems.append("executing after execution_success")
    if not mine or mine[-1] != "executing null":
        problems.append("the stream does not end with executing node null")
    elif success >= 0 and "status" not in mine[success:-1]:
        problems.append("no status between execution_success and executing null")
    if problems:
        problems.append("seen: " + ", ".join(mine))
    return problems


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


__all__ = ["Check", "ContractRunner", "Report", "event_order_problems", "run_contract", "tiny_png"]
