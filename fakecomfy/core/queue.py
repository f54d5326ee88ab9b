"""The prompt queue and the history it feeds, with ComfyUI's ordering and bounds.

Thread-safe: routes (event loop thread) put and inspect, the worker thread takes and completes.
``on_change`` is called (outside the lock) whenever ComfyUI would broadcast a ``status``.
"""
from __future__ import annotations

import collections
import copy
import enum
import heapq
import threading
from collections.abc import Callable
from typing import Any

from fakecomfy.core.execution import Completion, QueueItem

# ComfyUI drops the oldest history entry only once it holds *more* than this many, so a full
# history keeps MAX_HISTORY + 1 entries (real checks ``len > MAXIMUM_HISTORY_SIZE``).
MAX_HISTORY = 10_000


class WorkerFlag(enum.Enum):
    """What the worker is asked to do while idle: ComfyUI's flags, set by ``POST /free``."""

    UNLOAD_MODELS = "unload_models"
    FREE_MEMORY = "free_memory"


class PromptQueue:
    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        # Held with the C lock itself (a Condition's own ``with`` costs two Python calls).
        self._mutex = threading.RLock()
        self._changed = threading.Condition(self._mutex)
        self._pending: list[QueueItem] = []
        self._running: dict[int, QueueItem] = {}
        self._task_counter = 0
        # Ordered by insertion like real's dict; an OrderedDict drops its oldest entry in O(1),
        # where a dict rescans the holes its earlier deletions left at the front (~7 µs at 10 000).
        self.history: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._flags: dict[WorkerFlag, Any] = {}
        self._closed = False  # the worker is stopping: get() returns at once
        self.on_change = on_change or (lambda: None)
        # Server-wide prompt number counter (POST /prompt without "number").
        self._number = 0

    # ---- numbering ------------------------------------------------------------------------
    def next_number(self) -> int:
        with self._mutex:
            n = self._number
            self._number += 1
            return n

    # ---- queue ----------------------------------------------------------------------------
    def put(self, item: QueueItem) -> None:
        with self._mutex:
            heapq.heappush(self._pending, item)
            self._changed.notify_all()
        self.on_change()

    def get(self, timeout: float | None = None) -> tuple[int, QueueItem] | None:
        """Block until an item is pending; it becomes running. None on timeout, when flags
        were set (the worker applies them while idle, like real) or once the queue is closed."""
        with self._mutex:
            if not self._pending and not self._flags and not self._closed and timeout != 0:
                self._changed.wait_for(lambda: bool(self._pending or self._flags) or self._closed, timeout)
            if not self._pending or self._closed:
                return None
            item = heapq.heappop(self._pending)
            task_id = self._task_counter
            self._task_counter += 1
            self._running[task_id] = item
        self.on_change()
        return task_id, item

    def wait_pending(self, timeout: float) -> bool:
        """Wait until a prompt is pending (True), or flags are set, the queue closes or the time
        is up (False); takes nothing."""
        with self._mutex:
            if not self._pending and not self._flags and not self._closed:
                self._changed.wait_for(lambda: bool(self._pending or self._flags) or self._closed, timeout)
            return bool(self._pending) and not self._closed

    def peek(self) -> QueueItem | None:
        """The prompt that runs next, if any."""
        with self._mutex:
            return self._pending[0] if self._pending else None

    def task_done(self, task_id: int, completion: Completion) -> None:
        """Record the history entry, then drop the running item (history first: clients rely on it)."""
        with self._mutex:
            item = self._running[task_id]
            if len(self.history) > MAX_HISTORY:
                self.history.popitem(last=False)
            self.history[item.prompt_id] = {
                "prompt": item.as_list(),
                "outputs": completion.outputs,
                "status": {"status_str": completion.status.value, "completed": completion.completed,
                           "messages": completion.messages},
                "meta": completion.meta,
            }
            self._running.pop(task_id)
        self.on_change()

    def current(self) -> tuple[list[QueueItem], list[QueueItem]]:
        """(running, pending) snapshots; pending in raw heap array order like real."""
        with self._mutex:
            return list(self._running.values()), list(self._pending)

    def remaining(self) -> int:
        with self._mutex:
            return len(self._pending) + len(self._running)

    def is_idle(self) -> bool:
        return self.remaining() == 0

    def reset(self) -> None:
        """A fresh queue: nothing pending, no history, no flags, numbering from 0 again (no
        status broadcast: this is the control plane's reset, not a client's request). Items
        still running stay until their worker finishes them."""
        with self._mutex:
            self._pending.clear()
            self.history.clear()
            self._flags.clear()
            self._number = 0
            self._changed.notify_all()

    def wipe(self) -> None:
        with self._mutex:
            self._pending.clear()
        self.on_change()

    def delete(self, prompt_id: str) -> bool:
        """Remove the first pending item with this id; running items are never touched.

        Removing the last pending item notifies twice: real wipes the queue (one broadcast)
        and then broadcasts again.
        """
        with self._mutex:
            for i, item in enumerate(self._pending):
                if item.prompt_id == prompt_id:
                    was_last = len(self._pending) == 1
                    self._pending.pop(i)
                    heapq.heapify(self._pending)
                    break
            else:
                return False
        if was_last:
            self.on_change()
        self.on_change()
        return True

    # ---- history --------------------------------------------------------------------------
    def get_history(self, prompt_id: str | None = None, max_items: int | None = None,
                    offset: int = -1) -> dict[str, Any]:
        with self._mutex:
            if prompt_id is not None:
                entry = self.history.get(prompt_id)
                return {prompt_id: copy.deepcopy(entry)} if entry is not None else {}
            if offset < 0 and max_items is not None:
                offset = len(self.history) - max_items
            out: dict[str, Any] = {}
            for i, key in enumerate(self.history):
                if i >= offset:
                    out[key] = self.history[key]
                    if max_items is not None and len(out) >= max_items:
                        break
            return copy.deepcopy(out)

    def history_snapshot(self) -> dict[str, dict[str, Any]]:
        """A shallow copy of the whole history, oldest first (entries are never mutated)."""
        with self._mutex:
            return dict(self.history)

    def delete_history(self, prompt_id: str) -> None:
        with self._mutex:
            self.history.pop(prompt_id, None)

    def wipe_history(self) -> None:
        with self._mutex:
            self.history.clear()

    # ---- the worker's flags (POST /free) and its stop ---------------------------------------
    def set_flag(self, flag: WorkerFlag, value: Any) -> None:
        with self._mutex:
            self._flags[flag] = value
            self._changed.notify_all()  # an idle worker looks

    def take_flags(self) -> dict[WorkerFlag, Any]:
        with self._mutex:
            flags, self._flags = self._flags, {}
            return flags

    def close(self) -> None:
        """Release a waiting worker for good: from now on get() returns None at once."""
        with self._mutex:
            self._closed = True
            self._changed.notify_all()
