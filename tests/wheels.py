"""The wheel users install, built from this checkout into a fresh venv outside it.

An editable install reads everything from the checkout, so a file missing from the package
data, or an import missing from the dependencies, only shows up in a venv that holds the built
wheel. ``tests/conftest.py`` builds one per run (the ``installed_wheel`` fixture) for
``tests/test_wheel.py`` and ``tests/test_docker.py``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env() -> dict[str, str]:
    """The environment without anything pointing back at the checkout or this venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=600)


def copy_of_checkout(target: Path) -> Path:
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


@contextmanager
def installed_wheel() -> Iterator[Path]:
    """The bin/ folder of a fresh venv holding the wheel built from this checkout, removed after.

    The venv lives in a directory anyone may read and enter (not under pytest's private
    ``pytest-of-<user>``), so a test can run its programs as an unprivileged user."""
    work = Path(tempfile.mkdtemp(prefix="fakecomfy-wheel-"))
    try:
        work.chmod(0o755)
        source = copy_of_checkout(work / "source")  # a build in the checkout would reuse its build/
        built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source, cwd=work)
        assert built.returncode == 0, built.stderr
        wheels = sorted((work / "dist").glob("fakecomfy-*.whl"))
        assert len(wheels) == 1, wheels
        venv.create(work / "venv", with_pip=True)
        bin_dir = work / "venv" / "bin"
        done = run(bin_dir / "python", "-m", "pip", "install", "-q", wheels[0], cwd=work)
        assert done.returncode == 0, done.stderr
        yield bin_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)
