"""The prompt worker: takes prompts from the queue and runs them, one at a time, like ComfyUI's.

After each prompt it records history (then the queue broadcasts ``status``) and only then sends
``executing`` with ``node: null``, so clients that wait for that message find the history.

Two ways to run, same behaviour: a thread (ComfyUI's way; needed when nodes spend configured
time, so the server keeps answering - and hears interrupts - while a node "works"), or inline
on the event loop when every node is instant: no thread hand-offs, so a prompt's events reach
the client sooner.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from fakecomfy import protocol
from fakecomfy.core.queue import Completion, PromptQueue, QueueItem
from fakecomfy.executors.base import Executor, Reporter

log = logging.getLogger("fakecomfy")


class PromptWorker:
    def __init__(self, queue: PromptQueue, executor: Executor, reporter: Reporter) -> None:
        self.queue = queue
        self.executor = executor
        self.reporter = reporter
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    # ---- threaded -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fakecomfy-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self.queue.get(timeout=1.0)
            if got is not None:
                self.run_one(*got)
            self.apply_flags()

    # ---- inline ---------------------------------------------------------------------------
    def start_inline(self) -> None:
        """Run as a task of the running event loop (call from it)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._task = self._loop.create_task(self._run_inline())

    def wake(self) -> None:
        """The queue or its flags changed (from any thread)."""
        if self._wake is None or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run_inline(self) -> None:
        assert self._wake is not None
        while not self._stop.is_set():
            self._wake.clear()
            got = self.queue.get(timeout=0)
            if got is not None:
                self.run_one(*got)
                self.apply_flags()
                if not self.queue.is_idle():
                    await asyncio.sleep(0)  # let requests in between prompts
                continue
            self.apply_flags()
            await self._wake.wait()  # the queue and its flags wake us (no polling)

    # ---- both -----------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self.queue.set_flag("_stop", True)  # wakes a threaded worker
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._task is not None:
            self.wake()
            self._task.cancel()
            self._task = None

    def run_one(self, task_id: int, item: QueueItem) -> None:
        try:
            completion = self.executor.execute(item, self.reporter)
        except Exception:  # a bug in the engine must not kill the worker
            log.exception("executor failed on prompt %s", item.prompt_id)
            completion = Completion("error", False, [], {}, {})
        self.queue.task_done(task_id, completion)
        if item.client_id is not None:
            self.reporter.send(protocol.EV_EXECUTING, {"node": None, "prompt_id": item.prompt_id},
                               item.client_id)

    def apply_flags(self) -> None:
        flags = self.queue.take_flags()
        free_memory = bool(flags.get("free_memory", False))
        if flags.get("unload_models", free_memory) or free_memory:
            self.executor.free(unload_models=bool(flags.get("unload_models", free_memory)),
                               free_memory=free_memory)
