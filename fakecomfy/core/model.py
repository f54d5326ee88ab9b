"""The whole fake server as plain objects: what routes call into, what the control plane resets."""
from __future__ import annotations

import time
from collections.abc import Callable

from fakecomfy import protocol
from fakecomfy.core import gpu_profiles
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.execution import ExecutionEnv, Executor, InterruptFlag, Reporter
from fakecomfy.core.fault_profiles import FaultProfile, load_fault_profile
from fakecomfy.core.files import FileStore
from fakecomfy.core.gpu import SimulatedDevice
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.queue import PromptQueue
from fakecomfy.core.snapshot import DirectorySnapshot
from fakecomfy.core.users import UserManager
from fakecomfy.core.validation import ValidationError, error
from fakecomfy.core.validation.validator import InjectedErrors
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
        # faults in force from the start and put back by reset() (--fault-profile); a bad one
        # stops the server before it creates anything
        self.fault_profile: FaultProfile | None = None
        if settings.fault_profile:
            self.fault_profile = load_fault_profile(settings.fault_profile)
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
        self._start_profile = settings.device_profile
        self.set_device_profile(settings.device_profile)
        self.worker: PromptWorker | None = None
        # reset() puts these back: the type directories' and userdata's files, the node times
        self._snapshots = [DirectorySnapshot(p) for p in (paths.input, paths.output, paths.temp, paths.user)]
        self._node_times = dict(settings.node_times)
        # puts files the server itself created at start back (the default directory's example
        # image, stand-in models) when a test changed or removed them; set by the app
        self.refill: Callable[[], None] | None = None
        self._add_profile_faults()

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self, reporter: Reporter) -> None:
        """Attach the event reporter and start the prompt worker's thread."""
        self.reporter = reporter
        if self.worker is None:
            self.worker = PromptWorker(self.queue, self.executor, reporter, self.env.gate)
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def reset(self, timeout: float = 10.0) -> None:
        """Back to how the server started, its connections kept: no queue, history, cache,
        faults (but the fault profile's, fresh), seed or pause; the files of input/, output/,
        temp/ and user/ and the node times as at start. A running prompt is interrupted and
        waited for (``timeout``)."""
        env = self.env
        env.gate.resume()
        env.faults.clear()
        env.faults.seed(None)
        env.ids.seed(None)
        self.queue.reset()
        if self.worker is not None:
            self.worker.revive()  # a worker a fault killed comes back
        if not self.queue.is_idle():
            self.interrupt.set()
            deadline = time.monotonic() + timeout
            while not self.queue.is_idle() and time.monotonic() < deadline:
                time.sleep(0.001)
        self.queue.reset()  # the interrupted prompt's history entry, had it one
        self.executor.free(unload_models=True, free_memory=True)
        self.interrupt.clear()
        for snapshot in self._snapshots:
            snapshot.restore()
        if self.refill is not None:
            self.refill()
        self.files.forget_counters()
        self.set_device_profile(self._start_profile)  # a fresh card, every model cold
        self.settings.node_times.clear()
        self.settings.node_times.update(self._node_times)
        self._add_profile_faults()

    def set_device_profile(self, profile: str | None) -> None:
        """Simulate this GPU from now on (a profile's name or file; None: no simulated device,
        instant nodes). /system_stats reports it instead of the executor's own devices."""
        if profile is None:
            self.env.gpu = None
            return
        s = self.settings
        self.env.gpu = SimulatedDevice(gpu_profiles.load(profile), lowvram=s.lowvram, novram=s.novram,
                                       highvram=s.highvram, gpu_only=s.gpu_only, reserve_vram_gb=s.reserve_vram,
                                       time_scale=s.device_time_scale)

    def _add_profile_faults(self) -> None:
        if self.fault_profile is not None:
            for fault in self.fault_profile.faults():
                self.env.faults.add(fault)

    # ---- operations routes call ---------------------------------------------------------------
    def interrupt_prompt(self, prompt_id: str | None = None) -> None:
        """Global interrupt, or only when ``prompt_id`` is the running prompt."""
        if prompt_id:
            running, _ = self.queue.current()
            if not any(item.prompt_id == prompt_id for item in running):
                return
        self.interrupt.set()

    def injected_validation_errors(self) -> InjectedErrors | None:
        """The validation errors injected faults add to a prompt's nodes (None: no such fault)."""
        faults = self.env.faults
        if not faults.any_validation:
            return None

        def errors(node_id: str, class_type: str) -> list[ValidationError]:
            fault = faults.take_validation(node_id, class_type)
            if fault is None:
                return []
            found = error(protocol.ERR_CUSTOM_VALIDATION_FAILED, protocol.MSG_CUSTOM_VALIDATION_FAILED, fault.message)
            found.update(fault.error)  # type: ignore[typeddict-item]
            return [found]

        return errors

    def _queue_changed(self) -> None:
        status = {"status": {"exec_info": {"queue_remaining": self.queue.remaining()}}}
        self.reporter.send(protocol.EV_STATUS, status, None)
