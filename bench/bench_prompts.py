"""Prompt throughput over HTTP + WebSocket, next to a bare Starlette floor measured in the same run.

    python bench/bench_prompts.py [--seconds 5] [--clients 8]

Each client holds one keep-alive HTTP connection and one WebSocket, posts
EmptyImage(size) -> SaveImage and waits for ``executing`` with ``node: null`` (a client's
"done" signal) before posting the next. Rows:

* fakecomfy, 64 px, one client, sequential;
* fakecomfy, 512 px, one client, sequential;
* fakecomfy, 64 px, N concurrent clients (total prompts/s);
* bare Starlette: ``POST /prompt`` answers JSON and sends one WebSocket message to the client,
  the least any server can do per prompt (the floor), sequential and concurrent.

Servers run in their own processes (uvicorn, like ``fakecomfy serve``), so the client's Python
does not share a GIL with them. Reference: a real ComfyUI 0.8.0 (--cpu) on this class of
2-core machine does 128/s (64 px), 73/s (512 px), 201/s (8 clients).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid

from websockets.sync.client import connect

REAL_COMFYUI = {"64px": 128.0, "512px": 73.0, "concurrent": 201.0}

BARE_APP = textwrap.dedent('''
    import json, uuid
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    SOCKETS = {}
    async def prompt(request):
        body = json.loads(await request.body())
        pid = str(uuid.uuid4())
        ws = SOCKETS.get(body.get("client_id"))
        if ws is not None:
            await ws.send_text(json.dumps({"type": "executing", "data": {"node": None, "prompt_id": pid}}))
        return Response(json.dumps({"prompt_id": pid, "number": 0, "node_errors": {}}),
                        media_type="application/json")
    async def ws(websocket):
        await websocket.accept()
        SOCKETS[websocket.query_params["clientId"]] = websocket
        try:
            while True:
                await websocket.receive_text()
        except Exception:
            pass
    app = Starlette(routes=[Route("/prompt", prompt, methods=["POST"]), WebSocketRoute("/ws", ws)])
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def start_fakecomfy(base: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fakecomfy", "serve", "--port", str(port),
                             "--base-directory", base, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port)
    return proc, port


def start_bare(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with open(f"{workdir}/bare_app.py", "w") as f:
        f.write(BARE_APP)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port)
    return proc, port


def workflow(size: int, prefix: str, color: int = 0) -> dict[str, object]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1,
                                                         "color": color % 16777216}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}}}


def client_loop(port: int, size: int, deadline: float, counts: list[int], index: int) -> None:
    cid = uuid.uuid4().hex
    # websockets' sync client (C-accelerated framing) keeps the client's own cost per frame
    # small next to the server's; both the fake and the floor are measured with it.
    with connect(f"ws://127.0.0.1:{port}/ws?clientId={cid}", compression=None, max_size=None) as ws:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        done = 0
        while time.monotonic() < deadline:
            # a distinct colour per prompt: every prompt really runs and writes its PNG
            body = json.dumps({"prompt": workflow(size, f"bench{index}/img", done), "client_id": cid}).encode()
            conn.request("POST", "/prompt", body, headers)
            pid = json.loads(conn.getresponse().read())["prompt_id"]
            while True:
                frame = ws.recv()
                if isinstance(frame, str) and '"node": null' in frame and pid in frame:
                    break
            done += 1
        conn.close()
    counts[index] = done


def throughput(port: int, size: int, clients: int, seconds: float) -> float:
    counts = [0] * clients
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=client_loop, args=(port, size, deadline, counts, i)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    # Outputs go to memory (/dev/shm) where there is one: on a disk, writeback of thousands of
    # small PNGs makes the figures swing by 2x from run to run.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        fake, fake_port = start_fakecomfy(tmp)
        bare, bare_port = start_bare(tmp)
        try:
            throughput(fake_port, 64, 1, 1.0)  # warm-up
            rows = [
                ("64 px, sequential", throughput(fake_port, 64, 1, args.seconds),
                 throughput(bare_port, 64, 1, args.seconds), REAL_COMFYUI["64px"]),
                ("512 px, sequential", throughput(fake_port, 512, 1, args.seconds), None, REAL_COMFYUI["512px"]),
                (f"64 px, {args.clients} clients", throughput(fake_port, 64, args.clients, args.seconds),
                 throughput(bare_port, 64, args.clients, args.seconds), REAL_COMFYUI["concurrent"]),
            ]
        finally:
            fake.terminate()
            bare.terminate()
            fake.wait()
            bare.wait()
    print(f"{'workload':<22} {'fakecomfy/s':>12} {'bare floor/s':>13} {'real 0.8.0/s':>13} {'vs real':>8}")
    for name, fake_rate, floor, real in rows:
        floor_text = f"{floor:13.0f}" if floor is not None else f"{'-':>13}"
        print(f"{name:<22} {fake_rate:12.0f} {floor_text} {real:13.0f} {fake_rate / real:7.1f}x")


if __name__ == "__main__":
    main()
