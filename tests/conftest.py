"""Shared fixtures: an in-process client, a real server on a free port, the shared fixtures."""
from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest
from starlette.testclient import TestClient

from fakecomfy import Settings, create_app
from fakecomfy.contract import middleware as spec_check
from fakecomfy.core import defaults
from fakecomfy.testing import ServerThread
from tests import wheels
from tests.wsclient import WsClient

# Every app create_app builds during the suite, in this process or a server subprocess, checks
# each response against openapi/comfyui.yaml and each WebSocket JSON frame against openapi/ws
# (Settings.spec_check reads FAKECOMFY_SPEC_CHECK when a Settings is made);
# pytest_sessionfinish fails the run when any broke the contract.
os.environ["FAKECOMFY_SPEC_CHECK"] = "1"
_fd, SPEC_CHECK_FILE = tempfile.mkstemp(prefix="fakecomfy-spec-check-", suffix=".txt")
os.close(_fd)
os.environ["FAKECOMFY_SPEC_CHECK_FILE"] = SPEC_CHECK_FILE


class Answer(Protocol):
    """What tests read of an HTTP answer, whichever client gave it (httpx, httpx2, requests)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers started as subprocesses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    """A base directory populated like the default one (example.png and stand-in models)."""
    base = tmp_path / "base"
    defaults.populate(base)
    return base


@pytest.fixture
def make_client(base_dir: Path) -> Iterator[Callable[..., TestClient]]:
    """Factory: ``make_client(multi_user=True)`` gives a TestClient on a fresh app over ``base_dir``."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = Settings(base_directory=base_dir, log_requests=False).replace(**overrides)
        c = TestClient(create_app(settings), base_url="http://testserver")
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def make_server(base_dir: Path) -> Iterator[Callable[..., ServerThread]]:
    """Factory for a real uvicorn server on 127.0.0.1 and a free port (stopped after the test)."""
    servers: list[ServerThread] = []

    def make(**overrides: object) -> ServerThread:
        settings = Settings(base_directory=base_dir, log_requests=False).replace(**overrides)
        srv = ServerThread(create_app(settings)).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def installed_wheel() -> Iterator[Path]:
    """bin/ of a fresh venv outside the checkout holding the wheel built from it, once per run
    (tests/wheels.py; used by tests/test_wheel.py and tests/test_docker.py)."""
    with wheels.installed_wheel() as bin_dir:
        yield bin_dir


# ---- parity mode: the same tests against a real ComfyUI ------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--comfy-url", default=None, metavar="URL",
                     help="run target_url tests against this server (e.g. a real ComfyUI) instead of the fake; "
                          "also FAKECOMFY_TARGET; tests marked fake_only are skipped then")


def external_target(config: pytest.Config) -> str | None:
    url = config.getoption("--comfy-url") or os.environ.get("FAKECOMFY_TARGET") or None
    return url.rstrip("/") if url else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = external_target(config)
    if target is None:
        return
    skip = pytest.mark.skip(reason=f"fake_only: an external target is given ({target})")
    for item in items:
        if item.get_closest_marker("fake_only") is not None:
            item.add_marker(skip)


@pytest.fixture
def target_url(request: pytest.FixtureRequest) -> str:
    """The server under test: ``--comfy-url``/``FAKECOMFY_TARGET`` when given, else a fresh fake."""
    target = external_target(request.config)
    if target is not None:
        return target
    make: Callable[..., ServerThread] = request.getfixturevalue("make_server")
    return make().url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a response or WebSocket message of the fake broke the contract."""
    path = Path(SPEC_CHECK_FILE)
    problems = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    path.unlink(missing_ok=True)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    checked = spec_check.CHECKED
    summary = f"contract check: {checked['http']} responses, {checked['ws']} WebSocket messages in this process"
    if reporter is not None:
        reporter.write("\n")
        reporter.write_line(summary)
    if problems:
        unique = sorted(set(problems))
        text = "\n".join([f"{len(problems)} contract problems (openapi/), distinct ones:", *unique])
        if reporter is not None:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = 1


@pytest.fixture
def connect() -> Iterator[Callable[..., WsClient]]:
    """Factory: ``connect(server, "cid")`` opens a recording WebSocket (closed after the test),
    once its greeting arrived."""
    clients: list[WsClient] = []

    def make(server: ServerThread, client_id: str | None = None) -> WsClient:
        c = WsClient(server.url, client_id)
        clients.append(c)
        c.wait_count(1)  # the greeting
        return c

    yield make
    for c in clients:
        c.close()
