"""PromptQueue without HTTP: heap order, delete and wipe, history bounds and paging."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.core.execution import Completion, QueueItem
from fakecomfy.core.queue import MAX_HISTORY, PromptQueue, WorkerFlag
from fakecomfy.protocol import HistoryStatus


def item(prompt_id: str, number: float = 0, **extra: Any) -> QueueItem:
    return QueueItem(number, prompt_id, {"1": {"class_type": "EmptyImage", "inputs": {}}},
                     dict(extra), ["1"])


def success(node: str = "1") -> Completion:
    return Completion(HistoryStatus.SUCCESS, True, [["execution_start", {"prompt_id": "x", "timestamp": 1}]],
                      {node: {"images": []}}, {node: {"node_id": node}})


def finish(queue: PromptQueue, *prompt_ids: str) -> None:
    """Run each prompt through put → get → task_done, in order."""
    for pid in prompt_ids:
        queue.put(item(pid))
        got = queue.get(timeout=1)
        assert got is not None
        queue.task_done(got[0], success())


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def changes() -> Counter:
    return Counter()


@pytest.fixture
def queue(changes: Counter) -> PromptQueue:
    return PromptQueue(on_change=changes)


def pending_ids(queue: PromptQueue) -> list[str]:
    return [i.prompt_id for i in queue.current()[1]]


# ---- numbering and order -------------------------------------------------------------------
def test_next_number_counts_from_zero(queue: PromptQueue) -> None:
    assert [queue.next_number() for _ in range(3)] == [0, 1, 2]


def test_pending_is_raw_heap_array_order(queue: PromptQueue) -> None:
    # Observed on real: normal 113, front -114, explicit -1e9 → [-1e9, 113, -114].
    queue.put(item("normal", 113))
    queue.put(item("front", -114))
    queue.put(item("explicit", -1e9))
    assert [i.number for i in queue.current()[1]] == [-1e9, 113, -114]


def test_get_runs_lowest_number_first(queue: PromptQueue) -> None:
    for pid, n in [("normal", 113), ("front", -114), ("explicit", -1e9)]:
        queue.put(item(pid, n))
    order = []
    while (got := queue.get(timeout=0)) is not None:
        order.append(got[1].prompt_id)
    assert order == ["explicit", "front", "normal"]


def test_get_times_out_on_empty_queue(queue: PromptQueue) -> None:
    assert queue.get(timeout=0.01) is None


def test_running_items_count_as_remaining(queue: PromptQueue) -> None:
    queue.put(item("a"))
    queue.put(item("b"))
    queue.get(timeout=0)
    running, _pending = queue.current()
    assert [i.prompt_id for i in running] == ["a"]
    assert queue.remaining() == 2 and not queue.is_idle()


def test_as_list_is_the_five_element_wire_form() -> None:
    it = QueueItem(3, "p", {"1": {}}, {"client_id": "c"}, ["1"], sensitive={"api_key_comfy_org": "k"})
    assert it.as_list() == [3, "p", {"1": {}}, {"client_id": "c"}, ["1"]]


# ---- delete and wipe -----------------------------------------------------------------------
def test_delete_removes_a_pending_item(queue: PromptQueue, changes: Counter) -> None:
    for pid, n in [("a", 1), ("b", 2), ("c", 3)]:
        queue.put(item(pid, n))
    before = changes.calls
    assert queue.delete("b") is True
    assert pending_ids(queue) == ["a", "c"]
    assert changes.calls == before + 1


def test_delete_keeps_heap_valid(queue: PromptQueue) -> None:
    for n in [5, 1, 4, 2, 3]:
        queue.put(item(f"p{n}", n))
    queue.delete("p1")
    order = []
    while (got := queue.get(timeout=0)) is not None:
        order.append(got[1].number)
    assert order == [2, 3, 4, 5]


def test_deleting_the_last_pending_item_notifies_twice(queue: PromptQueue, changes: Counter) -> None:
    queue.put(item("only"))
    before = changes.calls
    assert queue.delete("only") is True
    assert changes.calls == before + 2


def test_deleting_an_unknown_id_notifies_nothing(queue: PromptQueue, changes: Counter) -> None:
    queue.put(item("a"))
    before = changes.calls
    assert queue.delete("nope") is False
    assert changes.calls == before


def test_delete_never_touches_the_running_item(queue: PromptQueue) -> None:
    queue.put(item("run"))
    queue.get(timeout=0)
    assert queue.delete("run") is False
    assert [i.prompt_id for i in queue.current()[0]] == ["run"]


def test_wipe_drops_pending_keeps_running(queue: PromptQueue) -> None:
    queue.put(item("run", 0))
    queue.put(item("p1", 1))
    queue.get(timeout=0)
    queue.put(item("p2", 2))
    queue.wipe()
    running, pending = queue.current()
    assert [i.prompt_id for i in running] == ["run"] and pending == []


def test_wipe_notifies_even_when_empty(queue: PromptQueue, changes: Counter) -> None:
    queue.wipe()
    assert changes.calls == 1


# ---- history -------------------------------------------------------------------------------
def test_task_done_records_entry_in_wire_key_order(queue: PromptQueue) -> None:
    finish(queue, "p")
    entry = queue.get_history("p")["p"]
    assert list(entry) == ["prompt", "outputs", "status", "meta"]
    assert entry["prompt"][:2] == [0, "p"]
    assert list(entry["status"]) == ["status_str", "completed", "messages"]
    assert queue.is_idle()


def test_history_of_unknown_id_is_empty(queue: PromptQueue) -> None:
    assert queue.get_history("not-a-uuid") == {}


def test_history_entry_is_a_copy(queue: PromptQueue) -> None:
    finish(queue, "p")
    queue.get_history("p")["p"]["outputs"]["x"] = 1
    assert "x" not in queue.get_history("p")["p"]["outputs"]


def test_rerun_of_same_prompt_id_keeps_its_history_position(queue: PromptQueue) -> None:
    finish(queue, "a", "b", "a")
    assert list(queue.get_history()) == ["a", "b"]


@pytest.mark.parametrize(
    ("max_items", "offset", "expected"),
    [
        (None, -1, ["a", "b", "c", "d"]),
        (2, -1, ["c", "d"]),  # max_items alone: the last N
        (None, 1, ["b", "c", "d"]),  # offset alone: skip the first k
        (2, 0, ["a", "b"]),
        (2, 1, ["b", "c"]),
        (2, -7, ["c", "d"]),  # any negative offset means "last max_items"
        (None, 10, []),  # beyond the end
        (0, -1, []),
        (0, 0, ["a"]),  # real adds one entry before it checks the count
        (9, -1, ["a", "b", "c", "d"]),
    ],
    ids=["all", "last-2", "skip-1", "first-2", "window", "negative-offset", "beyond-end",
         "max-0", "max-0-offset-0", "max-over-size"],
)
def test_history_paging(queue: PromptQueue, max_items: int | None, offset: int,
                        expected: list[str]) -> None:
    finish(queue, "a", "b", "c", "d")
    assert list(queue.get_history(max_items=max_items, offset=offset)) == expected


def test_history_keeps_max_plus_one_entries(queue: PromptQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fakecomfy.core.queue.MAX_HISTORY", 3)
    finish(queue, "a", "b", "c", "d", "e", "f")
    assert list(queue.get_history()) == ["c", "d", "e", "f"]


def test_history_bound_is_ten_thousand() -> None:
    assert MAX_HISTORY == 10_000


def test_delete_and_wipe_history(queue: PromptQueue) -> None:
    finish(queue, "a", "b", "c")
    queue.delete_history("b")
    queue.delete_history("unknown")
    assert list(queue.get_history()) == ["a", "c"]
    queue.wipe_history()
    assert queue.get_history() == {}


def test_history_snapshot_is_a_shallow_copy(queue: PromptQueue) -> None:
    finish(queue, "a")
    snap = queue.history_snapshot()
    queue.wipe_history()
    assert list(snap) == ["a"]


# ---- flags ---------------------------------------------------------------------------------
def test_flags_are_taken_once(queue: PromptQueue) -> None:
    queue.set_flag(WorkerFlag.UNLOAD_MODELS, True)
    queue.set_flag(WorkerFlag.FREE_MEMORY, True)
    assert queue.take_flags() == {WorkerFlag.UNLOAD_MODELS: True, WorkerFlag.FREE_MEMORY: True}
    assert queue.take_flags() == {}
