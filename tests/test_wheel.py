"""What users install: the wheel, in a fresh virtual environment outside the checkout.

An editable install reads everything from the checkout, so a file missing from the package
data, or an import missing from the dependencies, only shows up here: the wheel is built,
installed with its declared dependencies into a new venv in a temporary directory, and that
venv's ``fakecomfy serve`` and ``fakecomfy contract`` are run against each other.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.fake_only, pytest.mark.timeout(900)]


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                          timeout=600)


def _clean_env() -> dict[str, str]:
    """The environment without anything pointing back at the checkout or this venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _copy_of_checkout(target: Path) -> Path:
    """The checkout's files as git sees them (tracked, or new and not ignored), links kept."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, copy = ROOT / name, target / name
        if not source.exists() and not source.is_symlink():  # deleted in the working tree
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copyfile(source, copy)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ folder of a fresh venv holding the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_of_checkout(work / "source")  # a build in the checkout would reuse its build/
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source, cwd=work)
    assert built.returncode == 0, built.stderr
    wheels = sorted((work / "dist").glob("fakecomfy-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    done = _run(bin_dir / "python", "-m", "pip", "install", "-q", wheels[0], cwd=work)
    assert done.returncode == 0, done.stderr
    yield bin_dir


def test_installed_package_lives_in_the_venv(installed: Path) -> None:
    where = _run(installed / "python", "-c", "import fakecomfy, sys; print(fakecomfy.__file__)", cwd=installed)
    assert where.returncode == 0, where.stderr
    location = Path(where.stdout.strip())
    assert installed.parent in location.parents and ROOT not in location.parents


def test_installed_serve_passes_installed_contract(installed: Path) -> None:
    server = subprocess.Popen([str(installed / "fakecomfy"), "serve", "--port", "0", "--quiet"],
                              cwd=installed.parent, env=_clean_env(), stdout=subprocess.PIPE,
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
        assert url is not None, "the installed server printed no URL:\n" + "".join(seen)
        report = _run(installed / "fakecomfy", "contract", url, "--timeout", "30", cwd=installed.parent)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "PASS" in report.stdout and "FAIL" not in report.stdout
        # generated requests need the [contract] extra, which this venv lacks: a clear message
        extra = _run(installed / "fakecomfy", "contract", url, "--max-examples", "1", cwd=installed.parent)
        assert extra.returncode != 0
        assert "pip install 'fakecomfy[contract]'" in extra.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
