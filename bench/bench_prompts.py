"""Prompt throughput over HTTP + WebSocket, next to a bare Starlette floor measured in the same run.

    python bench/bench_prompts.py [--seconds 3] [--runs 5] [--clients 8] [--client lean|simple]

Each client holds one keep-alive HTTP connection and one WebSocket, posts
EmptyImage(size) -> SaveImage and reads every message until ``executing`` with ``node: null``
(a client's "done" signal) before posting the next. Rows:

* fakecomfy, 64 px, one client, sequential;
* fakecomfy, 512 px, one client, sequential;
* fakecomfy, 64 px, N concurrent clients (total prompts/s);
* bare Starlette: ``POST /prompt`` answers JSON and sends one WebSocket message to the client,
  the least any server can do per prompt (the floor), sequential and concurrent.

Clients (``--client``), the same for the fake and the floor:

* ``lean`` (default): keep-alive HTTP/1.1 and the WebSocket (handshake checked, every frame
  decoded) written and read by hand on blocking sockets - as little client work per message as
  Python allows, so that the figure measures the server;
* ``simple``: ``http.client`` + websockets' threaded sync client, what a script would use.

Servers run in their own processes (uvicorn, like ``fakecomfy serve``), so the client's Python
does not share a GIL with them. Each row is the median of ``--runs`` runs, taken in turns over
all rows (the fake's min-max is shown too); the CPU time the hypervisor took from this machine
during the runs (steal) is printed: above a few percent the figures are low and noisy.
Reference: a real ComfyUI 0.8.0 (--cpu) on this class of 2-core machine does 128/s (64 px),
73/s (512 px), 201/s (8 clients).
"""
from __future__ import annotations

import argparse
import base64
import collections
import functools
import hashlib
import http.client
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid

from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 4.2.2
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


class SimpleClient:
    """``http.client`` for HTTP, websockets' sync client (a reader thread) for the WebSocket."""

    def __init__(self, port: int, cid: str) -> None:
        # max_queue=None: status broadcasts of other clients' prompts keep arriving after a client
        # stops reading; with a bounded queue its reader thread stalls and close() waits 10 s.
        self.ws = connect(f"ws://127.0.0.1:{port}/ws?clientId={cid}", compression=None, max_size=None,
                          max_queue=None)
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes) -> bytes:
        self.http.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.http.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:200]!r}")
        return data

    def recv(self) -> str | bytes:
        return self.ws.recv()

    def close(self) -> None:
        self.http.close()
        self.ws.close()


class LeanClient:
    """Keep-alive HTTP/1.1 requests and a WebSocket, both on blocking sockets and written and read
    directly: the handshake is checked (101 and ``Sec-WebSocket-Accept``) and every frame the
    server sends is decoded (text as UTF-8), but with a few lines per frame instead of a
    general-purpose protocol stack, so that the loop's time is the server's."""

    def __init__(self, port: int, cid: str) -> None:
        # One receive buffer for every read: recv(n) allocates n bytes per call, which for a
        # large n is an mmap, an mremap and a munmap (and page faults) per message burst.
        self.buffer = bytearray(1 << 20)
        self.http = self._connect(port)
        self.http_buffer = b""
        self.sock = self._connect(port)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET /ws?clientId=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          % (cid.encode(), port, key))
        head, self.ws_buffer = self._head(self.sock, b"")
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])}
        if not head.startswith(b"HTTP/1.1 101 ") or headers.get(b"sec-websocket-accept") != accept:
            raise ConnectionError(f"WebSocket handshake refused: {head!r}")
        self.messages: collections.deque[str | bytes] = collections.deque()

    @staticmethod
    def _connect(port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Blocking, with the 30 s limit kept by the kernel: a Python-level timeout polls before
        # every read and write.
        sock.settimeout(None)
        limit = struct.pack("ll", 30, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        return sock

    def _head(self, sock: socket.socket, buffer: bytes) -> tuple[bytes, bytes]:
        """An HTTP response head read from ``sock`` after ``buffer``, and the bytes after it."""
        while b"\r\n\r\n" not in buffer:
            buffer += self._recv(sock)
        head, _, rest = buffer.partition(b"\r\n\r\n")
        return head, rest

    def _recv(self, sock: socket.socket) -> bytes:
        size = sock.recv_into(self.buffer)
        if not size:
            raise ConnectionError("the server closed the connection")
        return bytes(memoryview(self.buffer)[:size])

    def _read(self) -> None:
        """Decode the whole frames received so far (RFC 6455 5.2: a server's are unmasked)."""
        buf = self.ws_buffer + self._recv(self.sock) if self.ws_buffer else self._recv(self.sock)
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, start = second & 0x7F, pos + 2
            if second & 0x80 or not first & 0x80:
                raise ConnectionError("a masked or fragmented frame from the server")
            if length == 126:
                length, start = int.from_bytes(buf[start:start + 2], "big"), start + 2
            elif length == 127:
                length, start = int.from_bytes(buf[start:start + 8], "big"), start + 8
            if start + length > end:
                break
            opcode, payload = first & 0x0F, buf[start:start + length]
            if opcode == 1:
                self.messages.append(payload.decode("utf-8"))
            elif opcode == 2:
                self.messages.append(payload)
            elif opcode == 9:  # ping: a masked pong with the same data
                self.sock.sendall(Frame(Opcode.PONG, payload).serialize(mask=True, extensions=[]))
            elif opcode == 8:
                raise ConnectionError("the server closed the WebSocket")
            pos = start + length
        self.ws_buffer = buf[pos:]

    def recv(self) -> str | bytes:
        while not self.messages:
            self._read()
        return self.messages.popleft()

    def post(self, path: str, body: bytes) -> bytes:
        self.http.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        head, rest = self._head(self.http, self.http_buffer)
        found = CONTENT_LENGTH.search(head)
        if found is None:
            raise RuntimeError(f"POST {path}: no Content-Length in {head!r}")
        length = int(found.group(1))
        while len(rest) < length:
            rest += self._recv(self.http)
        self.http_buffer = rest[length:]
        if head[9:12] != b"200":
            raise RuntimeError(f"POST {path}: {head[:40]!r} {rest[:200]!r}")
        return rest[:length]

    def close(self) -> None:
        self.http.close()
        self.sock.close()


CLIENTS: dict[str, type[SimpleClient] | type[LeanClient]] = {"lean": LeanClient, "simple": SimpleClient}
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def client_loop(kind: str, port: int, size: int, deadline: float, counts: list[int], ends: list[float],
                index: int) -> None:
    cid = uuid.uuid4().hex
    client = CLIENTS[kind](port, cid)
    done = 0
    try:
        while time.monotonic() < deadline:
            # a distinct colour per prompt: every prompt really runs and writes its PNG
            body = json.dumps({"prompt": workflow(size, f"bench{index}/img", done), "client_id": cid}).encode()
            pid = json.loads(client.post("/prompt", body))["prompt_id"]
            while True:
                frame = client.recv()
                if isinstance(frame, str) and '"node": null' in frame and pid in frame:
                    break
            done += 1
        ends[index] = time.monotonic()  # closing is not part of the work measured
    finally:
        client.close()
    counts[index] = done


def throughput(kind: str, port: int, size: int, clients: int, seconds: float) -> float:
    counts = [0] * clients
    ends = [0.0] * clients
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=client_loop, args=(kind, port, size, deadline, counts, ends, i))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (max(ends) - start)


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    ap.add_argument("--runs", type=int, default=5, help="runs per row; the median is shown")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--client", choices=sorted(CLIENTS), default="lean")
    args = ap.parse_args()
    # Outputs go to memory (/dev/shm) where there is one: on a disk, writeback of thousands of
    # small PNGs makes the figures swing by 2x from run to run.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        fake, fake_port = start_fakecomfy(tmp)
        bare, bare_port = start_bare(tmp)
        before = cpu_ticks()
        try:
            throughput(args.client, fake_port, 64, 1, 1.0)  # warm-up
            # (row, fake or floor, port, size, clients); runs go round-robin over all of them, so
            # that each row samples the same moments of a noisy host
            plan = [(0, 0, fake_port, 64, 1), (0, 1, bare_port, 64, 1), (1, 0, fake_port, 512, 1),
                    (2, 0, fake_port, 64, args.clients), (2, 1, bare_port, 64, args.clients)]
            rates: dict[tuple[int, int], list[float]] = {(row, side): [] for row, side, *_ in plan}
            for _ in range(args.runs):
                for row, side, port, size, clients in plan:
                    rates[row, side].append(throughput(args.client, port, size, clients, args.seconds))
        finally:
            fake.terminate()
            bare.terminate()
            fake.wait()
            bare.wait()
        after = cpu_ticks()
    print(f"client: {args.client}; median of {args.runs} runs of {args.seconds:g} s (taken in turns)")
    print(f"{'workload':<22} {'fakecomfy/s':>12} {'(min-max)':>12} {'bare floor/s':>13} {'real 0.8.0/s':>13} "
          f"{'vs real':>8}")
    names = [("64 px, sequential", "64px"), ("512 px, sequential", "512px"),
             (f"64 px, {args.clients} clients", "concurrent")]
    for row, (name, reference) in enumerate(names):
        real = REAL_COMFYUI[reference]
        fake_rates, floor_rates = rates[row, 0], rates.get((row, 1))
        fake_rate = statistics.median(fake_rates)
        spread = f"({min(fake_rates):.0f}-{max(fake_rates):.0f})"
        floor_text = f"{statistics.median(floor_rates):13.0f}" if floor_rates else f"{'-':>13}"
        print(f"{name:<22} {fake_rate:12.0f} {spread:>12} {floor_text} {real:13.0f} {fake_rate / real:7.1f}x")
    if before is not None and after is not None and after[1] > before[1]:
        print(f"CPU steal during the runs: {100 * (after[0] - before[0]) / (after[1] - before[1]):.1f} %")


if __name__ == "__main__":
    main()
