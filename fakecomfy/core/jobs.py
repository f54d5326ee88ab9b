"""The jobs view of ``/api/jobs``: queue items and history entries as one kind of record.

A job is built from a queue item (``pending``, ``in_progress``) or a history entry
(``completed``, ``failed``). Keys whose value is None are left out, never sent as null, and the
key order is fixed: id, status, priority, create_time, execution_start_time,
execution_end_time, execution_error, outputs_count, preview_output, workflow_id. An
interrupted prompt is ``failed`` without ``execution_error`` (only that event carries one).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from fakecomfy import protocol
from fakecomfy.core.execution import QueueItem
from fakecomfy.protocol import HistoryStatus

Job = dict[str, Any]


class JobStatus(str, enum.Enum):
    PENDING = protocol.JOB_PENDING
    IN_PROGRESS = protocol.JOB_IN_PROGRESS
    COMPLETED = protocol.JOB_COMPLETED
    FAILED = protocol.JOB_FAILED


# In ComfyUI's order: the error text lists them this way.
ALL_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
SORT_FIELDS = frozenset({"created_at", "execution_duration"})
SORT_ORDERS = frozenset({"asc", "desc"})

# Output lists under these keys are previewable; other keys only through format or extension.
PREVIEWABLE_MEDIA = frozenset({"images", "video", "audio"})
THREE_D_SUFFIXES = (".obj", ".fbx", ".gltf", ".glb")
# The history status events that close a run (their timestamp is execution_end_time).
_END_EVENTS = frozenset({protocol.EV_EXECUTION_SUCCESS, protocol.EV_EXECUTION_ERROR,
                         protocol.EV_EXECUTION_INTERRUPTED})


class Pagination(TypedDict):
    offset: int
    limit: int | None
    total: int
    has_more: bool


class JobPage(TypedDict):
    jobs: list[Job]
    pagination: Pagination


class JobQueryError(ValueError):
    """A query parameter ComfyUI rejects with 400 ``{"error": message}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _prune(d: dict[str, Any]) -> Job:
    return {k: v for k, v in d.items() if v is not None}


# ---- one job ---------------------------------------------------------------------------------
def _metadata(extra_data: Mapping[str, Any]) -> tuple[Any, Any]:
    """(create_time, workflow_id) from a prompt's extra_data.

    Like real, a non-object ``extra_pnginfo`` or ``workflow`` is an error (a 500 on the wire).
    """
    pnginfo = extra_data.get("extra_pnginfo", {})
    if not isinstance(pnginfo, Mapping):
        raise TypeError(f"extra_pnginfo must be an object, got {type(pnginfo).__name__}")
    workflow = pnginfo.get("workflow", {})
    if not isinstance(workflow, Mapping):
        raise TypeError(f"extra_pnginfo.workflow must be an object, got {type(workflow).__name__}")
    return extra_data.get("create_time"), workflow.get("id")


def is_previewable(media_type: str, item: Mapping[str, Any]) -> bool:
    """Whether the frontend can preview an output item: by list key, MIME format or 3D suffix."""
    if media_type in PREVIEWABLE_MEDIA:
        return True
    fmt = item.get("format")
    if isinstance(fmt, str) and fmt.startswith(("video/", "audio/")):
        return True
    filename = item.get("filename")
    return isinstance(filename, str) and filename.lower().endswith(THREE_D_SUFFIXES)


def outputs_summary(outputs: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """(outputs_count, preview_output) of a history entry's outputs.

    Every dict item in every output list counts (``animated`` flags and non-dict items do
    not). The preview is the first previewable item of type ``output``, else the first
    previewable item of any type, with ``nodeId`` and ``mediaType`` added.
    """
    count = 0
    preview: dict[str, Any] | None = None
    fallback: dict[str, Any] | None = None
    for node_id, node_outputs in outputs.items():
        if not isinstance(node_outputs, Mapping):
            continue
        for media_type, items in node_outputs.items():
            if media_type == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                count += 1
                if preview is None and is_previewable(media_type, item):
                    enriched = {**item, "nodeId": node_id, "mediaType": media_type}
                    if item.get("type") == "output":
                        preview = enriched
                    elif fallback is None:
                        fallback = enriched
    return count, preview or fallback


def queue_job(item: QueueItem, status: JobStatus) -> Job:
    """A pending or running prompt: no timings, no outputs yet."""
    create_time, workflow_id = _metadata(item.extra_data)
    return _prune({
        "id": item.prompt_id,
        "status": status.value,
        "priority": item.number,
        "create_time": create_time,
        "outputs_count": 0,
        "workflow_id": workflow_id,
    })


def history_status(entry: Mapping[str, Any]) -> JobStatus:
    status = entry.get("status") or {}
    return JobStatus.FAILED if status.get("status_str") == HistoryStatus.ERROR else JobStatus.COMPLETED


def history_job(prompt_id: str, entry: Mapping[str, Any], detailed: bool = False) -> Job:
    """A finished prompt. ``detailed`` adds outputs, execution_status and workflow (single job)."""
    number, _, prompt, extra_data, _ = entry["prompt"][:5]
    create_time, workflow_id = _metadata(extra_data)
    status_info = entry.get("status", {})
    outputs = entry.get("outputs", {})
    outputs_count, preview = outputs_summary(outputs)

    start = end = error = None
    for message in (status_info or {}).get("messages", []):
        if not isinstance(message, (list, tuple)) or len(message) < 2:
            continue
        event, data = message[0], message[1]
        if not isinstance(data, dict):
            continue
        if event == protocol.EV_EXECUTION_START:
            start = data.get("timestamp")
        elif event in _END_EVENTS:
            end = data.get("timestamp")
            if event == protocol.EV_EXECUTION_ERROR:
                error = data

    job = _prune({
        "id": prompt_id,
        "status": history_status(entry).value,
        "priority": number,
        "create_time": create_time,
        "execution_start_time": start,
        "execution_end_time": end,
        "execution_error": error,
        "outputs_count": outputs_count,
        "preview_output": preview,
        "workflow_id": workflow_id,
    })
    if detailed:
        job["outputs"] = outputs
        job["execution_status"] = status_info
        job["workflow"] = {"prompt": prompt, "extra_data": extra_data}
    return job


def find_job(prompt_id: str, running: Iterable[QueueItem], pending: Iterable[QueueItem],
             history: Mapping[str, Mapping[str, Any]]) -> Job | None:
    """``GET /api/jobs/{id}``: history wins over the queue; queued jobs carry no details."""
    if prompt_id in history:
        return history_job(prompt_id, history[prompt_id], detailed=True)
    for item in running:
        if item.prompt_id == prompt_id:
            return queue_job(item, JobStatus.IN_PROGRESS)
    for item in pending:
        if item.prompt_id == prompt_id:
            return queue_job(item, JobStatus.PENDING)
    return None


# ---- listing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobQuery:
    """The parsed query of ``GET /api/jobs``. ``statuses=None`` means all."""

    statuses: tuple[str, ...] | None = None
    workflow_id: str | None = None
    sort_by: str = "created_at"
    sort_order: str = "desc"
    limit: int | None = None
    offset: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> JobQuery:
        """Validate query parameters in ComfyUI's order; the first problem raises JobQueryError."""
        statuses: tuple[str, ...] | None = None
        raw_status = params.get("status")
        if raw_status:
            # "status=," filters on nothing, so it matches no job at all (real does the same).
            statuses = tuple(s.strip().lower() for s in raw_status.split(",") if s.strip())
            invalid = [s for s in statuses if s not in ALL_STATUSES]
            if invalid:
                raise JobQueryError(protocol.ERR_JOBS_INVALID_STATUS.format(
                    invalid=", ".join(invalid), valid=", ".join(ALL_STATUSES)))
        sort_by = params.get("sort_by", "created_at").lower()
        if sort_by not in SORT_FIELDS:
            raise JobQueryError(protocol.ERR_JOBS_SORT_BY)
        sort_order = params.get("sort_order", "desc").lower()
        if sort_order not in SORT_ORDERS:
            raise JobQueryError(protocol.ERR_JOBS_SORT_ORDER)
        limit = None
        if "limit" in params:
            limit = _parse_int(params["limit"], protocol.ERR_JOBS_LIMIT_NOT_INT)
            if limit <= 0:
                raise JobQueryError(protocol.ERR_JOBS_LIMIT_NOT_POSITIVE)
        offset = 0
        if "offset" in params:
            offset = max(0, _parse_int(params["offset"], protocol.ERR_JOBS_OFFSET_NOT_INT))
        return cls(statuses, params.get("workflow_id"), sort_by, sort_order, limit, offset)


def _parse_int(value: str, message: str) -> int:
    try:
        return int(value)  # Python's int(): " 7 ", "+7" and "1_0" are accepted, like real
    except ValueError:
        raise JobQueryError(message) from None


def _sort_key(sort_by: str, job: Job) -> Any:
    if sort_by == "execution_duration":
        start, end = job.get("execution_start_time", 0), job.get("execution_end_time", 0)
        return end - start if end and start else 0
    return job.get("create_time", 0)


def list_jobs(running: Iterable[QueueItem], pending: Iterable[QueueItem],
              history: Mapping[str, Mapping[str, Any]], query: JobQuery | None = None) -> JobPage:
    """``GET /api/jobs``: running, then pending (heap order), then history, stably sorted."""
    query = query or JobQuery()
    wanted = set(ALL_STATUSES if query.statuses is None else query.statuses)
    jobs: list[Job] = []
    if JobStatus.IN_PROGRESS.value in wanted:
        jobs += [queue_job(item, JobStatus.IN_PROGRESS) for item in running]
    if JobStatus.PENDING.value in wanted:
        jobs += [queue_job(item, JobStatus.PENDING) for item in pending]
    if wanted & {JobStatus.COMPLETED.value, JobStatus.FAILED.value}:
        jobs += [history_job(pid, entry) for pid, entry in history.items()
                 if history_status(entry).value in wanted]
    if query.workflow_id:
        jobs = [job for job in jobs if job.get("workflow_id") == query.workflow_id]
    jobs.sort(key=lambda job: _sort_key(query.sort_by, job), reverse=query.sort_order == "desc")

    total = len(jobs)
    page = jobs[query.offset:]
    if query.limit is not None:
        page = page[: query.limit]
    return {
        "jobs": page,
        "pagination": {"offset": query.offset, "limit": query.limit, "total": total,
                       "has_more": query.offset + len(page) < total},
    }
