"""The whole fake server as plain objects: what routes call into, what the control plane resets."""
from __future__ import annotations

from collections.abc import Callable

from fakecomfy import protocol
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.execution import ExecutionEnv, Executor, InterruptFlag, Reporter
from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.queue import PromptQueue
from fakecomfy.core.users import UserManager
from fakecomfy.core.worker import PromptWorker
from fakecomfy.settings import Settings

ExecutorFactory = Callable[[ExecutionEnv], Executor]


class _NoReporter:
    """Until a reporter (the WebSocket hub) is attached, events go nowhere."""

    def send(self, event: str, data: dict[str, object], sid: str | None) -> None:
        pass

    def send_preview(self, preview: object, metadata: dict[str, object], sid: str | None) -> None:
        pass

    def supports_preview_metadata(self, sid: str | None) -> bool:
        return False

    def flush(self) -> None:
        pass


class ComfyModel:
    """One server's state. Knows nothing about HTTP, nor which executor it runs: the
    composition root (``fakecomfy.app``) passes a factory that builds one for its services."""

    def __init__(self, settings: Settings, paths: FolderPaths, make_executor: ExecutorFactory) -> None:
        self.settings = settings
        self.paths = paths
        paths.create_dirs()
        self.catalog = NodeCatalog(paths, settings.object_info_files)
        self.files = FileStore(paths)
        self.users = UserManager(paths.user, multi_user=settings.multi_user)
        self.reporter: Reporter = _NoReporter()
        self.queue = PromptQueue(on_change=self._queue_changed)
        self.interrupt = InterruptFlag()
        self.env = ExecutionEnv(settings=settings, files=self.files, catalog=self.catalog,
                                interrupt=self.interrupt)
        self.executor = make_executor(self.env)
        self.worker: PromptWorker | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self, reporter: Reporter) -> None:
        """Attach the event reporter and start the prompt worker's thread."""
        self.reporter = reporter
        if self.worker is None:
            self.worker = PromptWorker(self.queue, self.executor, reporter)
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    # ---- operations routes call ---------------------------------------------------------------
    def interrupt_prompt(self, prompt_id: str | None = None) -> None:
        """Global interrupt, or only when ``prompt_id`` is the running prompt."""
        if prompt_id:
            running, _ = self.queue.current()
            if not any(item.prompt_id == prompt_id for item in running):
                return
        self.interrupt.set()

    def _queue_changed(self) -> None:
        status = {"status": {"exec_info": {"queue_remaining": self.queue.remaining()}}}
        self.reporter.send(protocol.EV_STATUS, status, None)
