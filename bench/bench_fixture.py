"""Time what the pytest plugin costs a test suite: starting a server, resetting it, a test.

    python bench/bench_fixture.py [-n 50] [--tests 200]

Rows (median, min and max of ``n`` runs, in ms):

* first start in a fresh interpreter, as the session's first ``fakecomfy`` test pays it:
  importing the server's modules, then building the app and starting uvicorn;
* start: ``FakeComfy.start()`` in a process that has the modules loaded (a factory server, a
  marker's server of its own), and its stop;
* reset of a clean server, and of one that ran the txt2img workflow (history, a saved PNG,
  the cache, journal entries) — what the fixture does after each test;
* per test through pytest: what one more empty test that takes the fixture adds to a pytest
  run (files of ``--tests`` and twice as many such tests, each run in its own pytest process:
  the difference per test, so the session's one start and stop drop out), next to what one
  more test that takes no fixture adds.

The issue's aims: start ≤ 300 ms, reset ≤ 5 ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fakecomfy.testing import FakeComfy

WORKFLOW = Path(__file__).resolve().parents[1] / "fixtures" / "workflows" / "sd15_txt2img_api.json"


def row(label: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{label:<52} median {statistics.median(ms):8.2f}  min {min(ms):8.2f}  max {max(ms):8.2f} ms")


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def first_start(n: int) -> tuple[list[float], list[float]]:
    """(imports, then the start) in fresh interpreters."""
    code = ("import time; t0 = time.perf_counter(); from fakecomfy.testing import FakeComfy; "
            "t1 = time.perf_counter(); s = FakeComfy.start(); print(t1 - t0, time.perf_counter() - t1); s.stop()")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(n)]
    return [float(imports) for imports, _ in runs], [float(start) for _, start in runs]


def starts_and_stops(n: int) -> tuple[list[float], list[float]]:
    FakeComfy.start().stop()  # the modules loaded
    starts, stops = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        server = FakeComfy.start()
        t1 = time.perf_counter()
        server.stop()
        starts.append(t1 - t0)
        stops.append(time.perf_counter() - t1)
    return starts, stops


def resets(n: int) -> tuple[list[float], list[float]]:
    workflow = json.loads(WORKFLOW.read_text(encoding="utf-8"))
    with FakeComfy.start() as server:
        clean = timed(server.reset, n)
        dirty = []
        for i in range(n):
            workflow["3"]["inputs"]["seed"] = i  # a new image each time: a file to remove
            server.wait(server.submit(workflow, client_id="bench"))
            t0 = time.perf_counter()
            server.reset()
            dirty.append(time.perf_counter() - t0)
    return clean, dirty


def pytest_seconds(folder: Path, tests: int, fixture: bool) -> float:
    argument = "fakecomfy" if fixture else ""
    path = folder / f"test_{tests}_{'with' if fixture else 'without'}_fixture.py"
    path.write_text("".join(f"def test_{i}({argument}):\n    pass\n\n" for i in range(tests)), encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)], cwd=folder,
                   capture_output=True, check=True)
    return time.perf_counter() - t0


def per_test(tests: int, runs: int, fixture: bool) -> list[float]:
    """The marginal cost of a test: (a run of 2 × tests − a run of tests) / tests."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        return [(pytest_seconds(folder, 2 * tests, fixture) - pytest_seconds(folder, tests, fixture)) / tests
                for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="starts and resets to time")
    parser.add_argument("--tests", type=int, default=200, help="tests in the pytest files")
    args = parser.parse_args()
    imports, start = first_start(max(3, args.n // 10))
    row("first start in a fresh interpreter: imports", imports)
    row("first start in a fresh interpreter: the start", start)
    starts, stops = starts_and_stops(args.n)
    row("start (modules loaded)", starts)
    row("stop", stops)
    clean, dirty = resets(args.n)
    row("reset, clean server", clean)
    row("reset after a txt2img prompt", dirty)
    row("a test taking the fakecomfy fixture, through pytest", per_test(args.tests, 3, fixture=True))
    row("a test taking no fixture, through pytest", per_test(args.tests, 3, fixture=False))


if __name__ == "__main__":
    main()
