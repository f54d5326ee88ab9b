"""The prompt worker: takes prompts from the queue and runs them, one at a time, on its own
thread, like ComfyUI's. However heavy a prompt, the event loop keeps answering requests and each
event leaves when it happens.

After each prompt it records history (then the queue broadcasts ``status``) and only then sends
``executing`` with ``node: null``, so clients that wait for that message find the history.
"""
from __future__ import annotations

import logging
import threading

from fakecomfy import protocol
from fakecomfy.core.execution import Completion, Executor, QueueItem, Reporter, WorkerDied
from fakecomfy.core.gate import Gate, Unit
from fakecomfy.core.queue import PromptQueue, WorkerFlag
from fakecomfy.protocol import HistoryStatus

log = logging.getLogger("fakecomfy")


class PromptWorker:
    def __init__(self, queue: PromptQueue, executor: Executor, reporter: Reporter, gate: Gate | None = None) -> None:
        self.queue = queue
        self.executor = executor
        self.reporter = reporter
        self.gate = gate or Gate()
        self._stop = threading.Event()
        self._revive = threading.Condition()
        self._revivals = 0  # revive() calls so far: a death waits for the next one
        self.dead = False  # a worker_death fault struck: no prompt is taken until revive()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fakecomfy-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # A paused worker waits at the boundary before the next prompt (prompt_id None: none
            # queued yet), leaving it pending; once let through it takes the next one that comes.
            passed = self._prompt_checkpoint()
            if not self.queue.wait_pending(timeout=1.0):
                self.apply_flags()  # POST /free's flags are applied while idle, like real
                continue
            if not passed:
                self._prompt_checkpoint()
            got = self.queue.get(timeout=0)
            if got is not None:
                self.run_one(*got)
            self.apply_flags()

    def _prompt_checkpoint(self) -> bool:
        if not self.gate.paused:
            return False
        upcoming = self.queue.peek()
        self.gate.checkpoint(Unit.PROMPT, {"prompt_id": upcoming.prompt_id if upcoming else None})
        return True

    def revive(self) -> None:
        """A dead worker finishes the prompt it died on (as an error) and takes prompts again."""
        with self._revive:
            self._revivals += 1
            self._revive.notify_all()

    def _die(self, item: QueueItem) -> Completion:
        """Stay dead, like real's worker thread after an uncaught error: the prompt stays
        running and nothing more is taken, ``/interrupt`` included, until revive() or stop().
        A warning, not an error: the test asked for it."""
        log.warning("the prompt worker died on prompt %s (a worker_death fault)", item.prompt_id)
        self.reporter.flush()
        with self._revive:
            seen = self._revivals
            self.dead = True
            self._revive.wait_for(lambda: self._revivals != seen or self._stop.is_set())
            self.dead = False
        return Completion(HistoryStatus.ERROR, False, [], {}, {})

    def stop(self) -> None:
        self._stop.set()
        self.revive()
        self.gate.resume()
        self.queue.close()  # wakes the worker if it waits for a prompt
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_one(self, task_id: int, item: QueueItem) -> None:
        try:
            completion = self.executor.execute(item, self.reporter)
        except WorkerDied:
            completion = self._die(item)
        except Exception:  # a bug in the engine must not kill the worker
            log.exception("executor failed on prompt %s", item.prompt_id)
            completion = Completion(HistoryStatus.ERROR, False, [], {}, {})
        self.queue.task_done(task_id, completion)
        if item.client_id is not None:
            self.reporter.send(protocol.EV_EXECUTING, {"node": None, "prompt_id": item.prompt_id},
                               item.client_id)
        self.reporter.flush()

    def apply_flags(self) -> None:
        flags = self.queue.take_flags()
        free_memory = bool(flags.get(WorkerFlag.FREE_MEMORY, False))
        unload_models = bool(flags.get(WorkerFlag.UNLOAD_MODELS, free_memory))
        if unload_models or free_memory:
            self.executor.free(unload_models=unload_models, free_memory=free_memory)
