"""The jobs model without HTTP: job shapes, outputs summary, query parsing, listing."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.core import jobs
from fakecomfy.core.execution import QueueItem
from fakecomfy.core.jobs import JobQuery, JobQueryError, JobStatus

PROMPT = {"1": {"class_type": "EmptyImage", "inputs": {}}}


def queued(pid: str, number: float = 1, create_time: int | None = 1000, **extra: Any) -> QueueItem:
    extra_data = dict(extra)
    if create_time is not None:
        extra_data["create_time"] = create_time
    return QueueItem(number, pid, PROMPT, extra_data, ["1"])


def image(name: str, type_: str = "output") -> dict[str, str]:
    return {"filename": name, "subfolder": "", "type": type_}


def entry(pid: str, number: float = 1, create_time: int = 1000, start: int = 1001, end: int = 1002,
          outcome: str = "success", outputs: dict[str, Any] | None = None,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A history entry as the worker writes it; outcome names the closing event."""
    extra_data = {**(extra or {}), "create_time": create_time}
    closing: dict[str, Any] = {"prompt_id": pid, "timestamp": end}
    if outcome == "error":
        closing.update(node_id="2", node_type="SaveImage", exception_message="boom\n",
                       exception_type="RuntimeError")
    return {
        "prompt": [number, pid, PROMPT, extra_data, ["1"]],
        "outputs": outputs if outputs is not None else {},
        "status": {
            "status_str": "success" if outcome == "success" else "error",
            "completed": outcome == "success",
            "messages": [["execution_start", {"prompt_id": pid, "timestamp": start}],
                         ["execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": start}],
                         [f"execution_{outcome}", closing]],
        },
        "meta": {},
    }


# ---- one job ---------------------------------------------------------------------------------
def test_queued_job_has_only_id_status_priority_create_time_and_count() -> None:
    job = jobs.queue_job(queued("p", 361), JobStatus.PENDING)
    assert job == {"id": "p", "status": "pending", "priority": 361, "create_time": 1000,
                   "outputs_count": 0}
    assert list(job) == ["id", "status", "priority", "create_time", "outputs_count"]


def test_missing_create_time_is_pruned_not_null() -> None:
    job = jobs.queue_job(queued("p", create_time=None), JobStatus.IN_PROGRESS)
    assert "create_time" not in job and job["status"] == "in_progress"


def test_workflow_id_comes_from_extra_pnginfo() -> None:
    it = queued("p", extra_pnginfo={"workflow": {"id": "wf-1", "nodes": []}})
    assert jobs.queue_job(it, JobStatus.PENDING)["workflow_id"] == "wf-1"
    assert list(jobs.queue_job(it, JobStatus.PENDING))[-1] == "workflow_id"


@pytest.mark.parametrize("pnginfo", [None, [], "x", {"workflow": "x"}], ids=["null", "list", "str", "wf-str"])
def test_non_object_extra_pnginfo_fails_like_real(pnginfo: Any) -> None:
    with pytest.raises(TypeError):
        jobs.queue_job(queued("p", extra_pnginfo=pnginfo), JobStatus.PENDING)


def test_completed_job_key_order_and_timings() -> None:
    outputs = {"2": {"images": [image("a_00001_.png")]}}
    job = jobs.history_job("p", entry("p", 372, outputs=outputs))
    assert list(job) == ["id", "status", "priority", "create_time", "execution_start_time",
                         "execution_end_time", "outputs_count", "preview_output"]
    assert job["status"] == "completed"
    assert (job["create_time"], job["execution_start_time"], job["execution_end_time"]) == (1000, 1001, 1002)
    assert job["preview_output"] == {**image("a_00001_.png"), "nodeId": "2", "mediaType": "images"}


def test_failed_job_carries_the_execution_error() -> None:
    job = jobs.history_job("p", entry("p", outcome="error"))
    assert job["status"] == "failed"
    assert job["execution_error"]["exception_type"] == "RuntimeError"
    assert list(job).index("execution_error") == list(job).index("execution_end_time") + 1
    assert job["outputs_count"] == 0 and "preview_output" not in job


def test_interrupted_job_is_failed_without_execution_error() -> None:
    outputs = {"11": {"images": [image("ComfyUI_temp_x_00001_.png", "temp")]}}
    job = jobs.history_job("p", entry("p", outcome="interrupted", end=1500, outputs=outputs))
    assert job["status"] == "failed" and "execution_error" not in job
    assert job["execution_end_time"] == 1500
    assert job["outputs_count"] == 1 and job["preview_output"]["nodeId"] == "11"


def test_detailed_job_adds_outputs_status_and_workflow() -> None:
    e = entry("p", outputs={"2": {"images": [image("a.png")]}}, extra={"client_id": "c"})
    job = jobs.history_job("p", e, detailed=True)
    assert list(job)[-3:] == ["outputs", "execution_status", "workflow"]
    assert job["outputs"] == e["outputs"]
    assert job["execution_status"] == e["status"]
    assert job["workflow"] == {"prompt": PROMPT, "extra_data": {"client_id": "c", "create_time": 1000}}


# ---- outputs summary -------------------------------------------------------------------------
def test_outputs_count_spans_every_output_node() -> None:
    outputs = {"9": {"images": [image(f"batch_{i}.png") for i in range(3)]},
               "12": {"images": [image(f"rep_{i}.png") for i in range(9)]}}
    count, preview = jobs.outputs_summary(outputs)
    assert count == 12
    assert preview is not None and preview["filename"] == "batch_0.png" and preview["nodeId"] == "9"


def test_preview_prefers_an_output_image_over_a_temp_one() -> None:
    outputs = {"1": {"images": [image("t.png", "temp")]}, "2": {"images": [image("o.png")]}}
    _, preview = jobs.outputs_summary(outputs)
    assert preview is not None and preview["filename"] == "o.png"


def test_preview_falls_back_to_the_first_temp_image() -> None:
    outputs = {"1": {"images": [image("t1.png", "temp"), image("t2.png", "temp")]}}
    _, preview = jobs.outputs_summary(outputs)
    assert preview is not None and preview["filename"] == "t1.png"


@pytest.mark.parametrize(
    ("media_type", "item", "previewable"),
    [
        ("images", {"filename": "a.png"}, True),
        ("video", {"filename": "a.mp4"}, True),
        ("audio", {"filename": "a.flac"}, True),
        ("gifs", {"filename": "a.mp4", "format": "video/h264-mp4"}, True),
        ("files", {"filename": "mesh.GLB"}, True),
        ("files", {"filename": "notes.txt"}, False),
    ],
    ids=["images", "video", "audio", "format-video", "3d-suffix", "other"],
)
def test_is_previewable(media_type: str, item: dict[str, Any], previewable: bool) -> None:
    assert jobs.is_previewable(media_type, item) is previewable


def test_animated_flags_and_non_dict_items_do_not_count() -> None:
    outputs = {"1": {"images": [image("a.png")], "animated": [True]},
               "2": {"text": ["hello"]}, "3": "not-a-dict"}
    count, _ = jobs.outputs_summary(outputs)
    assert count == 1


def test_unpreviewable_items_count_but_give_no_preview() -> None:
    count, preview = jobs.outputs_summary({"1": {"files": [{"filename": "a.txt", "type": "output"}]}})
    assert (count, preview) == (1, None)


# ---- find_job ----------------------------------------------------------------------------------
def test_find_job_prefers_history_then_running_then_pending() -> None:
    history = {"h": entry("h")}
    running, pending = [queued("r")], [queued("q")]
    found = jobs.find_job("h", running, pending, history)
    assert found is not None and found["status"] == "completed" and "workflow" in found
    assert jobs.find_job("r", running, pending, history) == jobs.queue_job(running[0], JobStatus.IN_PROGRESS)
    assert jobs.find_job("q", running, pending, history) == jobs.queue_job(pending[0], JobStatus.PENDING)
    assert jobs.find_job("nope", running, pending, history) is None


# ---- query parsing -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus,completed"},
         "Invalid status value(s): bogus. Valid values: pending, in_progress, completed, failed"),
        ({"status": "x, y"},
         "Invalid status value(s): x, y. Valid values: pending, in_progress, completed, failed"),
        ({"sort_by": "name"}, "sort_by must be 'created_at' or 'execution_duration'"),
        ({"sort_order": "up"}, "sort_order must be 'asc' or 'desc'"),
        ({"limit": "0"}, "limit must be a positive integer"),
        ({"limit": "-2"}, "limit must be a positive integer"),
        ({"limit": "abc"}, "limit must be an integer"),
        ({"limit": ""}, "limit must be an integer"),
        ({"offset": "x"}, "offset must be an integer"),
        ({"status": "bogus", "sort_by": "name", "limit": "0"},
         "Invalid status value(s): bogus. Valid values: pending, in_progress, completed, failed"),
        ({"sort_order": "up", "limit": "abc"}, "sort_order must be 'asc' or 'desc'"),
    ],
    ids=["status", "two-statuses", "sort-by", "sort-order", "limit-0", "limit-negative",
         "limit-abc", "limit-empty", "offset-x", "status-checked-first", "order-before-limit"],
)
def test_query_errors(params: dict[str, str], message: str) -> None:
    with pytest.raises(JobQueryError) as err:
        JobQuery.parse(params)
    assert err.value.message == message


def test_query_defaults() -> None:
    assert JobQuery.parse({}) == JobQuery(None, None, "created_at", "desc", None, 0)


def test_query_is_case_and_space_tolerant() -> None:
    q = JobQuery.parse({"status": " Pending , FAILED ,", "sort_by": "EXECUTION_DURATION",
                        "sort_order": "ASC", "limit": " 3 ", "offset": "+2"})
    assert q == JobQuery(("pending", "failed"), None, "execution_duration", "asc", 3, 2)


def test_negative_offset_is_zero() -> None:
    assert JobQuery.parse({"offset": "-3"}).offset == 0


def test_empty_status_means_all_but_a_bare_comma_means_none() -> None:
    assert JobQuery.parse({"status": ""}).statuses is None
    assert JobQuery.parse({"status": ","}).statuses == ()
    assert jobs.list_jobs([queued("a")], [], {}, JobQuery.parse({"status": ","}))["jobs"] == []


# ---- listing -------------------------------------------------------------------------------
State = tuple[list[QueueItem], list[QueueItem], dict[str, Any]]


@pytest.fixture
def state() -> State:
    running = [queued("run", 360, create_time=3000)]
    pending = [queued("p1", 361, create_time=4000), queued("p2", 362, create_time=5000)]
    history = {"ok": entry("ok", 358, create_time=1000, start=1001, end=1011,
                           outputs={"2": {"images": [image("a.png")]}}),
               "bad": entry("bad", 359, create_time=2000, start=2001, end=2003, outcome="error")}
    return running, pending, history


def listing(state: State, query: JobQuery | None = None) -> jobs.JobPage:
    running, pending, history = state
    return jobs.list_jobs(running, pending, history, query)


def ids(page: jobs.JobPage) -> list[str]:
    return [job["id"] for job in page["jobs"]]


def test_listing_defaults_to_newest_first(state: State) -> None:
    page = listing(state)
    assert ids(page) == ["p2", "p1", "run", "bad", "ok"]
    assert page["pagination"] == {"offset": 0, "limit": None, "total": 5, "has_more": False}


def test_listing_ascending(state: State) -> None:
    assert ids(listing(state, JobQuery(sort_order="asc"))) == ["ok", "bad", "run", "p1", "p2"]


def test_equal_create_times_keep_queue_then_history_order() -> None:
    running, pending = [queued("r", create_time=7)], [queued("q", create_time=7)]
    history = {"h": entry("h", create_time=7)}
    assert ids(jobs.list_jobs(running, pending, history)) == ["r", "q", "h"]
    assert ids(jobs.list_jobs(running, pending, history, JobQuery(sort_order="asc"))) == ["r", "q", "h"]


def test_sort_by_execution_duration_puts_queued_jobs_at_zero(state: State) -> None:
    page = listing(state, JobQuery(sort_by="execution_duration"))
    assert ids(page)[:2] == ["ok", "bad"]  # 10 ms, then 2 ms; queued jobs count as 0
    assert set(ids(page)[2:]) == {"run", "p1", "p2"}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("pending",), ["p2", "p1"]),
        (("in_progress",), ["run"]),
        (("completed",), ["ok"]),
        (("failed",), ["bad"]),
        (("pending", "in_progress"), ["p2", "p1", "run"]),
        (("completed", "failed"), ["bad", "ok"]),
    ],
    ids=["pending", "in-progress", "completed", "failed", "queued", "finished"],
)
def test_status_filter(state: State, statuses: tuple[str, ...], expected: list[str]) -> None:
    page = listing(state, JobQuery(statuses=statuses))
    assert ids(page) == expected
    assert page["pagination"]["total"] == len(expected)


def test_workflow_id_filter() -> None:
    a = queued("a", extra_pnginfo={"workflow": {"id": "wf"}})
    b = queued("b")
    assert ids(jobs.list_jobs([], [a, b], {}, JobQuery(workflow_id="wf"))) == ["a"]


@pytest.mark.parametrize(
    ("limit", "offset", "expected", "has_more"),
    [
        (1, 0, ["p2"], True),
        (2, 1, ["p1", "run"], True),
        (None, 3, ["bad", "ok"], False),
        (2, 3, ["bad", "ok"], False),
        (None, 9, [], False),
    ],
    ids=["first", "window", "tail", "exact-end", "beyond-end"],
)
def test_pagination(state: State, limit: int | None, offset: int, expected: list[str], has_more: bool) -> None:
    page = listing(state, JobQuery(limit=limit, offset=offset))
    assert ids(page) == expected
    assert page["pagination"] == {"offset": offset, "limit": limit, "total": 5, "has_more": has_more}
