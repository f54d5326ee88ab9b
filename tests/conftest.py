"""Shared fixtures: an in-process client, a real server on a free port, the shared fixtures."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fakecomfy import Settings, create_app
from fakecomfy.core import defaults
from fakecomfy.testing import ServerThread

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


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
