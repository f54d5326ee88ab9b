"""What users install: the wheel, in a fresh virtual environment outside the checkout.

An editable install reads everything from the checkout, so a file missing from the package
data, or an import missing from the dependencies, only shows up here: the wheel is built and
installed with its declared dependencies into a new venv in a temporary directory
(tests/wheels.py, once per run), and that venv's ``fakecomfy serve`` and ``fakecomfy contract``
are run against each other.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.wheels import ROOT, clean_env, run

pytestmark = [pytest.mark.fake_only, pytest.mark.timeout(900)]


def test_installed_package_lives_in_the_venv(installed_wheel: Path) -> None:
    where = run(installed_wheel / "python", "-c", "import fakecomfy, sys; print(fakecomfy.__file__)",
                cwd=installed_wheel)
    assert where.returncode == 0, where.stderr
    location = Path(where.stdout.strip())
    assert installed_wheel.parent in location.parents and ROOT not in location.parents


def test_installed_serve_passes_installed_contract(installed_wheel: Path) -> None:
    server = subprocess.Popen([str(installed_wheel / "fakecomfy"), "serve", "--port", "0", "--quiet"],
                              cwd=installed_wheel.parent, env=clean_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        url, seen = None, []
        for line in server.stdout:  # the server prints its URL once it listens
            seen.append(line)
            found = re.search(r"fakecomfy running at (http://\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "the installed_wheel server printed no URL:\n" + "".join(seen)
        report = run(installed_wheel / "fakecomfy", "contract", url, "--timeout", "30", cwd=installed_wheel.parent)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "PASS" in report.stdout and "FAIL" not in report.stdout
        # generated requests need the [contract] extra, which this venv lacks: a clear message
        extra = run(installed_wheel / "fakecomfy", "contract", url, "--max-examples", "1", cwd=installed_wheel.parent)
        assert extra.returncode != 0
        assert "pip install 'fakecomfy[contract]'" in extra.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()


PLUGIN_USER_TEST = '''
def test_txt2img(fakecomfy):
    import json, pathlib
    workflow = json.loads(pathlib.Path("txt2img.json").read_text())
    prompt_id = fakecomfy.submit(workflow)
    assert fakecomfy.wait(prompt_id)["status"]["status_str"] == "success"
    assert fakecomfy.images(prompt_id)
'''


def test_installing_the_wheel_and_pytest_is_all_a_project_needs_for_the_fixture(installed_wheel: Path,
                                                                                 tmp_path: Path) -> None:
    """A project with no conftest.py: the pytest11 entry point of the installed wheel supplies
    the ``fakecomfy`` fixture (the checkout's plugin, an editable install, would hide a package
    file the wheel lacks)."""
    got = run(installed_wheel / "python", "-m", "pip", "install", "-q", "pytest", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "txt2img.json").write_bytes((ROOT / "fixtures" / "workflows" / "sd15_txt2img_api.json").read_bytes())
    (project / "test_user.py").write_text(PLUGIN_USER_TEST, encoding="utf-8")
    done = run(installed_wheel / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_installed_fleet_runs_shipped_device_and_fault_profiles(installed_wheel: Path) -> None:
    """The profiles are package data: a wheel without them would fail only here."""
    fleet = subprocess.Popen([str(installed_wheel / "fakecomfy"), "fleet", "--port", "0", "--quiet",
                              "--instance", "4090", "--instance", "8gb:flaky"],
                             cwd=installed_wheel.parent, env=clean_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert fleet.stdout is not None
        urls, seen = [], []
        for line in fleet.stdout:
            seen.append(line)
            found = re.match(r"fakecomfy fleet: (http://\S+) ", line)
            if found:
                urls.append(found.group(1))
            if "fakes running" in line:
                break
        assert len(urls) == 2, "".join(seen)
        names = []
        for url in urls:
            with urllib.request.urlopen(url + "/system_stats", timeout=10) as resp:
                names.append(json.loads(resp.read())["devices"][0]["name"])
        assert names == ["cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                         "cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync"]
        with urllib.request.urlopen(urls[1] + "/_fakecomfy/faults", timeout=10) as resp:
            assert [f["id"] for f in json.loads(resp.read())["faults"]][:1] == ["flaky-1"]
    finally:
        fleet.send_signal(signal.SIGINT)
        assert fleet.wait(timeout=30) == 0
        if fleet.stdout is not None:
            fleet.stdout.close()
