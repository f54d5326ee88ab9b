"""HTTP behaviour of /queue, /history, /interrupt, /free and /api/jobs.

Queue and history state is arranged through the model (``model.queue``), not the executor; the
TestClient does not run the lifespan, so no worker takes the items away.
"""
from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fakecomfy.core.execution import Completion, QueueItem
from fakecomfy.core.model import ComfyModel
from fakecomfy.core.queue import PromptQueue
from fakecomfy.protocol import HistoryStatus

TEXT_500 = "500 Internal Server Error\n\nServer got itself in trouble"
PROMPT = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64}}}


@pytest.fixture
def model(client: TestClient) -> ComfyModel:
    m: ComfyModel = client.app.state.model  # type: ignore[attr-defined]
    return m


@pytest.fixture
def queue(model: ComfyModel) -> PromptQueue:
    return model.queue


def put(queue: PromptQueue, pid: str, number: float = 0, create_time: int = 1000,
        **extra: Any) -> QueueItem:
    item = QueueItem(number, pid, PROMPT, {**extra, "create_time": create_time}, ["1"])
    queue.put(item)
    return item


def start(queue: PromptQueue, pid: str, number: float = 0, create_time: int = 1000) -> int:
    """Put a prompt and take it, so it is the running one; returns its task id."""
    put(queue, pid, number, create_time)
    got = queue.get(timeout=0)
    assert got is not None and got[1].prompt_id == pid
    return got[0]


def complete(queue: PromptQueue, pid: str, number: float = 0, create_time: int = 1000,
             outcome: str = "success", outputs: dict[str, Any] | None = None) -> None:
    task = start(queue, pid, number, create_time)
    closing: dict[str, Any] = {"prompt_id": pid, "timestamp": create_time + 5}
    if outcome == "error":
        closing.update(node_id="1", node_type="EmptyImage", executed=[], exception_message="boom",
                       exception_type="RuntimeError", traceback=[], current_inputs={}, current_outputs=[])
    messages = [["execution_start", {"prompt_id": pid, "timestamp": create_time + 1}],
                [f"execution_{outcome}", closing]]
    queue.task_done(task, Completion(HistoryStatus(outcome),
                                     outcome == "success", messages, outputs or {}, {}))


def assert_empty_200(r: Any) -> None:
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == "0"
    assert "content-type" not in r.headers


def assert_500(r: Any) -> None:
    assert r.status_code == 500
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == TEXT_500


def pending(client: TestClient) -> list[str]:
    return [item[1] for item in client.get("/queue").json()["queue_pending"]]


def running(client: TestClient) -> list[str]:
    return [item[1] for item in client.get("/queue").json()["queue_running"]]


# ---- GET /queue ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/queue", "/api/queue"])
def test_idle_queue(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.content == b'{"queue_running": [], "queue_pending": []}'


def test_queue_items_are_five_element_lists(client: TestClient, queue: PromptQueue) -> None:
    start(queue, "run", 360)
    put(queue, "p", 361, client_id="c")
    body = client.get("/queue").json()
    assert body["queue_running"] == [[360, "run", PROMPT, {"create_time": 1000}, ["1"]]]
    assert body["queue_pending"] == [[361, "p", PROMPT, {"client_id": "c", "create_time": 1000}, ["1"]]]


def test_queue_pending_is_in_raw_heap_order(client: TestClient, queue: PromptQueue) -> None:
    put(queue, "normal", 113)
    put(queue, "front", -114)
    put(queue, "explicit", -1e9)
    assert [i[0] for i in client.get("/queue").json()["queue_pending"]] == [-1e9, 113, -114]


def test_sensitive_extra_data_is_not_listed(client: TestClient, queue: PromptQueue) -> None:
    queue.put(QueueItem(1, "p", PROMPT, {"create_time": 1}, ["1"], sensitive={"api_key_comfy_org": "k"}))
    assert "api_key_comfy_org" not in client.get("/queue").text


# ---- POST /queue -----------------------------------------------------------------------------
def test_delete_removes_pending_only(client: TestClient, queue: PromptQueue) -> None:
    start(queue, "run", 0)
    put(queue, "a", 1)
    put(queue, "b", 2)
    assert_empty_200(client.post("/queue", json={"delete": ["b", "run", "unknown"]}))
    assert pending(client) == ["a"]
    assert running(client) == ["run"]


def test_clear_drops_pending_but_not_running(client: TestClient, queue: PromptQueue) -> None:
    start(queue, "run", 0)
    put(queue, "a", 1)
    put(queue, "b", 2)
    assert_empty_200(client.post("/queue", json={"clear": True}))
    assert pending(client) == [] and running(client) == ["run"]


@pytest.mark.parametrize("body", [{}, {"clear": False}, {"clear": 0}, {"delete": []}, [1, 2], "abc"],
                         ids=["empty", "clear-false", "clear-0", "delete-none", "list", "string"])
def test_post_queue_noops(client: TestClient, queue: PromptQueue, body: Any) -> None:
    put(queue, "a", 1)
    assert_empty_200(client.post("/queue", json=body))
    assert pending(client) == ["a"]


def test_delete_walks_a_string_as_ids(client: TestClient, queue: PromptQueue) -> None:
    put(queue, "a", 1)
    put(queue, "b", 2)
    put(queue, "ab", 3)
    assert_empty_200(client.post("/queue", json={"delete": "ab"}))
    assert pending(client) == ["ab"]


def test_clear_then_delete_in_one_body(client: TestClient, queue: PromptQueue) -> None:
    put(queue, "a", 1)
    assert_empty_200(client.post("/queue", json={"delete": ["x"], "clear": True}))
    assert pending(client) == []


@pytest.mark.parametrize("body", [b"{bad", b"", b"null", b"5", b'["clear"]', b'"delete"',
                                  b'{"delete": 5}', b'{"delete": null}'],
                         ids=["bad-json", "empty", "null", "number", "list-with-key",
                              "string-with-key", "delete-number", "delete-null"])
def test_post_queue_500s(client: TestClient, body: bytes) -> None:
    assert_500(client.post("/queue", content=body, headers={"Content-Type": "application/json"}))


# ---- GET /history ----------------------------------------------------------------------------
@pytest.fixture
def four(queue: PromptQueue) -> list[str]:
    ids = ["a", "b", "c", "d"]
    for n, pid in enumerate(ids):
        complete(queue, pid, n)
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["a", "b", "c", "d"]),
        ({"max_items": "2"}, ["c", "d"]),
        ({"offset": "1"}, ["b", "c", "d"]),
        ({"max_items": "2", "offset": "0"}, ["a", "b"]),
        ({"max_items": "2", "offset": "-5"}, ["c", "d"]),
        ({"offset": "-5"}, ["a", "b", "c", "d"]),
        ({"offset": "10"}, []),
        ({"max_items": "0"}, []),
        ({"max_items": "0", "offset": "0"}, ["a"]),
        ({"max_items": "-1"}, []),
        ({"max_items": " 3 "}, ["b", "c", "d"]),
    ],
    ids=["all", "last-2", "skip-1", "first-2", "negative-offset", "negative-offset-alone",
         "beyond-end", "max-0", "max-0-offset-0", "max-negative", "int-spaces"],
)
def test_history_paging(client: TestClient, four: list[str], query: dict[str, str],
                        expected: list[str]) -> None:
    r = client.get("/history", params=query)
    assert r.status_code == 200
    assert list(r.json()) == expected


def test_history_uses_the_first_of_repeated_params(client: TestClient, four: list[str]) -> None:
    assert list(client.get("/history?max_items=1&max_items=3").json()) == ["d"]


@pytest.mark.parametrize("query", ["max_items=abc", "offset=abc", "max_items=1.5", "max_items="],
                         ids=["max-abc", "offset-abc", "max-float", "max-empty"])
def test_history_bad_int_is_500(client: TestClient, query: str) -> None:
    assert_500(client.get(f"/history?{query}"))


def test_history_entry_shape(client: TestClient, queue: PromptQueue) -> None:
    complete(queue, "p", 7, outputs={"1": {"images": []}})
    body = client.get("/history/p").json()
    assert list(body) == ["p"]
    assert list(body["p"]) == ["prompt", "outputs", "status", "meta"]
    assert body["p"]["prompt"] == [7, "p", PROMPT, {"create_time": 1000}, ["1"]]


@pytest.mark.parametrize("path", ["/history", "/api/history", "/history/not-a-uuid",
                                  "/api/history/00000000-0000-4000-8000-000000000000"])
def test_empty_history_is_an_empty_object(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.content == b"{}"


# ---- POST /history ---------------------------------------------------------------------------
def test_history_delete_ignores_unknown_ids(client: TestClient, four: list[str]) -> None:
    assert_empty_200(client.post("/history", json={"delete": ["b", "nope", 5]}))
    assert list(client.get("/history").json()) == ["a", "c", "d"]


def test_history_clear(client: TestClient, four: list[str]) -> None:
    assert_empty_200(client.post("/history", json={"clear": True}))
    assert client.get("/history").json() == {}


def test_history_empty_body_object_is_a_noop(client: TestClient, four: list[str]) -> None:
    assert_empty_200(client.post("/history", json={}))
    assert list(client.get("/history").json()) == four


def test_history_delete_of_a_list_id_fails_after_earlier_ids(client: TestClient, four: list[str]) -> None:
    assert_500(client.post("/history", json={"delete": ["a", ["b"], "c"]}))
    assert list(client.get("/history").json()) == ["b", "c", "d"]


@pytest.mark.parametrize("body", [b"{bad", b"", b"null", b'{"delete": 1}'],
                         ids=["bad-json", "empty", "null", "delete-number"])
def test_post_history_500s(client: TestClient, body: bytes) -> None:
    assert_500(client.post("/history", content=body, headers={"Content-Type": "application/json"}))


# ---- POST /interrupt -------------------------------------------------------------------------
class InterruptRecorder:
    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def __call__(self, prompt_id: str | None = None) -> None:
        self.calls.append(prompt_id)


@pytest.fixture
def interrupts(model: ComfyModel, monkeypatch: pytest.MonkeyPatch) -> InterruptRecorder:
    recorder = InterruptRecorder()
    monkeypatch.setattr(model, "interrupt_prompt", recorder)
    return recorder


@pytest.mark.parametrize(
    ("body", "calls"),
    [
        (b"", [None]),
        (b"{bad", [None]),
        (b"{}", [None]),
        (b'{"prompt_id": ""}', [None]),
        (b'{"prompt_id": null}', [None]),
        (b'{"prompt_id": "p1"}', ["p1"]),
        (b'{"prompt_id": 5}', []),
    ],
    ids=["no-body", "bad-json", "empty-object", "empty-id", "null-id", "targeted", "non-string-id"],
)
def test_interrupt_never_fails_on_bad_json(client: TestClient, interrupts: InterruptRecorder,
                                           body: bytes, calls: list[str | None]) -> None:
    assert_empty_200(client.post("/interrupt", content=body))
    assert interrupts.calls == calls


@pytest.mark.parametrize("body", [b"null", b"[]", b'"x"', b"\xff\xfe"], ids=["null", "list", "string", "not-utf8"])
def test_interrupt_500s_on_json_that_is_not_an_object(client: TestClient, body: bytes) -> None:
    assert_500(client.post("/interrupt", content=body))


def test_targeted_interrupt_of_a_prompt_that_is_not_running_does_nothing(
        client: TestClient, model: ComfyModel, queue: PromptQueue) -> None:
    start(queue, "run")
    put(queue, "waiting", 1)
    assert_empty_200(client.post("/interrupt", json={"prompt_id": "waiting"}))
    assert not model.interrupt.is_set()
    assert_empty_200(client.post("/interrupt", json={"prompt_id": "run"}))
    assert model.interrupt.is_set()


# ---- POST /free ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "flags"),
    [
        ({}, {}),
        ({"unload_models": True}, {"unload_models": True}),
        ({"free_memory": True}, {"free_memory": True}),
        ({"unload_models": True, "free_memory": True}, {"unload_models": True, "free_memory": True}),
        ({"unload_models": False, "free_memory": 0}, {}),
        ({"unload_models": "yes"}, {"unload_models": "yes"}),
    ],
    ids=["empty", "unload", "free", "both", "falsy", "truthy-value-kept"],
)
def test_free_sets_worker_flags(client: TestClient, queue: PromptQueue, body: dict[str, Any],
                                flags: dict[str, Any]) -> None:
    assert_empty_200(client.post("/free", json=body))
    assert {flag.value: value for flag, value in queue.take_flags().items()} == flags


@pytest.mark.parametrize("body", [b"", b"{bad", b"[]", b"null"], ids=["no-body", "bad-json", "list", "null"])
def test_free_500s_on_bad_body(client: TestClient, body: bytes) -> None:
    assert_500(client.post("/free", content=body))


# ---- /api/jobs -------------------------------------------------------------------------------
@pytest.fixture
def mixed(queue: PromptQueue) -> None:
    complete(queue, "ok", 1, create_time=1000,
             outputs={"2": {"images": [{"filename": "j1_00001_.png", "subfolder": "s", "type": "output"}]}})
    complete(queue, "bad", 2, create_time=2000, outcome="error")
    start(queue, "run", 3, create_time=3000)
    put(queue, "wait", 4, create_time=4000)


def job_ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [job["id"] for job in r.json()["jobs"]]


@pytest.mark.parametrize("path", ["/api/jobs", "/api/api/jobs"])
def test_jobs_listing_is_under_api_prefix(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.content == b'{"jobs": [], "pagination": {"offset": 0, "limit": null, "total": 0, "has_more": false}}'


@pytest.mark.parametrize("path", ["/jobs", "/jobs/x"])
def test_jobs_without_api_prefix_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.content == b""


def test_jobs_default_listing(client: TestClient, mixed: None) -> None:
    r = client.get("/api/jobs")
    assert job_ids(r) == ["wait", "run", "bad", "ok"]
    jobs = r.json()["jobs"]
    assert jobs[0] == {"id": "wait", "status": "pending", "priority": 4, "create_time": 4000,
                       "outputs_count": 0}
    assert jobs[1]["status"] == "in_progress"
    assert jobs[2]["status"] == "failed" and "execution_error" in jobs[2]
    assert jobs[3]["preview_output"] == {"filename": "j1_00001_.png", "subfolder": "s", "type": "output",
                                         "nodeId": "2", "mediaType": "images"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "completed"}, ["ok"]),
        ({"status": "failed"}, ["bad"]),
        ({"status": "pending,in_progress"}, ["wait", "run"]),
        ({"status": "PENDING"}, ["wait"]),
        ({"sort_order": "asc"}, ["ok", "bad", "run", "wait"]),
        ({"limit": "1"}, ["wait"]),
        ({"offset": "3"}, ["ok"]),
        ({"offset": "-3"}, ["wait", "run", "bad", "ok"]),
    ],
    ids=["completed", "failed", "queued", "case-insensitive", "asc", "limit", "offset", "negative-offset"],
)
def test_jobs_filters_and_paging(client: TestClient, mixed: None, query: dict[str, str],
                                 expected: list[str]) -> None:
    assert job_ids(client.get("/api/jobs", params=query)) == expected


def test_jobs_sort_by_execution_duration(client: TestClient, mixed: None) -> None:
    assert set(job_ids(client.get("/api/jobs", params={"sort_by": "execution_duration"}))) == {
        "wait", "run", "bad", "ok"}


def test_jobs_pagination_object(client: TestClient, mixed: None) -> None:
    body = client.get("/api/jobs", params={"limit": "2", "offset": "1"}).json()
    assert body["pagination"] == {"offset": 1, "limit": 2, "total": 4, "has_more": True}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus,completed",
         "Invalid status value(s): bogus. Valid values: pending, in_progress, completed, failed"),
        ("sort_by=name", "sort_by must be 'created_at' or 'execution_duration'"),
        ("sort_order=up", "sort_order must be 'asc' or 'desc'"),
        ("limit=0", "limit must be a positive integer"),
        ("limit=abc", "limit must be an integer"),
        ("offset=x", "offset must be an integer"),
    ],
    ids=["status", "sort-by", "sort-order", "limit-0", "limit-abc", "offset-x"],
)
def test_jobs_errors(client: TestClient, query: str, message: str) -> None:
    r = client.get(f"/api/jobs?{query}")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": message}


def test_single_job_from_history_has_details(client: TestClient, mixed: None) -> None:
    job = client.get("/api/jobs/ok").json()
    assert list(job) == ["id", "status", "priority", "create_time", "execution_start_time",
                         "execution_end_time", "outputs_count", "preview_output", "outputs",
                         "execution_status", "workflow"]
    assert job["workflow"] == {"prompt": PROMPT, "extra_data": {"create_time": 1000}}
    assert job["execution_status"]["status_str"] == "success"


@pytest.mark.parametrize(("pid", "status"), [("wait", "pending"), ("run", "in_progress")])
def test_single_queued_job_has_no_details(client: TestClient, mixed: None, pid: str, status: str) -> None:
    job = client.get(f"/api/jobs/{pid}").json()
    assert list(job) == ["id", "status", "priority", "create_time", "outputs_count"]
    assert job["status"] == status


def test_unknown_job_is_404(client: TestClient) -> None:
    r = client.get("/api/jobs/not-a-job")
    assert r.status_code == 404
    assert r.content == b'{"error": "Job not found"}'


# ---- routing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/interrupt", "/free"])
def test_get_on_post_only_routes_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.content == b""


@pytest.mark.parametrize("path", ["/history", "/queue"])
def test_wrong_method_lists_get_head_post(client: TestClient, path: str) -> None:
    r = client.delete(path)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET,HEAD,POST"
