"""A differential harness: the same raw requests to the fake and to a reference server.

A *group* (``tests/differential/cases_<group>.py``) is an ordered list of :class:`Step`: raw
HTTP requests, sent byte for byte over a socket (so repeated headers, odd request lines, broken
bodies and bad charsets reach the server as written), with what to compare of each answer.
Recording sends a group to a reference (a real ComfyUI 0.8.0, or an aiohttp app configured
like ComfyUI's) and keeps its answers in ``recorded/<group>.json``; the test suite
(``tests/test_differential.py``) sends the same group to a fresh fake and compares with them.

    python -m tests.differential.harness record origins --target http://127.0.0.1:8190
    python -m tests.differential.harness compare origins --target http://127.0.0.1:8188

``{uniq}`` in a step's path, headers or body becomes a fresh token on every run (real keeps its
files between runs: a case must not find the last run's upload) and is turned back into
``{uniq}`` in the answer before it is stored or compared. Responses are parsed with h11.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import socket
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "recorded"
# what every comparison reads of the headers (others only where a step names them)
ALWAYS_HEADERS = ("content-type",)


@dataclass(frozen=True)
class Step:
    """One request and what of its answer must match the reference.

    ``body`` is what the server should read: ``json`` compares parsed JSON (``ignore`` lists
    dotted paths to leave out, ``*`` for any key or index), ``text`` the text, ``bytes`` a
    digest, ``none`` nothing; ``headers`` names further headers to compare exactly and
    ``present`` headers whose presence alone is compared. ``setup`` steps are sent and not
    compared (an upload a later step reads); ``wait`` seconds pass before the step is sent (a
    prompt the step reads the history of has run). ``raw`` replaces the whole request (request line,
    headers and body as written; ``{host}`` is the target's host:port)."""

    name: str
    method: str = "GET"
    path: str = "/"
    headers: Sequence[tuple[str, str]] = ()
    data: bytes = b""
    body: str = "json"
    ignore: Sequence[str] = ()
    compare_headers: Sequence[str] = ()
    present: Sequence[str] = ()
    setup: bool = False
    raw: bytes | None = None
    host_header: bool = True
    wait: float = 0.0
    note: str = ""
    reason: bool = False  # compare the status line's reason phrase too


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    content: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def target_address(target: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(target)
    return parts.hostname or "127.0.0.1", parts.port or 80


def request_bytes(step: Step, target: str, uniq: str) -> bytes:
    host, port = target_address(target)
    if step.raw is not None:
        return step.raw.replace(b"{host}", f"{host}:{port}".encode()).replace(b"{uniq}", uniq.encode())
    path = step.path.replace("{uniq}", uniq)
    data = step.data.replace(b"{uniq}", uniq.encode())
    lines = [f"{step.method} {path} HTTP/1.1"]
    if step.host_header:
        lines.append(f"Host: {host}:{port}")
    lines += [f"{k}: {v.replace('{uniq}', uniq)}" for k, v in step.headers]
    names = {k.lower() for k, _ in step.headers}
    if data and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(data)}")
    if "connection" not in names:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "surrogateescape") + data


def send(target: str, step: Step, uniq: str, timeout: float = 10.0) -> Reply:
    """Send ``step`` on a new connection and read one response (status 0: none came)."""
    payload = request_bytes(step, target, uniq)
    conn = h11.Connection(h11.CLIENT)
    # h11 keeps the client's side of the exchange; our bytes went out raw, so tell it the method
    method = step.method if step.raw is None else step.raw.split(b" ", 1)[0].decode("latin-1")
    # a handshake's 101 is h11's informational switch, accepted only after an upgrade proposal
    upgrade = b"\r\nupgrade:" in payload.split(b"\r\n\r\n", 1)[0].lower()
    proposal = [("Connection", "upgrade"), ("Upgrade", "websocket")] if upgrade else []
    conn.send(h11.Request(method=method if method in ("HEAD", "CONNECT") else "GET", target="/",
                          headers=[("Host", "x"), *proposal]))
    conn.send(h11.EndOfMessage())
    reply = Reply(0, "")
    chunks: list[bytes] = []
    with socket.create_connection(target_address(target), timeout=timeout) as sock:
        sock.sendall(payload)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    data = b""
                conn.receive_data(data)
                if not data and reply.status == 0:
                    break
                continue
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                reply.status = 101
                reply.reason = event.reason.decode("latin-1")
                reply.headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers]
                break
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                reply.status = event.status_code
                reply.reason = event.reason.decode("latin-1")
                reply.headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers]
                if event.status_code == 101:
                    break
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
    reply.content = b"".join(chunks)
    return reply


def _drop(value: Any, path: list[str]) -> Any:
    if not path:
        return None
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            if rest:
                value[key] = _drop(value[key], rest)
            else:
                del value[key]
    elif isinstance(value, list):
        indexes = range(len(value)) if head == "*" else [int(head)] if head.isdigit() and int(head) < len(value) else []
        for index in indexes:
            value[index] = _drop(value[index], rest) if rest else "<ignored>"
    return value


def summary(step: Step, reply: Reply, uniq: str) -> dict[str, Any]:
    """What of ``reply`` is compared, with ``{uniq}`` put back."""
    def back(text: str) -> str:
        return text.replace(uniq, "{uniq}")

    out: dict[str, Any] = {"status": reply.status}
    if step.reason:
        out["reason"] = reply.reason
    names = [*ALWAYS_HEADERS, *step.compare_headers]
    out["headers"] = {name: back(v) if (v := reply.header(name)) is not None else None for name in names}
    if step.present:
        out["present"] = {name: reply.header(name) is not None for name in step.present}
    if step.body == "json":
        try:
            value = json.loads(back(reply.content.decode("utf-8")))
        except ValueError:
            out["text"] = back(reply.content.decode("utf-8", "replace"))
        else:
            for dotted in step.ignore:
                value = _drop(value, dotted.split("."))
            out["json"] = value
    elif step.body == "text":
        out["text"] = back(reply.content.decode("utf-8", "replace"))
    elif step.body == "bytes":
        out["sha256"] = hashlib.sha256(reply.content).hexdigest()
        out["length"] = len(reply.content)
    return out


def load_group(group: str) -> list[Step]:
    module = importlib.import_module(f"tests.differential.cases_{group}")
    steps: list[Step] = module.STEPS
    names = [s.name for s in steps]
    assert len(names) == len(set(names)), f"{group}: step names repeat"
    return steps


def run_group(group: str, target: str, on_step: Callable[[Step, dict[str, Any]], None] | None = None
              ) -> dict[str, dict[str, Any]]:
    """Each compared step's summary, by name, from ``target``."""
    uniq = "u" + uuid.uuid4().hex[:10]
    answers: dict[str, dict[str, Any]] = {}
    for step in load_group(group):
        if step.wait:
            time.sleep(step.wait)
        got = summary(step, send(target, step, uniq), uniq)
        if not step.setup:
            answers[step.name] = got
        if on_step:
            on_step(step, got)
    return answers


def recorded(group: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((RECORDED / f"{group}.json").read_text(encoding="utf-8"))
    return data


def differences(group: str, target: str) -> list[str]:
    """Each step whose answer from ``target`` differs from the recorded reference's."""
    want = recorded(group)
    got = run_group(group, target)
    problems = []
    for name, answer in got.items():
        if name not in want:
            problems.append(f"{name}: not recorded (record the group again)")
        elif answer != want[name]:
            problems.append(f"{name}:\n  reference {json.dumps(want[name])[:600]}\n"
                            f"  got       {json.dumps(answer)[:600]}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.differential.harness")
    parser.add_argument("action", choices=["record", "compare", "show"])
    parser.add_argument("group")
    parser.add_argument("--target", required=True)
    args = parser.parse_args(argv)
    if args.action == "record":
        answers = run_group(args.group, args.target)
        RECORDED.mkdir(exist_ok=True)
        (RECORDED / f"{args.group}.json").write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n",
                                                     encoding="utf-8")
        print(f"recorded {len(answers)} answers of {args.target} in {RECORDED / (args.group + '.json')}")
        return 0
    if args.action == "show":
        run_group(args.group, args.target, lambda step, got: print(step.name, json.dumps(got)[:400]))
        return 0
    problems = differences(args.group, args.target)
    print("\n".join(problems) or "no differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
