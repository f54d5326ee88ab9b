"""``fakecomfy fleet``: several fakes on consecutive ports, each a ``fakecomfy serve`` process of
its own (a server's state is process-wide) with its own device profile, base directory and
fault profile; started, listed and stopped together.

An instance is ``PROFILE[xN][:FAULTS]``: ``rtx4090x2`` is two RTX 4090 fakes,
``rtx3070-8gb:slow`` one 8 GB card with the ``slow`` fault profile, ``none`` (or ``default``)
a fake with no simulated device.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

NO_DEVICE = ("none", "default")
# The line `fakecomfy serve` prints once it listens (fakecomfy.cli.serve).
RUNNING = re.compile(r"^fakecomfy running at (\S+)$")
_COUNT = re.compile(r"^(?P<profile>.+?)x(?P<count>\d+)$")
# A fleet's instances take their profiles from their specs, not from the fleet's environment.
_PER_INSTANCE_ENV = ("FAKECOMFY_DEVICE_PROFILE", "FAKECOMFY_FAULT_PROFILE", "FAKECOMFY_PORT",
                     "FAKECOMFY_BASE_DIRECTORY")
STOP_GRACE = 10.0  # seconds a stopped instance gets to shut down before it is killed


class FleetError(Exception):
    """The fleet could not start or lost an instance (the message says which and why)."""


@dataclass(frozen=True)
class InstanceSpec:
    """One ``--instance``: a device profile (None: no simulated device), how many, a fault profile."""

    device_profile: str | None
    count: int = 1
    fault_profile: str | None = None

    @property
    def name(self) -> str:
        """A directory-safe name: the profile's (a file's stem), then the fault profile's."""
        parts = [_stem(self.device_profile) if self.device_profile else "default"]
        if self.fault_profile:
            parts.append(_stem(self.fault_profile))
        return "-".join(parts)

    def describe(self) -> str:
        device = f"device profile {self.device_profile}" if self.device_profile else "no simulated device"
        return device + (f"; fault profile {self.fault_profile}" if self.fault_profile else "")


def _stem(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(value).stem if value.endswith(".json") else value)


def is_device_profile(name: str) -> bool:
    """Whether ``name`` is a shipped device profile, an alias of one, or a profile file."""
    from fakecomfy.core.gpu_profiles import ProfileError, load

    try:
        load(name)
    except ProfileError:
        return False
    return True


def parse_instance(text: str, known: Callable[[str], bool] = is_device_profile) -> InstanceSpec:
    """``PROFILE[xN][:FAULTPROFILE]`` as an :class:`InstanceSpec`; ValueError says what is wrong.
    ``rtx4090`` is one RTX 4090, not 4090 ``rt``: a trailing ``xN`` is a count only where the
    whole is not a profile (``known``)."""
    device, _, faults = text.partition(":")
    count = 1
    match = _COUNT.match(device)
    if match and not known(device):
        device, count = match["profile"], int(match["count"])
    if not device or count < 1 or (faults == "" and text.endswith(":")):
        raise ValueError(f"expected PROFILE[xN][:FAULTPROFILE] (e.g. rtx4090x2, rtx3070-8gb:slow), got {text!r}")
    return InstanceSpec(None if device.lower() in NO_DEVICE else device, count, faults or None)


def expand(specs: Sequence[InstanceSpec]) -> list[tuple[str, InstanceSpec]]:
    """Each fake of the fleet as (``<n>-<name>``, its spec), numbered from 1 in order."""
    fakes = [spec for spec in specs for _ in range(spec.count)]
    return [(f"{number}-{spec.name}", spec) for number, spec in enumerate(fakes, 1)]


@dataclass
class Instance:
    """One running fake: its ``fakecomfy serve`` process and, once it listens, its URL."""

    name: str
    spec: InstanceSpec
    port: int
    base: Path
    process: subprocess.Popen[str]
    url: str | None = None
    listening: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def ended(self) -> bool:
        """Whether its process has exited; its output is all forwarded once this says so."""
        if self.process.poll() is None:
            return False
        if self.reader is not None:
            self.reader.join(timeout=2)
        return True


def serve_command(spec: InstanceSpec, port: int, base: Path, serve_args: Sequence[str]) -> list[str]:
    """The ``python -m fakecomfy serve`` command of one instance."""
    command = [sys.executable, "-m", "fakecomfy", "serve", *serve_args, "--port", str(port),
               "--base-directory", str(base), "--populate-defaults"]
    if spec.device_profile:
        command += ["--device-profile", spec.device_profile]
    if spec.fault_profile:
        command += ["--fault-profile", spec.fault_profile]
    return command


class Fleet:
    """Start with :meth:`start`, then :meth:`wait` until an instance ends; :meth:`stop` always."""

    def __init__(self, specs: Sequence[InstanceSpec], port: int = 8188, base_directory: Path | None = None,
                 serve_args: Sequence[str] = (), out: IO[str] | None = None) -> None:
        self.specs = list(specs)
        self.port = port
        self.base_directory = base_directory
        self.serve_args = list(serve_args)
        self.out = out or sys.stdout
        self.instances: list[Instance] = []
        self._owned_base: Path | None = None
        self._print_lock = threading.Lock()

    def say(self, line: str) -> None:
        # a closed pipe (`fakecomfy fleet ... | head`) stops nothing
        with self._print_lock, contextlib.suppress(OSError, ValueError):
            print(line, file=self.out, flush=True)

    def start(self, timeout: float = 120.0) -> list[Instance]:
        """Start every instance and return once all listen; FleetError if one does not."""
        root = self.base_directory
        if root is None:
            root = self._owned_base = Path(tempfile.mkdtemp(prefix="fakecomfy-fleet-"))
        env = {k: v for k, v in os.environ.items() if k not in _PER_INSTANCE_ENV}
        # every process is started before any reader thread: a fork with threads about is unsafe
        for offset, (name, spec) in enumerate(expand(self.specs)):
            port = self.port + offset if self.port else 0
            base = root / name
            process = subprocess.Popen(serve_command(spec, port, base, self.serve_args), env=env, text=True,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       bufsize=1, start_new_session=True, preexec_fn=_dies_with_parent())
            self.instances.append(Instance(name, spec, port, base, process))
        for instance in self.instances:
            instance.reader = threading.Thread(target=self._forward, args=(instance,), daemon=True,
                                               name=f"fakecomfy-fleet-{instance.name}")
            instance.reader.start()
        deadline = time.monotonic() + timeout
        for instance in self.instances:
            while not instance.listening.wait(0.05):
                if instance.ended():
                    raise FleetError(f"{instance.name} exited with status {instance.process.returncode} "
                                     "before it was listening")
                if time.monotonic() > deadline:
                    raise FleetError(f"{instance.name} was not listening after {timeout:g} s")
        return self.instances

    def _forward(self, instance: Instance) -> None:
        """The instance's output, each line prefixed with its name; notes its URL."""
        assert instance.process.stdout is not None
        for line in instance.process.stdout:
            line = line.rstrip("\n")
            match = RUNNING.match(line)
            if match and instance.url is None:
                instance.url = match[1]
                instance.listening.set()
            self.say(f"[{instance.name}] {line}")

    def wait(self) -> Instance:
        """Until an instance ends: that instance."""
        while True:
            for instance in self.instances:
                if instance.ended():
                    return instance
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every instance together (SIGTERM, then SIGKILL after STOP_GRACE) and remove the
        fleet's own temporary directory."""
        alive = [i.process for i in self.instances if i.process.poll() is None]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process in alive:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for instance in self.instances:
            if instance.reader is not None:
                instance.reader.join(timeout=2)
        if self._owned_base is not None:
            shutil.rmtree(self._owned_base, ignore_errors=True)


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, a child that gets SIGTERM when the fleet process dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def arm() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the fleet died before the signal was armed
            os._exit(1)

    return arm


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_fleet(fleet: Fleet) -> int:
    """Start the fleet, print one line per instance, run until Ctrl-C / SIGTERM (0) or until an
    instance ends (1); every instance is stopped either way. Call from the main thread."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        fleet.start()
        for instance in fleet.instances:
            fleet.say(f"fakecomfy fleet: {instance.url} {instance.name} ({instance.spec.describe()})")
        fleet.say(f"fakecomfy fleet: {len(fleet.instances)} fakes running; Ctrl-C stops them all")
        ended = fleet.wait()
        fleet.say(f"fakecomfy fleet: {ended.name} exited with status {ended.process.returncode}; "
                  "stopping the others")
        return 1
    except FleetError as exc:
        fleet.say(f"fakecomfy fleet: {exc}; stopping the others")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # a second Ctrl-C must not cut the stop short and leave instances behind
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        fleet.stop()
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, previous)


__all__ = ["NO_DEVICE", "RUNNING", "STOP_GRACE", "Fleet", "FleetError", "Instance", "InstanceSpec", "expand",
           "is_device_profile", "parse_instance", "run_fleet", "serve_command"]
