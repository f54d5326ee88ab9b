"""Prompt throughput over HTTP + WebSocket, each row next to its protocol floor, in the same run.

    python bench/bench_prompts.py [--seconds 2] [--runs 5] [--clients 8]
                                  [--client lean,wsclient] [--rows empty64,empty512,txt2img,img2img,concurrent]

Each client holds one keep-alive HTTP connection and one WebSocket, posts a prompt and reads
every message until ``executing`` with ``node: null`` for that prompt (a client's "done" signal)
before posting the next. Rows (``--rows``, ``workloads.py``), each a new prompt every time:

* ``empty64`` / ``empty512``: EmptyImage -> SaveImage, a new colour each time, one client;
* ``txt2img``: ``fixtures/workflows/sd15_txt2img_api.json`` at 512 px, 20 steps, a new seed;
* ``img2img``: ``fixtures/workflows/sd15_img2img_api.json`` (LoadImage of the default
  ``example.png``, 768 px), 20 steps, a new seed;
* ``concurrent``: EmptyImage 64 px from ``--clients`` clients at once (total prompts/s).

Every row is measured with each client of ``--client`` (``clients.py``): ``lean`` (hand-written
sockets, so that the figure measures the server), ``wsclient`` (websocket-client +
``http.client``, what a script author writes), ``aiohttp`` and ``simple`` (websockets' sync
client). Next to each, with the same client, the row's protocol floor (``floor.py``): a bare
Starlette app on plain uvicorn that sends the same number of WebSocket messages with the same
sizes as a real ComfyUI 0.8.0 for that workload (status broadcasts to every socket) and does no
other work. The table gives the ratio fakecomfy/floor, the messages a client read per prompt from
each, and the real ComfyUI figure where one is known. Before the runs one prompt of each
workload is recorded from the fake and from its floor, and their messages compared.

The fake runs as ``fakecomfy serve`` with its default directory (stand-in models, example.png),
made under /dev/shm where there is one. Servers run in their own processes, so the client's
Python shares no GIL with them. Each row is the median of ``--runs`` runs, taken in turns over
all rows so that each row samples the same moments of a noisy host (the fake's min-max is shown
too); the CPU time the hypervisor took during the runs (steal) is printed: above a few percent
the figures are low and noisy. The first prompt of a row after another workload's row runs a
few more nodes (the cache holds only the last prompt's results, as on real ComfyUI).
Reference: a real ComfyUI 0.8.0 (--cpu) on this class of 2-core machine does 128/s (64 px),
73/s (512 px), 201/s (8 clients); its txt2img and img2img rates are not known.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from clients import ASYNC_CLIENTS, SYNC_CLIENTS, LeanClient
from workloads import BY_NAME, REAL_COMFYUI, WORKLOADS, Workload

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m <command> --port N`` in its own process, once it accepts connections."""
    port = free_port()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-m", *command, "--port", str(port)], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
        errors.seek(0)
        tail = errors.read().decode(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"{' '.join(command)} did not start on port {port}:\n" + "\n".join(tail))


def start_fakecomfy(tmp: str) -> tuple[subprocess.Popen[bytes], int]:
    # its default directory (stand-in models, input/example.png), made in TMPDIR
    return start(["fakecomfy", "serve", "--quiet"], {"TMPDIR": tmp})


def start_floor(floor: str) -> tuple[subprocess.Popen[bytes], int]:
    return start(["uvicorn", "floor:app", "--app-dir", str(BENCH), "--log-level", "warning", "--no-access-log"],
                 {"FLOOR_WORKLOAD": floor})


@dataclass
class Tally:
    prompts: int = 0
    messages: int = 0  # read after a POST, up to and including its done message
    end: float = 0.0   # when the last prompt was done (closing is not part of the work measured)


def client_loop(kind: str, port: int, workload: Workload, deadline: float, tally: Tally, index: int) -> None:
    cid = uuid.uuid4().hex
    client = SYNC_CLIENTS[kind](port, cid)
    try:
        client.recv()  # the greeting, not counted
        while time.monotonic() < deadline:
            body = json.dumps({"prompt": workload.build(index), "client_id": cid}).encode()
            pid = json.loads(client.post("/prompt", body))["prompt_id"]
            while True:
                tally.messages += 1
                if client.is_done(client.recv(), pid):
                    break
            tally.prompts += 1
        tally.end = time.monotonic()
    finally:
        client.close()


async def async_client_loop(kind: str, port: int, workload: Workload, deadline: float, tally: Tally,
                            index: int) -> None:
    cid = uuid.uuid4().hex
    client = ASYNC_CLIENTS[kind](port, cid)
    await client.open()
    try:
        await client.recv()  # the greeting, not counted
        while time.monotonic() < deadline:
            body = json.dumps({"prompt": workload.build(index), "client_id": cid}).encode()
            pid = json.loads(await client.post("/prompt", body))["prompt_id"]
            while True:
                tally.messages += 1
                if client.is_done(await client.recv(), pid):
                    break
            tally.prompts += 1
        tally.end = time.monotonic()
    finally:
        await client.close()


async def _gather(kind: str, port: int, workload: Workload, deadline: float, tallies: list[Tally]) -> None:
    await asyncio.gather(*(async_client_loop(kind, port, workload, deadline, t, i) for i, t in enumerate(tallies)))


def throughput(kind: str, port: int, workload: Workload, clients: int, seconds: float) -> tuple[float, float]:
    """(prompts/s over all clients, messages read per prompt) of one run."""
    tallies = [Tally() for _ in range(clients)]
    begin = time.monotonic()
    deadline = begin + seconds
    if kind in ASYNC_CLIENTS:
        asyncio.run(_gather(kind, port, workload, deadline, tallies))
    else:
        threads = [threading.Thread(target=client_loop, args=(kind, port, workload, deadline, t, i))
                   for i, t in enumerate(tallies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    prompts = sum(t.prompts for t in tallies)
    if not prompts:
        raise RuntimeError(f"{workload.name} on port {port}: no prompt finished in {seconds:g} s")
    return prompts / (max(t.end for t in tallies) - begin), sum(t.messages for t in tallies) / prompts


def record(port: int, workload: Workload) -> list[str | bytes]:
    """Every message of one prompt, the second in a row (so the cache is in its steady state)."""
    cid = uuid.uuid4().hex
    client = LeanClient(port, cid)
    try:
        client.recv()  # the greeting
        for _ in range(2):
            pid = json.loads(client.post("/prompt", json.dumps({"prompt": workload.build(0),
                                                                 "client_id": cid}).encode()))["prompt_id"]
            messages = [client.recv()]
            while not client.is_done(messages[-1], pid):
                messages.append(client.recv())
        return messages
    finally:
        client.close()


def compare(label: str, fake: list[str | bytes], floor: list[str | bytes]) -> str:
    def kind(m: str | bytes) -> str:
        return "binary" if isinstance(m, bytes) else str(json.loads(m)["type"])

    def size(m: str | bytes) -> int:
        return len(m if isinstance(m, bytes) else m.encode())

    line = (f"  {label:<22} fake {len(fake):3} messages {sum(map(size, fake)):6} B, "
            f"floor {len(floor):3} messages {sum(map(size, floor)):6} B: ")
    kinds = [kind(m) for m in fake], [kind(m) for m in floor]
    if kinds[0] != kinds[1]:
        at = next((i for i, (a, b) in enumerate(zip(*kinds, strict=False)) if a != b), min(map(len, kinds)))
        return line + f"DIFFERENT types from message {at}: fake {kinds[0][at:at + 3]}, floor {kinds[1][at:at + 3]}"
    gaps = [abs(size(a) - size(b)) for a, b in zip(fake, floor, strict=False)]
    return line + ("same types and sizes" if not any(gaps) else f"same types, sizes differ by up to {max(gaps)} B")


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def names(text: str, choices: list[str], what: str) -> list[str]:
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in choices]
    if unknown or not chosen:
        raise SystemExit(f"--{what}: expected a comma-separated list of {', '.join(choices)}; got {text!r}")
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    ap.add_argument("--runs", type=int, default=5, help="runs per row; the median is shown")
    ap.add_argument("--clients", type=int, default=8, help="clients of the concurrent row")
    ap.add_argument("--client", default="lean,wsclient", help="clients to measure every row with: "
                    + ",".join([*SYNC_CLIENTS, *ASYNC_CLIENTS]))
    ap.add_argument("--rows", default=",".join(BY_NAME), help="workloads to measure")
    args = ap.parse_args()
    kinds = names(args.client, [*SYNC_CLIENTS, *ASYNC_CLIENTS], "client")
    rows = [BY_NAME[n] for n in names(args.rows, list(BY_NAME), "rows")]
    rows.sort(key=WORKLOADS.index)
    # Outputs go to memory (/dev/shm) where there is one: on a disk, writeback of thousands of
    # PNGs makes the figures swing by 2x from run to run.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        try:
            fake, fake_port = start_fakecomfy(tmp)
            procs.append(fake)
            floor_ports: dict[str, int] = {}
            for w in rows:  # one floor per message list: EmptyImage's rows share theirs
                if w.floor not in floor_ports:
                    proc, floor_ports[w.floor] = start_floor(w.floor)
                    procs.append(proc)
            print("one prompt's messages (steady state):")
            for floor, floor_port in floor_ports.items():
                w = next(w for w in rows if w.floor == floor)
                print(compare(w.label, record(fake_port, w), record(floor_port, w)))
            for kind in kinds:  # warm-up: imports, first connections, the sampler's cache
                throughput(kind, fake_port, rows[0], 1, 0.3)
            before = cpu_ticks()
            results = measure(args, kinds, rows, fake_port, floor_ports)
            after = cpu_ticks()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()
    print_table(args, kinds, rows, results)
    if before is not None and after is not None and after[1] > before[1]:
        print(f"CPU steal during the runs: {100 * (after[0] - before[0]) / (after[1] - before[1]):.1f} %")


Results = dict[tuple[str, str, str, bool], list[tuple[float, float]]]


def measure(args: argparse.Namespace, kinds: list[str], rows: list[Workload], fake_port: int,
            floor_ports: dict[str, int]) -> Results:
    """Every (workload or floor, client, "fake" or "floor", concurrent) -> its runs' results."""
    # Runs go round-robin over all entries, so that each row samples the same moments of a noisy
    # host; workloads with the same messages (EmptyImage 64 and 512 px) share their floor's runs.
    plan: dict[tuple[str, str, str, bool], tuple[Workload, int]] = {}
    for kind in kinds:
        for w in rows:
            plan[w.name, kind, "fake", w.concurrent] = (w, fake_port)
            plan.setdefault((w.floor, kind, "floor", w.concurrent), (w, floor_ports[w.floor]))
    results: Results = {key: [] for key in plan}
    for _ in range(args.runs):
        for key, (w, port) in plan.items():
            results[key].append(throughput(key[1], port, w, args.clients if w.concurrent else 1, args.seconds))
    return results


def print_table(args: argparse.Namespace, kinds: list[str], rows: list[Workload], results: Results) -> None:
    print(f"\nmedian of {args.runs} runs of {args.seconds:g} s (taken in turns); floor: the same client, "
          "the same messages per prompt as real ComfyUI, no other work")
    labels = {w.name: f"{w.label}, {args.clients} clients" if w.concurrent else f"{w.label}, sequential"
              for w in rows}
    width = max(map(len, labels.values()))
    print(f"{'workload':<{width}} {'client':<9} {'fakecomfy/s':>11} {'(min-max)':>13} {'floor/s':>8} "
          f"{'fake/floor':>10} {'msgs':>7} {'real 0.8.0/s':>12} {'vs real':>8}")
    for w in rows:
        for kind in kinds:
            fake = results[w.name, kind, "fake", w.concurrent]
            floor = results[w.floor, kind, "floor", w.concurrent]
            rate, floor_rate = statistics.median(r for r, _ in fake), statistics.median(r for r, _ in floor)
            spread = f"({min(r for r, _ in fake):.0f}-{max(r for r, _ in fake):.0f})"
            msgs = f"{statistics.median(m for _, m in fake):.0f}/{statistics.median(m for _, m in floor):.0f}"
            reference = REAL_COMFYUI.get(w.name) if args.clients == 8 or not w.concurrent else None
            real = f"{reference:12.0f} {rate / reference:7.1f}x" if reference else f"{'-':>12} {'-':>8}"
            print(f"{labels[w.name]:<{width}} {kind:<9} {rate:11.0f} {spread:>13} {floor_rate:8.0f} "
                  f"{rate / floor_rate:9.2f}x {msgs:>7} {real}")
    print("msgs: messages a client read per prompt, fake/floor (the concurrent row counts the other "
          "clients' status broadcasts; a row's first prompt after another workload's runs more nodes)")


if __name__ == "__main__":
    main()
