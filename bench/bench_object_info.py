"""Time ``GET /object_info`` through a real uvicorn server, next to bare Starlette endpoints.

    python bench/bench_object_info.py [-n 300]

Rows (all served by uvicorn on loopback, fetched with one keep-alive httpx client):

* fakecomfy ``/object_info``: the whole catalog with live file lists, directories unchanged;
* the same, with the input directory touched before each request: the full rescan that
  follows any change (the cached bytes are still reused when the lists come out the same);
* fakecomfy ``/object_info/KSampler``: one node;
* bare Starlette, the same bytes pre-encoded: the floor that transport alone costs;
* bare Starlette ``JSONResponse(document)``: what re-encoding on every request would cost;
* bare Starlette ``{"ok": true}``: the per-request overhead of the stack.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakecomfy import Settings, create_app
from fakecomfy.core import defaults
from fakecomfy.testing import ServerThread


def bare_app(document: bytes) -> Starlette:
    parsed = json.loads(document)

    async def prebuilt(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def encoded(request: Request) -> Response:
        return JSONResponse(parsed)

    async def small(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/prebuilt", prebuilt), Route("/encoded", encoded), Route("/small", small)])


def timings(client: httpx.Client, url: str, n: int, before: Callable[[], None] | None = None) -> list[float]:
    for _ in range(10):  # warm up: caches, connection, first-call imports
        client.get(url).raise_for_status()
    out = []
    for _ in range(n):
        if before is not None:
            before()
        t0 = time.perf_counter()
        r = client.get(url)
        _ = r.content
        out.append(time.perf_counter() - t0)
        r.raise_for_status()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="time GET /object_info")
    parser.add_argument("-n", type=int, default=300, help="requests per row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fakecomfy-bench-") as tmp:
        base = Path(tmp)
        defaults.populate(base)
        fake = ServerThread(create_app(Settings(base_directory=base, log_requests=False))).start()
        # Directories changed less than a second ago are rescanned on every request (see
        # catalog._DirWatch); measure the steady state.
        time.sleep(1.1)
        document = fake.app.state.model.catalog.object_info_bytes()
        bare = ServerThread(bare_app(document)).start()

        def touch() -> None:
            os.utime(base / "input")

        rows: list[tuple[str, str, Callable[[], None] | None]] = [
            ("fakecomfy GET /object_info", fake.url + "/object_info", None),
            ("fakecomfy ditto, input dir just touched", fake.url + "/object_info", touch),
            ("fakecomfy GET /object_info/KSampler", fake.url + "/object_info/KSampler", None),
            ("bare Starlette, same bytes prebuilt", bare.url + "/prebuilt", None),
            ("bare Starlette, JSONResponse(doc)", bare.url + "/encoded", None),
            ("bare Starlette, {\"ok\": true}", bare.url + "/small", None),
        ]
        try:
            with httpx.Client(timeout=30) as client:
                results = [(label, timings(client, url, args.n, before)) for label, url, before in rows]
        finally:
            fake.stop()
            bare.stop()
    print(f"/object_info: {len(document) / 1024:.0f} KiB, {args.n} requests per row, one keep-alive connection\n")
    print(f"{'endpoint':<40} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for label, samples in results:
        samples.sort()
        p90 = samples[int(len(samples) * 0.9) - 1]
        print(f"{label:<40} {statistics.median(samples) * 1e3:>10.2f} {p90 * 1e3:>8.2f} {samples[0] * 1e3:>8.2f}")


if __name__ == "__main__":
    main()
