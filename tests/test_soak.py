"""Nothing lost under load: hundreds of WebSocket clients at once, on one ``fakecomfy serve``.

The client is bench/bench_soak.py's (an aiohttp session shared by every client, each on its own
clientId, checking it got every event of its own prompts and nothing of anyone else's); the
bench runs the same at 1 000 clients and prints the figures.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.fake_only, pytest.mark.timeout(300)]


def _bench_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_soak", ROOT / "bench" / "bench_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_two_hundred_clients_lose_nothing() -> None:
    """Each client idles 6 s between prompts, as busy apps do: a server that closes idle
    keep-alive connections sooner than aiohttp's (uvicorn's 5 s) loses the pooled POSTs. All
    sockets open at once."""
    soak = _bench_soak()
    with soak.fakecomfy_server() as (url, _):
        result = soak.run(url, clients=200, prompts=3, timeout=120, pause=6.0)
    assert result.errors == []
    assert (result.done, result.lost, result.misrouted) == (600, 0, 0)
    # every socket got the status broadcasts of the prompts queued while it was open
    assert result.messages > 600 * len(soak.EXPECTED)
