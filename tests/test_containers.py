"""``fakecomfy.containers``: the image from pytest through testcontainers, an optional extra.

The container itself needs a Docker engine, which does not run here or in CI: that test skips,
saying what is missing. What runs everywhere: the installed wheel, which lacks the extra, imports
every other module and says which extra ``fakecomfy.containers`` needs.
"""
from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websocket

from tests.wheels import ROOT, run

pytestmark = pytest.mark.fake_only

# The README's example (a ```py block: tests/test_readme.py runs only ```python blocks, and this
# one needs an engine).
README_EXAMPLE = re.search(r"```py\n(.*?FakeComfyContainer.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"),
                           re.S)

IMPORT_ALL = """
import importlib, pkgutil, sys, fakecomfy
for info in pkgutil.walk_packages(fakecomfy.__path__, "fakecomfy."):
    # __main__ would serve; pytest_plugin is loaded by pytest only, which the wheel does not need;
    # the torch family is the [torch] extra's
    if info.name not in ("fakecomfy.containers", "fakecomfy.__main__", "fakecomfy.pytest_plugin") \
            and not info.name.startswith("fakecomfy.executors.torch"):
        importlib.import_module(info.name)
assert "testcontainers" not in sys.modules, "a core module imported testcontainers"
assert "torch" not in sys.modules, "a core module imported torch"
try:
    import fakecomfy.containers
except ImportError as exc:
    print(exc)
"""


@pytest.mark.timeout(900)  # the first test to ask for the wheel builds it
def test_installed_wheel_needs_no_testcontainers(installed_wheel: Path) -> None:
    found = run(installed_wheel / "python", "-c", "import importlib.util as u; print(u.find_spec('testcontainers'))",
                cwd=installed_wheel)
    assert found.stdout.strip() == "None", "the wheel's venv should lack the [testcontainers] extra"
    imported = run(installed_wheel / "python", "-c", IMPORT_ALL, cwd=installed_wheel)
    assert imported.returncode == 0, imported.stderr
    assert "pip install 'fakecomfy[testcontainers]'" in imported.stdout


def engine_missing() -> str | None:
    """Why no Docker engine answers, or None when one may (docker-py, asked first, would leave
    its socket open when none does)."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    scheme, _, address = host.partition("://")
    try:
        if scheme == "unix":
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(address)
        elif scheme == "tcp":
            name, _, port = address.partition(":")
            socket.create_connection((name, int(port.rstrip("/") or 2375)), timeout=2).close()
    except OSError as exc:
        return f"no Docker engine answers at {host} (DOCKER_HOST names another): {exc}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """A fakecomfy image: ``FAKECOMFY_IMAGE`` names one, else the Dockerfile is built."""
    pytest.importorskip("testcontainers", reason="the [testcontainers] extra is not installed")
    missing = engine_missing()
    if missing:
        pytest.skip(missing)
    if os.environ.get("FAKECOMFY_IMAGE"):
        yield os.environ["FAKECOMFY_IMAGE"]
        return
    from testcontainers.core.image import DockerImage

    with DockerImage(path=str(ROOT), tag="fakecomfy:test") as built:
        yield str(built)


@pytest.mark.timeout(900)
def test_container_serves_the_fake_on_url_and_ws_url(image: str) -> None:
    from fakecomfy.containers import FakeComfyContainer

    with FakeComfyContainer(image, node_times={"KSampler": 0.05}) as comfy:
        assert httpx.get(f"{comfy.url}/system_stats", timeout=5).status_code == 200
        ws = websocket.create_connection(f"{comfy.ws_url}?clientId=tc", timeout=5)
        try:
            assert json.loads(ws.recv())["type"] == "status"
        finally:
            ws.close()


@pytest.mark.timeout(900)
def test_readme_example_runs(image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert README_EXAMPLE, "the README shows FakeComfyContainer in a ```py block"
    code = README_EXAMPLE.group(1).replace('"fakecomfy:local"', repr(image))
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README FakeComfyContainer example", "exec"), {"__name__": "__readme__"})
