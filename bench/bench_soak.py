"""Soak: many WebSocket clients at once, each checking it got every event of its own prompts.

    python bench/bench_soak.py [--clients 1000] [--prompts 3] [--rounds 3] [--processes 1]
                               [--connect-rate PER_SECOND] [--pause SECONDS] [--url URL]

Each client is what an aiohttp user writes: one ``ClientSession`` (its connection pool) is
shared by all clients; each opens ``/ws?clientId=<its own id>``, then posts EmptyImage ->
SaveImage (a colour of its own, so every prompt really runs) and reads its socket until
``executing`` with ``node: null`` for that prompt, ``--prompts`` times. A prompt is

* lost when its POST failed or its ``executing null`` never came (``--timeout``);
* misrouted when a message naming another client's prompt reached this socket, or one of its
  own prompt's messages is missing (the sequence real ComfyUI sends for this graph).

Without ``--url`` the bench starts ``fakecomfy serve`` (its own process, default directory)
and prints, per round, the wall time, lost / misrouted / client errors, the WebSocket messages
delivered (``status`` broadcasts to every socket included, as real sends them), the server's CPU
time per delivered message and its resident memory after the round. The client runs on uvloop
where it is installed (it comes with ``uvicorn[standard]``), in one process, or spread over
``--processes`` processes so that one client process's CPU does not set the pace.

All clients connect at once (``--connect-rate`` opens the sockets at a steady rate instead);
the line shows when the last socket was greeted. With aiohttp's listen backlog of 128 such a
storm made the kernel retry SYNs for up to 100 s and reset connections whose SYN cookie failed
(``nstat``: TcpExtSyncookiesFailed), so the fake listens with 2 048 (fakecomfy/web/transport.py).
``status`` messages are
a broadcast, so how many a round delivers depends on how many sockets are open while prompts
are queued, started and finished: rounds differ by up to 2x.
Reference: a real ComfyUI 0.8.0 on the 2-core reference machine did 1 000 x 3 in 163 s.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

# The messages a client_id prompt of EmptyImage -> SaveImage gets from real ComfyUI, besides status.
EXPECTED = ["execution_start", "execution_cached", "progress_state", "executing", "progress_state",
            "progress_state", "executing", "executed", "progress_state", "execution_success", "executing"]


def empty_save(index: int) -> dict[str, object]:
    """EmptyImage -> SaveImage in a colour of this prompt's own (so nothing is cached)."""
    return {"1": {"class_type": "EmptyImage",
                  "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": index % 0xFFFFFF}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "soak/s"}}}


@dataclass
class Round:
    clients: int
    prompts: int
    seconds: float = 0.0
    done: int = 0
    lost: int = 0
    misrouted: int = 0
    errors: list[str] = field(default_factory=list)
    messages: int = 0
    started: float = 0.0  # time.monotonic() when the clients set off
    connected: float = 0.0  # seconds until the last socket was greeted

    @property
    def ok(self) -> bool:
        return self.done == self.clients * self.prompts and not (self.lost or self.misrouted or self.errors)


async def _client(session: aiohttp.ClientSession, url: str, index: int, prompts: int, timeout: float,
                  result: Round, pause: float, delay: float) -> None:
    cid = uuid.uuid4().hex
    mine: set[str] = set()
    if delay:
        await asyncio.sleep(delay)
    stage = "connect"
    try:
        async with session.ws_connect(f"{url}/ws?clientId={cid}", autoping=False, max_msg_size=0) as ws:
            greeting = json.loads((await ws.receive(timeout=timeout)).data)
            if greeting.get("data", {}).get("sid") != cid:
                result.errors.append(f"client {index}: greeting {greeting}")
                return
            result.messages += 1
            result.connected = max(result.connected, time.monotonic() - result.started)
            for n in range(prompts):
                if n and pause:
                    await asyncio.sleep(pause)  # idle: the pool's connections and the socket wait
                body = {"prompt": empty_save(index * prompts + n), "client_id": cid}
                stage = f"POST {n + 1}"
                async with session.post(f"{url}/prompt", json=body) as resp:
                    if resp.status != 200:
                        result.lost += 1
                        result.errors.append(f"client {index}: POST /prompt {resp.status}")
                        continue
                    prompt_id = (await resp.json())["prompt_id"]
                mine.add(prompt_id)
                stage = f"events of prompt {n + 1}"
                seen = await _until_done(ws, prompt_id, mine, timeout, result)
                if seen is None:
                    result.lost += 1
                elif seen != EXPECTED:
                    result.misrouted += 1
                    result.errors.append(f"client {index}: prompt {prompt_id} got {seen}")
                else:
                    result.done += 1
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        result.errors.append(f"client {index} at {stage}: {type(exc).__name__}: {exc}")
        result.lost += prompts - len(mine)


async def _until_done(ws: aiohttp.ClientWebSocketResponse[bool], prompt_id: str, mine: set[str], timeout: float,
                      result: Round) -> list[str] | None:
    """The types of this prompt's messages up to its ``executing null``; None if it never came."""
    try:  # one deadline per prompt, not one timer per message (receive(timeout=) costs half the client)
        return await asyncio.wait_for(_read_until_done(ws, prompt_id, mine, result), timeout)
    except asyncio.TimeoutError:
        return None


async def _read_until_done(ws: aiohttp.ClientWebSocketResponse[bool], prompt_id: str, mine: set[str],
                           result: Round) -> list[str] | None:
    seen: list[str] = []
    while True:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            result.errors.append(f"unexpected {msg.type.name} frame")
            return None
        result.messages += 1
        if msg.data.startswith('{"type": "status"'):  # a broadcast: every socket gets it
            continue
        message = json.loads(msg.data)
        owner = message["data"].get("prompt_id")
        if owner not in mine:
            result.misrouted += 1
            result.errors.append(f"message of another prompt: {msg.data[:120]}")
            continue
        if owner != prompt_id:
            continue  # cannot happen: one prompt of ours at a time
        seen.append(message["type"])
        if message["type"] == "executing" and message["data"]["node"] is None:
            return seen


async def run_round(url: str, clients: int, prompts: int, timeout: float = 120.0, pause: float = 0.0,
                    first: int = 0, rate: float = 0.0) -> Round:
    """One soak round against a running server; ``pause``: seconds each client idles between
    its prompts (its socket open, the pool's connections unused)."""
    result = Round(clients, prompts)
    # One pool for everything, as an app shares its session. Each WebSocket holds a connection
    # of it for good, so the pool has no cap (aiohttp's default of 100 would starve the POSTs);
    # POSTs reuse idle keep-alive connections, which is where a server that closes them early
    # loses requests.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        result.started = started = time.monotonic()
        await asyncio.gather(*(_client(session, url, first + i, prompts, timeout, result, pause,
                                       i / rate if rate else 0.0)
                               for i in range(clients)))
        result.seconds = time.monotonic() - started
    return result


def run(url: str, clients: int, prompts: int, timeout: float = 120.0, pause: float = 0.0, first: int = 0,
        rate: float = 0.0) -> Round:
    """One round in this process (clients numbered from ``first``; ``rate``: sockets opened per
    second, 0 for all at once)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(run_round(url, clients, prompts, timeout, pause, first, rate))
    return uvloop.run(run_round(url, clients, prompts, timeout, pause, first, rate))


def _run_part(url: str, clients: int, prompts: int, timeout: float, pause: float, first: int,
              rate: float) -> tuple[Round, float]:
    started = time.process_time()
    result = run(url, clients, prompts, timeout, pause, first, rate)
    return result, time.process_time() - started


def run_split(url: str, clients: int, prompts: int, timeout: float, pause: float,
              processes: int, rate: float = 0.0) -> tuple[Round, float]:
    """One round with the clients spread over ``processes`` client processes (so that one
    client process's CPU does not set the pace): the merged result and the clients' CPU time."""
    if processes <= 1:
        return _run_part(url, clients, prompts, timeout, pause, 0, rate)
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    firsts = [sum(shares[:i]) for i in range(processes)]
    started = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        parts = list(pool.map(_run_part, [url] * processes, shares, [prompts] * processes,
                              [timeout] * processes, [pause] * processes, firsts, [rate / processes] * processes))
    merged = Round(clients, prompts, seconds=time.monotonic() - started)
    for part, _ in parts:
        merged.done += part.done
        merged.lost += part.lost
        merged.misrouted += part.misrouted
        merged.errors += part.errors
        merged.messages += part.messages
        merged.connected = max(merged.connected, part.connected)
    return merged, sum(cpu for _, cpu in parts)


# ---- the server's side ----------------------------------------------------------------------------
@contextmanager
def fakecomfy_server(*flags: str) -> Iterator[tuple[str, int]]:
    """``fakecomfy serve`` in its own process: (url, pid). Its output goes to a file (a pipe
    nobody reads would fill up and stop the server)."""
    exe = Path(sys.executable).with_name("fakecomfy")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with log.open("w") as out:
            proc = subprocess.Popen([str(exe), "serve", "--port", "0", "--quiet", *flags], stdout=out,
                                    stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": tmp})
        try:
            deadline = time.monotonic() + 30
            while not (found := re.search(r"running at (http://\S+)", log.read_text())):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("fakecomfy serve did not start:\n" + log.read_text())
                time.sleep(0.05)
            url = found.group(1)
            _wait_listening(url, deadline)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_listening(url: str, deadline: float) -> None:
    """The URL is printed once the port is bound; connections are taken once uvicorn listens."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=3, help="prompts per client")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on the same server (memory must stay flat)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a client waits for one prompt")
    parser.add_argument("--processes", type=int, default=1,
                        help="client processes the clients are spread over (default 1: one aiohttp app)")
    parser.add_argument("--connect-rate", type=float, default=0.0, metavar="PER_SECOND",
                        help="open the sockets at this rate instead of all at once")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each client idles between its prompts")
    parser.add_argument("--url", help="a running server instead of a fresh fakecomfy serve (no CPU/RSS figures)")
    args = parser.parse_args()
    print(f"{args.clients} clients x {args.prompts} prompts, {args.rounds} rounds, "
          f"{args.processes} client process{'es' if args.processes > 1 else ''}")
    if args.url:
        return _report(args, args.url, None)
    with fakecomfy_server() as (url, pid):
        return _report(args, url, pid)


def _report(args: argparse.Namespace, url: str, pid: int | None) -> int:
    failed = False
    for n in range(1, args.rounds + 1):
        cpu = cpu_seconds(pid) if pid else 0.0
        result, mine = run_split(url, args.clients, args.prompts, args.timeout, args.pause, args.processes,
                                 args.connect_rate)
        line = (f"round {n}: {result.seconds:5.1f} s (all greeted after {result.connected:4.1f} s)  "
                f"done {result.done}/{args.clients * args.prompts}  "
                f"lost {result.lost}  misrouted {result.misrouted}  client errors {len(result.errors)}  "
                f"messages {result.messages}  client CPU {mine:.1f} s")
        if pid:
            used = cpu_seconds(pid) - cpu
            line += (f"  server CPU {used:.1f} s = {1e6 * used / max(1, result.messages):.2f} us/message"
                     f"  RSS {rss_mib(pid):.0f} MiB")
        print(line, flush=True)
        for error in result.errors[:5]:
            print("   ", error)
        failed |= not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
