"""Fault profiles (fakecomfy/core/fault_profiles.py): the shipped ones load, a server holds a
profile's faults from its start and again, unfired, after every reset, and a bad profile stops
``fakecomfy serve`` with one line."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fakecomfy.core.fault_profiles import FaultProfileError, load_fault_profile, shipped_fault_profiles
from fakecomfy.core.faults import OOM_TYPE, FaultKind
from fakecomfy.settings import Settings
from fakecomfy.testing import FakeComfy
from tests.workflows import txt2img

pytestmark = pytest.mark.fake_only

SAMPLERS = {"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_documented_profiles_are_shipped() -> None:
    assert shipped_fault_profiles() == ["flaky", "hang", "oom", "slow", "unreliable"]


@pytest.mark.parametrize("name", shipped_fault_profiles())
def test_a_shipped_profile_loads_with_a_description(name: str) -> None:
    profile = load_fault_profile(name)
    assert profile.name == name and profile.description
    faults = profile.faults()
    assert faults and [f.id for f in faults] == [f"{name}-{n}" for n in range(1, len(faults) + 1)]
    assert all(f.times is None for f in faults), "a profile's faults strike for the server's whole life"


@pytest.mark.parametrize(("name", "kind"), [("flaky", FaultKind.RAISE), ("oom", FaultKind.OOM),
                                             ("hang", FaultKind.HANG)])
def test_a_failing_profile_strikes_every_sampler_sometimes(name: str, kind: FaultKind) -> None:
    faults = load_fault_profile(name).faults()
    assert {f.node_class for f in faults} == SAMPLERS
    assert all(f.kind is kind and 0 < f.probability < 1 for f in faults)


def test_a_file_may_be_a_bare_list_of_faults(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.json", [{"kind": "oom", "node_class": "KSampler"}, {"kind": "slow", "seconds": 1,
                                                                                      "id": "named"}])
    profile = load_fault_profile(str(path))
    assert profile.name == "mine" and [f.id for f in profile.faults()] == ["mine-1", "named"]


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(None, "unknown fault profile 'nope'; shipped: flaky, hang, oom, slow, unreliable (or a JSON "
                       "file's path)", id="unknown-name"),
    pytest.param("{", "fault profile {path}: Expecting property name", id="not-json"),
    pytest.param({"faults": {"kind": "oom"}}, "expected a list of faults", id="not-a-list"),
    pytest.param([{"kind": "oom"}, {"kind": "boom"}], "fault 2: kind must be one of", id="bad-kind"),
    pytest.param([{"kind": "slow"}], "fault 1: a slow fault needs seconds > 0", id="bad-field"),
    pytest.param([{"kind": "oom", "nodeclass": "KSampler"}], "fault 1: unknown fields ['nodeclass']", id="typo"),
])
def test_a_bad_profile_says_what_is_wrong(tmp_path: Path, content: object, expected: str) -> None:
    path = tmp_path / "profile.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        write(path, content)
    with pytest.raises(FaultProfileError) as caught:
        load_fault_profile("nope" if content is None else str(path))
    assert expected.format(path=path) in str(caught.value)


def test_the_profile_is_in_force_from_the_start_and_after_every_reset(tmp_path: Path) -> None:
    profile = write(tmp_path / "once.json", [{"kind": "oom", "node_class": "KSampler", "times": 1}])
    with FakeComfy.start(Settings(fault_profile=str(profile), log_requests=False)) as fake:
        listed = httpx.get(fake.url + "/_fakecomfy/faults").json()["faults"]
        assert [(f["id"], f["kind"], f["fired"]) for f in listed] == [("once-1", "oom", 0)]
        for _ in range(2):
            entry = fake.wait(fake.submit(txt2img(prefix="p", steps=2)))
            error = dict(entry["status"]["messages"])["execution_error"]
            assert error["exception_type"] == OOM_TYPE and error["node_type"] == "KSampler"
            assert fake.wait(fake.submit(txt2img(prefix="p", steps=2, seed=2)))["status"]["completed"]
            assert httpx.post(fake.url + "/_fakecomfy/reset").status_code == 200
        fake.clear_faults()
        assert fake.faults == []
        fake.reset()
        assert [(f.id, f.fired) for f in fake.faults] == [("once-1", 0)]


def test_the_slow_profile_slows_every_sampler_step() -> None:
    with FakeComfy.start(Settings(fault_profile="slow", log_requests=False)) as fake:
        started = time.monotonic()
        assert fake.wait(fake.submit(txt2img(prefix="p", steps=3)))["status"]["completed"]
        assert time.monotonic() - started >= 3 * 0.1


@pytest.mark.parametrize("value", ["nope", "missing/profile.json"])
def test_a_bad_profile_stops_serve_with_a_clear_message(tmp_path: Path, value: str) -> None:
    out = subprocess.run([sys.executable, "-m", "fakecomfy", "serve", "--port", "0", "--fault-profile", value],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode != 0
    assert f"fakecomfy: unknown fault profile {value!r}; shipped: flaky" in out.stderr
    assert "Traceback" not in out.stderr
