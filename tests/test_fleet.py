"""``fakecomfy fleet`` (fakecomfy/fleet.py): instance specs, and real fleets of ``fakecomfy serve``
processes started, listed, and stopped together with nothing left behind."""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from fakecomfy.fleet import InstanceSpec, expand, parse_instance, serve_command

pytestmark = pytest.mark.fake_only

LISTED = re.compile(r"^fakecomfy fleet: (http://\S+) (\S+) \((.*)\)$")


@pytest.mark.parametrize(("text", "expected"), [
    ("rtx4090", InstanceSpec("rtx4090")),
    ("rtx4090x2", InstanceSpec("rtx4090", 2)),
    ("rtx3070-8gb:slow", InstanceSpec("rtx3070-8gb", 1, "slow")),
    ("a100-80gbx3:flaky", InstanceSpec("a100-80gb", 3, "flaky")),
    ("none", InstanceSpec(None)),
    ("defaultx2:oom", InstanceSpec(None, 2, "oom")),
    ("4090x2", InstanceSpec("4090", 2)),
    ("cards/mine.json:faults/mine.json", InstanceSpec("cards/mine.json", 1, "faults/mine.json")),
    ("cards/mine.jsonx2", InstanceSpec("cards/mine.json", 2)),
])
def test_an_instance_spec_is_profile_count_and_fault_profile(text: str, expected: InstanceSpec) -> None:
    assert parse_instance(text) == expected


def test_a_count_is_split_off_only_where_the_whole_is_not_a_profile() -> None:
    assert parse_instance("cardx3", known=lambda name: name == "cardx3") == InstanceSpec("cardx3")
    assert parse_instance("cardx3", known=lambda name: False) == InstanceSpec("card", 3)


@pytest.mark.parametrize("text", ["", ":slow", "rtx4090:", "rtx4090x0"])
def test_a_malformed_instance_spec_says_the_expected_shape(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected PROFILE\[xN\]\[:FAULTPROFILE\]"):
        parse_instance(text)


def test_instances_are_numbered_and_named_for_their_profiles() -> None:
    specs = [parse_instance(t) for t in ("rtx4090x2", "rtx3070-8gb:slow", "none", "cards/my card.json")]
    assert [name for name, _ in expand(specs)] == ["1-rtx4090", "2-rtx4090", "3-rtx3070-8gb-slow", "4-default",
                                                   "5-my_card"]


def test_an_instance_runs_serve_with_its_own_port_directory_and_profiles(tmp_path: Path) -> None:
    command = serve_command(parse_instance("rtx4090:slow"), 8190, tmp_path / "1-rtx4090-slow", ["--quiet"])
    assert command[:5] == [sys.executable, "-m", "fakecomfy", "serve", "--quiet"]
    assert command[5:] == ["--port", "8190", "--base-directory", str(tmp_path / "1-rtx4090-slow"),
                           "--populate-defaults", "--device-profile", "rtx4090", "--fault-profile", "slow"]
    assert "--device-profile" not in serve_command(parse_instance("none"), 8188, tmp_path, [])


# ---- real fleets -----------------------------------------------------------------------------------
def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports nobody listens on now."""
    for _ in range(100):
        first = random.randrange(20000, 60000 - count)
        with ExitStack() as held:
            try:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line holds ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


class RunningFleet:
    def __init__(self, base: Path, instances: list[str], port: int, *extra: str) -> None:
        self.base = base
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fakecomfy", "fleet", *(f"--instance={i}" for i in instances), "--port",
             str(port), "--base-directory", str(base), "--quiet", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []

    def listed(self, timeout: float = 30.0) -> list[tuple[str, str, str]]:
        """The fleet's instance lines, once it says all are running."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "fakes running" in line or time.monotonic() > deadline:
                break
        return [m.groups() for m in map(LISTED.match, self.lines) if m]  # type: ignore[misc]

    def finish(self, timeout: float = 20.0) -> int:
        out, _ = self.process.communicate(timeout=timeout)
        self.lines += out.splitlines()
        return self.process.returncode


@pytest.fixture
def fleet_base(tmp_path: Path) -> Iterator[Path]:
    base = tmp_path / "fleet"
    yield base
    for pid in processes_mentioning(str(base)):  # never leave a stray server to the next test
        os.kill(pid, signal.SIGKILL)


def test_a_fleet_runs_each_instance_on_its_port_and_stops_them_all(fleet_base: Path) -> None:
    port = consecutive_free_ports(3)
    fleet = RunningFleet(fleet_base, ["nonex2", "none:slow"], port)
    listed = fleet.listed()
    assert listed == [(f"http://127.0.0.1:{port}", "1-default", "no simulated device"),
                      (f"http://127.0.0.1:{port + 1}", "2-default", "no simulated device"),
                      (f"http://127.0.0.1:{port + 2}", "3-default-slow", "no simulated device; fault profile slow")]
    for url, name, _ in listed:
        assert httpx.get(url + "/system_stats").status_code == 200
        assert (fleet_base / name / "input" / "example.png").is_file()
    faults = [httpx.get(url + "/_fakecomfy/faults").json()["faults"] for url, _, _ in listed]
    assert faults[:2] == [[], []] and [(f["id"], f["kind"]) for f in faults[2]] == [("slow-1", "slow")]
    assert len(processes_mentioning(str(fleet_base))) == 4  # the fleet and its three servers
    fleet.process.send_signal(signal.SIGTERM)
    assert fleet.finish() == 0
    assert processes_mentioning(str(fleet_base)) == []
    for url, _, _ in listed:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/system_stats")


def test_when_an_instance_dies_the_fleet_stops_the_others_and_fails(fleet_base: Path) -> None:
    fleet = RunningFleet(fleet_base, ["nonex2"], consecutive_free_ports(2))
    assert len(fleet.listed()) == 2
    [victim] = processes_mentioning(str(fleet_base / "2-default"))
    os.kill(victim, signal.SIGKILL)
    assert fleet.finish() == 1
    assert "fakecomfy fleet: 2-default exited with status -9; stopping the others" in fleet.lines
    assert processes_mentioning(str(fleet_base)) == []


def test_a_taken_port_stops_the_fleet_at_start(fleet_base: Path) -> None:
    port = consecutive_free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + 1))
        taken.listen()
        fleet = RunningFleet(fleet_base, ["nonex2"], port)
        assert fleet.finish() == 1
    assert f"[2-default] fakecomfy: cannot listen on 127.0.0.1 port {port + 1}: Address already in use" in fleet.lines
    assert "fakecomfy fleet: 2-default exited with status 1 before it was listening; stopping the others" in fleet.lines
    assert processes_mentioning(str(fleet_base)) == []


def test_the_servers_die_with_a_killed_fleet(fleet_base: Path) -> None:
    fleet = RunningFleet(fleet_base, ["none"], 0)
    assert len(fleet.listed()) == 1 and len(processes_mentioning(str(fleet_base))) == 2
    fleet.process.kill()
    fleet.finish()
    deadline = time.monotonic() + 10
    while processes_mentioning(str(fleet_base)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(str(fleet_base)) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--instance", "rtx4090:nope"], "fakecomfy fleet: unknown fault profile 'nope'; shipped: flaky"),
    (["--instance", "rtx4090", "--instance", ":slow"], "fakecomfy fleet: expected PROFILE[xN][:FAULTPROFILE]"),
    (["--instance", "gtx1080x2"], "fakecomfy fleet: unknown device profile 'gtx1080'; shipped: "),
    (["--instance", "none", "--fault-profile", "slow"],
     "fakecomfy fleet: --fault-profile is per instance: --instance PROFILE[xN][:FAULTS]"),
    (["--instance", "none", "--no-such-flag"], "error: unrecognized arguments: --no-such-flag"),
])
def test_a_bad_fleet_command_starts_nothing(fleet_base: Path, args: list[str], expected: str) -> None:
    out = subprocess.run([sys.executable, "-m", "fakecomfy", "fleet", "--base-directory", str(fleet_base), *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and expected in out.stderr and "Traceback" not in out.stderr
    assert not fleet_base.exists()
