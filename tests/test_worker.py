"""The prompt worker: status broadcasts, history before ``executing null``, /free flags."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from fakecomfy.app import build_model
from fakecomfy.core.execution import Completion, Preview, QueueItem, Reporter
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.queue import PromptQueue, WorkerFlag
from fakecomfy.core.worker import PromptWorker
from fakecomfy.protocol import HistoryStatus
from fakecomfy.settings import Settings
from fakecomfy.testing import ServerThread

ROOT = Path(__file__).resolve().parents[1]

TIMEOUT = 10.0
EMPTY_SAVE = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "w/x"}}}


class Recorder:
    """Keeps (event, data, sid, history ids at send time); lets a test wait for an event."""

    def __init__(self, queue: PromptQueue | None = None) -> None:
        self.queue = queue
        self.events: list[tuple[str, Any, str | None, frozenset[str]]] = []
        self._cond = threading.Condition()

    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        history = frozenset(self.queue.history_snapshot()) if self.queue is not None else frozenset()
        with self._cond:
            self.events.append((event, data, sid, history))
            self._cond.notify_all()

    def send_preview(self, preview: Preview, metadata: dict[str, Any], sid: str | None) -> None:
        self.send("preview", metadata, sid)

    def supports_preview_metadata(self, sid: str | None) -> bool:
        return False

    def flush(self) -> None:
        pass

    def wait_for(self, event: str, **match: Any) -> int:
        """Index of the first ``event`` whose data has ``match``; waits up to TIMEOUT."""
        def find() -> int | None:
            for i, (ev, data, _, _) in enumerate(self.events):
                if ev == event and all(data.get(k) == v for k, v in match.items()):
                    return i
            return None

        with self._cond:
            assert self._cond.wait_for(lambda: find() is not None, TIMEOUT), f"no {event} {match}: {self.types()}"
            found = find()
            assert found is not None
            return found

    def types(self) -> list[str]:
        return [e for e, _, _, _ in self.events]


class FakeExecutor:
    """An executor whose runs can be held open; records free() calls."""

    name = "fake"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.frees: list[tuple[bool, bool]] = []
        self.freed = threading.Event()
        self.fail = False

    def execute(self, item: QueueItem, reporter: Reporter) -> Completion:
        self.started.set()
        assert self.release.wait(TIMEOUT)
        if self.fail:
            raise RuntimeError("engine bug")
        reporter.send("execution_start", {"prompt_id": item.prompt_id}, item.client_id)
        return Completion(HistoryStatus.SUCCESS, True, [["execution_start", {"prompt_id": item.prompt_id}]],
                          {"2": {"images": []}}, {})

    def free(self, unload_models: bool, free_memory: bool) -> None:
        self.frees.append((unload_models, free_memory))
        self.freed.set()


def status_sender(queue: PromptQueue, reporter: Recorder) -> None:
    """What the model wires up: every queue change is a ``status`` broadcast."""
    queue.on_change = lambda: reporter.send("status", {"status": {"exec_info": {
        "queue_remaining": queue.remaining()}}}, None)


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def setup(executor: FakeExecutor) -> Iterator[tuple[PromptQueue, Recorder, PromptWorker]]:
    queue = PromptQueue()
    recorder = Recorder(queue)
    status_sender(queue, recorder)
    worker = PromptWorker(queue, executor, recorder)
    worker.start()
    yield queue, recorder, worker
    executor.release.set()
    worker.stop()


def item(pid: str, client_id: str | None = "c1") -> QueueItem:
    extra = {"client_id": client_id} if client_id is not None else {}
    return QueueItem(0, pid, {}, extra, ["2"])


def remaining(data: Any) -> int:
    return int(data["status"]["exec_info"]["queue_remaining"])


def test_status_on_put_pickup_and_completion(setup: tuple[PromptQueue, Recorder, PromptWorker],
                                             executor: FakeExecutor) -> None:
    queue, rec, _ = setup
    executor.release.clear()
    queue.put(item("p1"))
    assert executor.started.wait(TIMEOUT)
    executor.release.set()
    end = rec.wait_for("executing", node=None)
    statuses = [remaining(d) for e, d, _, _ in rec.events[:end] if e == "status"]
    assert statuses == [1, 1, 0]  # put, pick-up (running counts), completion


def test_history_exists_before_the_final_status_and_executing_null_comes_last(
        setup: tuple[PromptQueue, Recorder, PromptWorker]) -> None:
    queue, rec, _ = setup
    queue.put(item("p1"))
    end = rec.wait_for("executing", node=None)
    assert rec.events[end][1] == {"node": None, "prompt_id": "p1"}
    assert list(rec.events[end][1]) == ["node", "prompt_id"]
    assert rec.events[end][2] == "c1"
    status_event, status_data, _, history_then = rec.events[end - 1]
    assert status_event == "status" and remaining(status_data) == 0
    assert "p1" in history_then and "p1" in rec.events[end][3]
    assert queue.get_history("p1")["p1"]["status"] == {"status_str": "success", "completed": True,
                                                       "messages": [["execution_start", {"prompt_id": "p1"}]]}


def test_no_executing_null_for_a_prompt_without_client_id(
        setup: tuple[PromptQueue, Recorder, PromptWorker]) -> None:
    queue, rec, _ = setup
    queue.put(item("anon", client_id=None))
    queue.put(item("named"))
    rec.wait_for("executing", prompt_id="named")
    assert [d["prompt_id"] for e, d, _, _ in rec.events if e == "executing"] == ["named"]


def test_free_flags_are_applied_while_idle(setup: tuple[PromptQueue, Recorder, PromptWorker],
                                           executor: FakeExecutor) -> None:
    queue, _, _ = setup
    queue.set_flag(WorkerFlag.FREE_MEMORY, True)
    assert executor.freed.wait(TIMEOUT)
    assert executor.frees == [(True, True)]  # free_memory implies unloading models


def test_unload_models_alone_keeps_the_cache(setup: tuple[PromptQueue, Recorder, PromptWorker],
                                             executor: FakeExecutor) -> None:
    queue, _, _ = setup
    queue.set_flag(WorkerFlag.UNLOAD_MODELS, True)
    assert executor.freed.wait(TIMEOUT)
    assert executor.frees == [(True, False)]


def test_flags_set_while_running_wait_for_the_prompt_to_end(
        setup: tuple[PromptQueue, Recorder, PromptWorker], executor: FakeExecutor) -> None:
    queue, _rec, _ = setup
    executor.release.clear()
    queue.put(item("p1"))
    assert executor.started.wait(TIMEOUT)
    queue.set_flag(WorkerFlag.FREE_MEMORY, True)
    assert not executor.freed.wait(0.2)  # held while the prompt runs
    executor.release.set()
    assert executor.freed.wait(TIMEOUT)
    assert "p1" in queue.history_snapshot()


def test_an_executor_crash_still_completes_the_prompt(setup: tuple[PromptQueue, Recorder, PromptWorker],
                                                      executor: FakeExecutor) -> None:
    queue, rec, _ = setup
    executor.fail = True
    queue.put(item("p1"))
    rec.wait_for("executing", node=None, prompt_id="p1")
    entry = queue.get_history("p1")["p1"]
    assert entry["status"] == {"status_str": "error", "completed": False, "messages": []}
    executor.fail = False
    queue.put(item("p2"))
    rec.wait_for("executing", node=None, prompt_id="p2")  # the worker lives on


def test_prompts_run_one_at_a_time_in_priority_order(setup: tuple[PromptQueue, Recorder, PromptWorker],
                                                      executor: FakeExecutor) -> None:
    queue, rec, _ = setup
    executor.release.clear()
    queue.put(item("first"))
    assert executor.started.wait(TIMEOUT)
    queue.put(QueueItem(5, "late", {}, {"client_id": "c1"}, ["2"]))
    queue.put(QueueItem(-5, "front", {}, {"client_id": "c1"}, ["2"]))
    executor.release.set()
    rec.wait_for("executing", node=None, prompt_id="late")
    done = [d["prompt_id"] for e, d, _, _ in rec.events if e == "executing"]
    assert done == ["first", "front", "late"]


# ---- the model's real wiring ------------------------------------------------------------------
@pytest.fixture
def model(base_dir: Path) -> Iterator[ComfyModel]:
    settings = Settings(base_directory=base_dir, log_requests=False)
    m = build_model(settings, FolderPaths.from_settings(settings, base_dir))
    yield m
    m.stop()


def test_model_worker_runs_a_real_prompt_and_applies_free(model: ComfyModel) -> None:
    rec = Recorder(model.queue)
    model.start(rec)
    model.queue.put(QueueItem(0, "p1", EMPTY_SAVE, {"client_id": "c1"}, ["2"]))
    end = rec.wait_for("executing", node=None, prompt_id="p1")
    assert rec.types()[end - 2:end + 1] == ["execution_success", "status", "executing"]
    model.queue.set_flag(WorkerFlag.FREE_MEMORY, True)
    # the worker applies the flag asynchronously; once it has, the same graph is computed again
    deadline = time.monotonic() + TIMEOUT
    while model.executor.cache.entries:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "free_memory was never applied"
        time.sleep(0.01)
    model.queue.put(QueueItem(1, "p2", EMPTY_SAVE, {"client_id": "c1"}, ["2"]))
    rec.wait_for("executing", node=None, prompt_id="p2")
    cached = [d for e, d, _, _ in rec.events if e == "execution_cached" and d["prompt_id"] == "p2"]
    assert cached[0]["nodes"] == []


def heavy_txt2img(client_id: str) -> dict[str, Any]:
    """The SD1.5 txt2img fixture at 1024 px, batch 8: seconds of picture work for the fake."""
    workflow = json.loads((ROOT / "fixtures" / "workflows" / "sd15_txt2img_api.json").read_text(encoding="utf-8"))
    workflow["5"]["inputs"].update(width=1024, height=1024, batch_size=8)
    workflow["3"]["inputs"]["seed"] = time.time_ns()
    return {"prompt": workflow, "client_id": client_id}


def test_server_keeps_answering_while_a_heavy_prompt_runs(make_server: Callable[..., ServerThread]) -> None:
    """Prompts run on the worker thread: GET /queue is answered within 50 ms while the prompt
    works, however long it takes (run on the event loop, it waited for the whole prompt), and
    the sampler's progress reaches the client while it samples (82-85 % of its run here)."""
    srv = make_server()
    ws = websocket.create_connection(srv.url.replace("http", "ws") + "/ws?clientId=heavy", timeout=60)
    session = requests.Session()
    try:
        ws.recv()  # greeting
        prompt_id = session.post(srv.url + "/prompt", json=heavy_txt2img("heavy"), timeout=60).json()["prompt_id"]
        done = threading.Event()
        arrivals: list[tuple[float, str, Any]] = []  # (when, type, node) of each text message

        def wait_for_end() -> None:
            while True:
                message = ws.recv()
                if not isinstance(message, str):
                    continue
                parsed = json.loads(message)
                arrivals.append((time.perf_counter(), parsed["type"], parsed["data"].get("node")))
                if parsed == {"type": "executing", "data": {"node": None, "prompt_id": prompt_id}}:
                    done.set()
                    return

        reader = threading.Thread(target=wait_for_end, daemon=True)
        reader.start()
        latencies = []
        while not done.is_set():
            started = time.perf_counter()
            queue = session.get(srv.url + "/queue", timeout=60).json()
            elapsed = time.perf_counter() - started
            if queue["queue_running"]:
                latencies.append(elapsed)
            time.sleep(0.005)
        reader.join(timeout=60)
    finally:
        ws.close()
        session.close()
    assert len(latencies) >= 5, f"the prompt was seen running only {len(latencies)} times"
    assert max(latencies) < 0.05, f"GET /queue took up to {max(latencies) * 1000:.0f} ms while the prompt ran"
    # each event leaves when it happens: the sampler's progress arrives spread over its run
    # (from its `executing` to the next node's), not in one burst at the end
    sampler = next(i for i, (_, kind, node) in enumerate(arrivals) if kind == "executing" and node == "3")
    after = next(i for i in range(sampler + 1, len(arrivals)) if arrivals[i][1] == "executing")
    progress = [when for when, kind, _ in arrivals[sampler:after] if kind == "progress"]
    assert len(progress) == 20
    spread = (progress[-1] - progress[0]) / (arrivals[after][0] - arrivals[sampler][0])
    assert spread > 0.3, f"20 progress messages arrived within {spread:.0%} of the sampler's run"
