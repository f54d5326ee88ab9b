"""Running a fakecomfy server inside a test process: :class:`ServerThread` (uvicorn in a thread)
and :class:`FakeComfy`, the handle a test holds (the ``fakecomfy`` fixture of
``fakecomfy.pytest_plugin`` gives one): submit a workflow, wait for it, read its images, inject
faults, step the worker, read the journal."""
from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette

from fakecomfy import protocol
from fakecomfy.app import create_app
from fakecomfy.control import ControlPlane
from fakecomfy.core.faults import Fault
from fakecomfy.core.gate import Unit
from fakecomfy.settings import Settings
from fakecomfy.web.protocols import server_config

if TYPE_CHECKING:
    from PIL import Image

# The loggers that report an exception inside the server: the router's and the worker's
# ("fakecomfy"), uvicorn's own ("uvicorn.error": an ASGI error, a protocol failure).
SERVER_LOGGERS = ("fakecomfy", "uvicorn.error")
Workflow = Mapping[str, Any] | str | os.PathLike[str]


class ServerThread:
    """A real uvicorn server on a free loopback port, in a daemon thread."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        config = server_config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fakecomfy-server", daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fakecomfy server did not start")
            time.sleep(0.002)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, wait: bool = True) -> None:
        """Ask the server to exit and (``wait``) join its thread: uvicorn takes about 200 ms
        (its main loop's 100 ms tick, then a 100 ms grace for connections)."""
        self.server.should_exit = True
        if wait:
            self.thread.join(timeout=10)


def stop_servers(servers: list[ServerThread]) -> None:
    """Stop several servers at once: their 200 ms shutdowns overlap."""
    for server in servers:
        server.stop(wait=False)
    for server in servers:
        server.stop()


@contextmanager
def running_server(settings: Settings | None = None) -> Iterator[ServerThread]:
    """``with running_server(Settings(...)) as srv: requests.get(srv.url + "/prompt")``."""
    srv = ServerThread(create_app(settings or Settings())).start()
    try:
        yield srv
    finally:
        srv.stop()


class PromptRejected(Exception):
    """POST /prompt did not queue the workflow: ``status`` and ``body`` are the server's answer
    (for a 400, ComfyUI's ``error`` and ``node_errors``)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"POST /prompt answered {status}: {describe_rejection(body)}")


class PromptTimeout(TimeoutError):
    """A prompt did not finish in time; the message says where it was and what it last sent."""


def describe_rejection(body: Any) -> str:
    """One line per error of a /prompt refusal: the error, then each node's errors."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return json.dumps(body) if not isinstance(body, str) else body
    err = body["error"]
    lines = [f"{err.get('type')}: {err.get('message')}" + (f" ({err['details']})" if err.get("details") else "")]
    for node_id, node in (body.get("node_errors") or {}).items():
        for item in node.get("errors", []):
            lines.append(f"  node {node_id} ({node.get('class_type')}): {item.get('type')}: {item.get('message')}"
                         + (f" ({item['details']})" if item.get("details") else ""))
    return "\n".join(lines)


def load_workflow(workflow: Workflow) -> dict[str, Any]:
    """An API-format workflow: the mapping itself, or the JSON file a path names."""
    if isinstance(workflow, Mapping):
        return dict(workflow)
    with open(workflow, encoding="utf-8") as f:
        loaded = json.load(f)
    if not isinstance(loaded, dict):
        raise ValueError(f"{os.fspath(workflow)} holds {type(loaded).__name__}, not an API-format workflow object")
    return loaded


class FakeComfy:
    """A running fakecomfy server and what a test does with it.

    ``FakeComfy.start(Settings(...))`` (or ``with FakeComfy.start() as comfy:``) starts one; the
    pytest plugin's fixtures give one already started. The control operations are those of
    :class:`fakecomfy.control.ControlPlane` (``control``), here for short.
    """

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.control: ControlPlane = server.app.state.control
        # set by the pytest plugin: where the server's logged errors are collected
        self.error_log: ServerErrorLog | None = None

    @classmethod
    def start(cls, settings: Settings | None = None) -> FakeComfy:
        """A new server on a free loopback port (``settings.listen``/``port`` are not used)."""
        return cls(ServerThread(create_app(settings or Settings(log_requests=False))).start())

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeComfy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- where it is -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return self.server.url

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws``; add ``?clientId=...``."""
        return f"ws://{self.server.host}:{self.server.port}/ws"

    @property
    def settings(self) -> Settings:
        settings: Settings = self.server.app.state.settings
        return settings

    @property
    def base_dir(self) -> Path:
        """The base directory: ``input/``, ``output/``, ``temp/``, ``user/``, ``models/``."""
        return self.control.model.paths.base

    @property
    def input_dir(self) -> Path:
        return self.control.model.paths.input

    @property
    def output_dir(self) -> Path:
        return self.control.model.paths.output

    # ---- prompts -----------------------------------------------------------------------------
    def submit(self, workflow: Workflow, client_id: str | None = None, **extra: Any) -> str:
        """POST /prompt (``extra``: further body fields, ``extra_data``, ``front``, ...); the
        prompt id, or :class:`PromptRejected` with the server's answer."""
        body: dict[str, Any] = {"prompt": load_workflow(workflow), **extra}
        if client_id is not None:
            body["client_id"] = client_id
        request = urllib.request.Request(self.url + "/prompt", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                prompt_id: str = json.load(answer)["prompt_id"]
                return prompt_id
        except urllib.error.HTTPError as refused:
            text = refused.read().decode("utf-8", "replace")
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            raise PromptRejected(refused.code, parsed) from None

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The prompt's entry of ``GET /history/{prompt_id}``, None while it has none."""
        entry: dict[str, Any] | None = self.control.model.queue.get_history(prompt_id=prompt_id).get(prompt_id)
        return entry

    def wait(self, prompt_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The prompt's history entry once it has finished (success, error or interrupt);
        :class:`PromptTimeout` naming where it is and the last event it sent after ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                return entry
            if self._place(prompt_id) is None and self.history(prompt_id) is None:
                raise LookupError(f"prompt {prompt_id} is neither queued, running nor in the history")
            if time.monotonic() >= deadline:
                raise PromptTimeout(self._describe_unfinished(prompt_id, timeout))
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def _place(self, prompt_id: str) -> str | None:
        running, pending = self.control.model.queue.current()
        if any(item.prompt_id == prompt_id for item in running):
            return "running"
        return "pending" if any(item.prompt_id == prompt_id for item in pending) else None

    def _describe_unfinished(self, prompt_id: str, timeout: float) -> str:
        place = self._place(prompt_id) or "gone"
        sent = self.messages(prompt_id=prompt_id)
        text = f"prompt {prompt_id} did not finish within {timeout:g} s: it is {place}; "
        text += f"the last event sent for it: {_summary(sent[-1])}" if sent else "no event sent for it yet"
        started = [m for m in sent if m["type"] == protocol.EV_EXECUTING]
        if started and started[-1] is not sent[-1]:
            text += f" (after {_summary(started[-1])})"
        worker = self.control.state()["worker"]
        if worker["paused"]:
            text += f"; the worker is paused at {json.dumps(worker['position'])}"
        return text

    def outputs(self, prompt_id: str) -> dict[str, Any]:
        """The history entry's ``outputs``: node id → ``{"images": [...], ...}``."""
        entry = self.history(prompt_id)
        if entry is None:
            raise LookupError(f"prompt {prompt_id} has no history entry (not finished? call wait() first)")
        outputs: dict[str, Any] = entry["outputs"]
        return outputs

    def image_files(self, prompt_id: str) -> list[Path]:
        """The files of the images the prompt's outputs list, in their order."""
        paths = self.control.model.paths
        found = []
        for output in self.outputs(prompt_id).values():
            for image in output.get("images", []):
                folder = paths.type_dir(image.get("type", "output"))
                if folder is None:
                    raise ValueError(f"unknown image type {image.get('type')!r}")
                found.append(folder / image.get("subfolder", "") / image["filename"])
        return found

    def image_bytes(self, prompt_id: str) -> list[bytes]:
        """The bytes of the prompt's images, as ``GET /view`` sends them."""
        return [path.read_bytes() for path in self.image_files(prompt_id)]

    def images(self, prompt_id: str) -> list[Image.Image]:
        """The prompt's images as loaded PIL images."""
        from PIL import Image

        loaded: list[Image.Image] = []
        for data in self.image_bytes(prompt_id):
            image = Image.open(io.BytesIO(data))
            image.load()
            loaded.append(image)
        return loaded

    # ---- the journal -------------------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None, body: Mapping[str, Any] | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        """Requests received, oldest first (``path`` a glob, ``body`` dotted field → value)."""
        return self.control.requests(method, path, body, status)

    def messages(self, event: str | None = None, sid: str | None = None,
                 prompt_id: str | None = None) -> list[dict[str, Any]]:
        """WebSocket messages sent, oldest first (``event`` a type, ``binary`` for previews)."""
        return self.control.messages(event, sid, prompt_id)

    # ---- control -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the state the server started in (the fixture does this after each test)."""
        self.control.reset()

    def seed(self, seed: int | None) -> None:
        """Prompt ids, sids, temp names and fault draws follow ``seed`` from now on."""
        self.control.seed(seed)

    def add_fault(self, fault: Fault | Mapping[str, Any] | None = None, **spec: Any) -> Fault:
        """Inject a fault: ``add_fault(kind="oom", node_class="KSampler", at_step=3)``."""
        return self.control.add_fault(fault, **spec)

    def remove_fault(self, fault_id: str) -> bool:
        return self.control.remove_fault(fault_id)

    def clear_faults(self) -> None:
        self.control.clear_faults()

    @property
    def faults(self) -> list[Fault]:
        return self.control.faults

    def pause(self) -> None:
        """The worker stops at its next checkpoint (next prompt, node or sampler step)."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def step(self, unit: str | Unit = Unit.NODE, timeout: float = 10.0) -> dict[str, Any] | None:
        """Run the paused worker on to its next ``prompt``, ``node`` or ``step``; where it waits."""
        return self.control.step(unit, timeout)

    def wait_paused(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """Where the paused worker waits, once it does (None: not within ``timeout``)."""
        return self.control.wait_paused(timeout)

    def set_node_times(self, times: Mapping[str, float] | None = None, **seconds: float) -> None:
        """Seconds per node class (per step for samplers): ``set_node_times(KSampler=0.1)``."""
        self.control.set_node_times({**(times or {}), **seconds})

    def set_device_profile(self, profile: str | None) -> dict[str, Any]:
        """Simulate this GPU from now on (``"rtx4090"``, a profile file, None for none); a reset
        puts back the server's own. Returns :meth:`device`."""
        return self.control.set_device_profile(profile)

    def device(self) -> dict[str, Any]:
        """The simulated device: profile, VRAM state, free bytes, the models on the card."""
        return self.control.device()

    def state(self) -> dict[str, Any]:
        """Queue, history size, worker, faults, seed, node times, clients, journal sizes."""
        return self.control.state()

    def take_server_errors(self) -> list[str]:
        """The errors the server logged since the test began, each with its traceback, and
        forget them: a test that provokes one on purpose asserts on them and still passes."""
        return self.error_log.take() if self.error_log is not None else []


def _summary(message: Mapping[str, Any]) -> str:
    """A journal message in a line: its type and its data without the prompt id (progress_state:
    the nodes still running)."""
    data = message.get("data")
    if not isinstance(data, dict):
        return str(message["type"])
    if message["type"] == protocol.EV_PROGRESS_STATE:
        nodes = data.get("nodes", {})
        running = [node for node, state in nodes.items() if state.get("state") == "running"]
        return f"{message['type']} (running: {', '.join(running) or 'none'})"
    shown = {k: v for k, v in data.items() if k != "prompt_id"}
    text = json.dumps(shown)
    return f"{message['type']} {text if len(text) <= 200 else text[:200] + '...'}"


class ServerErrorLog(logging.Handler):
    """Collects the errors the server logs (on :data:`SERVER_LOGGERS`) while ``active``."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.active = False
        self._records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s (thread %(threadName)s): %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.active and (record.name.startswith("fakecomfy") or record.exc_info):
            self._records.append(record)

    def attach(self) -> None:
        """Listen on the server loggers (again: a uvicorn Config's logging setup removes the
        handlers of uvicorn's loggers)."""
        for name in SERVER_LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)

    def detach(self) -> None:
        for name in SERVER_LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def take(self) -> list[str]:
        records, self._records = self._records, []
        return [self.format(record) for record in records]


__all__ = ["SERVER_LOGGERS", "FakeComfy", "PromptRejected", "PromptTimeout", "ServerErrorLog", "ServerThread",
           "Workflow", "describe_rejection", "load_workflow", "running_server", "stop_servers"]
