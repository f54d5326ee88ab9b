"""Score the server against the transcripts recorded from a real ComfyUI 0.8.0.

Runs ``../shared/fidelity/compare.py`` against ``fakecomfy serve`` started as the scoring runs
start it, with the recording fixtures (``../shared/fixtures``) as its base directory content.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import SHARED, free_port

pytestmark = pytest.mark.fidelity

COMPARE = SHARED / "fidelity" / "compare.py"
GOLDEN = SHARED / "golden"
# Every handed-out transcript: the foundation scenarios, the prompt lifecycle ones, all of them.
SCENARIOS = sorted(p.stem for p in GOLDEN.glob("*.json")) if GOLDEN.is_dir() else []
# Validation errors echo a node's input definition, tooltip included. Our tooltips are our own
# words (ComfyUI's are GPL-3.0 prose), so those - and only those - may differ from real.
OWN_PROSE = re.compile(r"json /node_errors/[^/]+/errors/\d+/extra_info/input_config/1/tooltip: ")

if not COMPARE.is_file():
    pytest.skip(f"the shared comparator is not at {COMPARE}", allow_module_level=True)



def serve_for_scoring(tmp_path_factory: pytest.TempPathFactory, *flags: str,
                      start_timeout: float = 20) -> Iterator[str]:
    """``fakecomfy serve`` (with extra ``flags``) as the scoring runs start it; yields its URL."""
    base = tmp_path_factory.mktemp("fidelity-base")
    shutil.copytree(SHARED / "fixtures" / "input", base / "input")
    shutil.copytree(SHARED / "fixtures" / "models", base / "models")
    for p in base.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakecomfy", "serve", "--port", str(port), "--base-directory", str(base),
         "--node-time", "ImageBlur=3", "--node-time", "KSampler=1", "--quiet", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            requests.get(url + "/system_stats", timeout=2)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("fakecomfy serve did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def scoring_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_for_scoring(tmp_path_factory)


def run_compare(url: str, scenarios: list[str]) -> dict[str, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, str(COMPARE), "--golden", str(GOLDEN), "--target", url,
         "--scenarios", ",".join(scenarios), "--json", "--timeout-scale", "0.5"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    return {s["name"]: s for s in report["scenarios"]}


@pytest.fixture(scope="module")
def report(scoring_server: str) -> dict[str, dict[str, Any]]:
    return run_compare(scoring_server, SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_matches_real_comfyui(report: dict[str, dict[str, Any]], scenario: str) -> None:
    result = report[scenario]
    real_diffs = [d for d in result["diffs"] if not OWN_PROSE.search(d)]
    assert not real_diffs, "\n".join(real_diffs)
