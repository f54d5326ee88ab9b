"""The protocol floor: a bare Starlette app that sends, per prompt, the WebSocket messages a real
ComfyUI 0.8.0 sends for the workload, and does nothing else.

    uvicorn floor:app        (FLOOR_WORKLOAD=empty|txt2img|img2img: a key of workloads.FLOORS)
    python bench/floor.py [--golden ../shared/golden]     check the builder against the recordings

How the message lists are derived. :func:`prompt_messages` writes the sequence that the real
server's transcripts show (``../shared/golden/exec_empty_save.json`` and
``exec_sd15_txt2img.json``): two
``status`` broadcasts (queue put, worker pick-up), ``execution_start``, ``execution_cached``
(the cached ids in prompt key order), then per node that runs ``progress_state`` (the cumulative
map, this node ``running`` 0.0/1.0), ``executing``, per sampler step ``progress_state``
(int ``step``/``steps``) and ``progress``, ``executed`` for an output node, ``progress_state``
(this node ``finished``), and last ``execution_success``, a ``status`` broadcast (queue 0) and
``executing`` with ``node: null``. Every message is ``json.dumps`` with default separators, as
aiohttp's ``send_json`` writes it; cached nodes send nothing and stay out of the maps.
Run as a script, this module rebuilds the two recorded prompts from their ids and file names and
checks that every text message comes out equal to the recorded one (timestamps aside), so the
sizes are the real ones. The binary preview frames of the recording are left out: they come only
with ``extra_data.preview_method``, which the bench's prompts do not set.

A workload's list (``workloads.py``) is its steady state, the one the bench measures: with a new
seed per prompt the cache holds every node but the sampler and what follows it, so txt2img
512 px, 20 steps is 57 messages (about 12.3 KB) and so is img2img; EmptyImage -> SaveImage is 14
(about 3.2 KB) at any size. The prompt id is filled into pre-built texts, so the floor's
per-prompt work is one ``str.replace`` and one send per message; ``status`` messages go to
every socket, the rest to the posting client; the first ``status`` (the queue put)
before the HTTP response, the rest after it, as from a worker. The bench also records one prompt of each
workload from the fake and from the floor and prints both counts and sizes.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"  # a uuid4's length: the sizes stay right


@dataclass(frozen=True)
class RunNode:
    """A node that runs: its id, its sampler steps (0: not a sampler) and, for an output node,
    the images of its ``executed`` message as (filename, subfolder)."""

    node_id: str
    steps: int = 0
    images: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Message:
    text: str
    broadcast: bool = False  # status goes to every socket, execution messages to the client


@dataclass
class _Progress:
    """The cumulative ``progress_state`` map of one prompt."""

    prompt_id: str
    nodes: dict[str, dict[str, object]] = field(default_factory=dict)

    def set(self, node_id: str, value: object, maximum: object, state: str) -> Message:
        self.nodes[node_id] = {"value": value, "max": maximum, "state": state, "node_id": node_id,
                               "prompt_id": self.prompt_id, "display_node_id": node_id,
                               "parent_node_id": None, "real_node_id": node_id}
        return _message("progress_state", {"prompt_id": self.prompt_id, "nodes": self.nodes})


def _message(kind: str, data: dict[str, object], broadcast: bool = False) -> Message:
    return Message(json.dumps({"type": kind, "data": data}), broadcast)


def status(queue_remaining: int, sid: str | None = None) -> Message:
    data: dict[str, object] = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:  # only the greeting carries the sid
        data["sid"] = sid
    return _message("status", data, broadcast=sid is None)


def prompt_messages(prompt_id: str, cached: list[str], nodes: list[RunNode],
                    timestamp: int | None = None) -> list[Message]:
    """Every WebSocket message real ComfyUI sends for one successful prompt posted with a
    client_id, in order, from the queue put to ``executing`` with ``node: null``."""
    ms = int(time.time() * 1000) if timestamp is None else timestamp
    progress = _Progress(prompt_id)
    out = [status(1), status(1), _message("execution_start", {"prompt_id": prompt_id, "timestamp": ms}),
           _message("execution_cached", {"nodes": cached, "prompt_id": prompt_id, "timestamp": ms})]
    for node in nodes:
        nid = node.node_id
        out.append(progress.set(nid, 0.0, 1.0, "running"))
        out.append(_message("executing", {"node": nid, "display_node": nid, "prompt_id": prompt_id}))
        for step in range(1, node.steps + 1):  # a ProgressBar's values are ints
            out.append(progress.set(nid, step, node.steps, "running"))
            out.append(_message("progress", {"value": step, "max": node.steps, "prompt_id": prompt_id,
                                             "node": nid}))
        if node.images:
            images = [{"filename": name, "subfolder": sub, "type": "output"} for name, sub in node.images]
            out.append(_message("executed", {"node": nid, "display_node": nid, "output": {"images": images},
                                             "prompt_id": prompt_id}))
        done: object = node.steps if node.steps else 1.0
        out.append(progress.set(nid, done, done, "finished"))
    out += [_message("execution_success", {"prompt_id": prompt_id, "timestamp": ms}), status(0),
            _message("executing", {"node": None, "prompt_id": prompt_id})]
    return out


# -- the app ---------------------------------------------------------------------------------

def create_app(templates: list[Message]) -> Starlette:
    """The floor server for one workload's pre-built messages (``PLACEHOLDER`` for the id)."""
    sockets: dict[str, WebSocket] = {}
    queued, executed = templates[:1], templates[1:]  # the queue put's status is sent by POST /prompt
    counter = [0]

    async def send(messages: list[Message], pid: str, target: WebSocket | None) -> None:
        for message in messages:
            text = message.text.replace(PLACEHOLDER, pid)
            if message.broadcast:
                for ws in list(sockets.values()):
                    # a client that is closing; real ComfyUI skips it too
                    with contextlib.suppress(Exception):
                        await ws.send_text(text)
            elif target is not None:
                await target.send_text(text)

    async def prompt(request: Request) -> Response:
        body = json.loads(await request.body())  # only for client_id: no validation
        pid = str(uuid.uuid4())
        target = sockets.get(body.get("client_id"))
        await send(queued, pid, target)
        counter[0] += 1
        # the rest once the response is out, as a worker sends them
        return Response(json.dumps({"prompt_id": pid, "number": counter[0], "node_errors": {}}),
                        media_type="application/json; charset=utf-8",
                        background=BackgroundTask(send, executed, pid, target))

    async def ws(websocket: WebSocket) -> None:
        cid = websocket.query_params.get("clientId") or uuid.uuid4().hex
        await websocket.accept()
        sockets[cid] = websocket
        try:
            await websocket.send_text(status(0, cid).text)
            while True:
                await websocket.receive_text()
        except Exception:  # noqa: BLE001 - the client left
            pass
        finally:
            if sockets.get(cid) is websocket:
                del sockets[cid]

    return Starlette(routes=[Route("/prompt", prompt, methods=["POST"]), WebSocketRoute("/ws", ws)])


def _workload_app() -> Starlette:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import workloads

    return create_app(workloads.floor_messages(os.environ["FLOOR_WORKLOAD"], PLACEHOLDER))


# -- the check against the recordings --------------------------------------------------------

def _recorded(golden: Path, scenario: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    doc = json.loads((golden / f"{scenario}.json").read_text())
    texts = [m["text"] for m in doc["ws"]["ws"]["messages"] if "text" in m]
    return doc["vars"], texts[1:]  # without the greeting


def check(golden: Path) -> bool:
    """Rebuild the recorded prompts and compare each message (timestamps copied over)."""
    graphs: dict[str, Callable[[str], list[RunNode]]] = {
        "exec_empty_save": lambda run: [RunNode("1"), RunNode("2", images=(("basic_00001_.png", run),))],
        "exec_sd15_txt2img": lambda run: [RunNode("4"), RunNode("5"), RunNode("7"), RunNode("6"),
                                          RunNode("3", steps=3), RunNode("8"),
                                          RunNode("9", images=(("sd15_00001_.png", run),))],
    }
    ok = True
    for scenario, graph in graphs.items():
        variables, recorded = _recorded(golden, scenario)
        stamp = next(m["data"]["timestamp"] for m in recorded if m["type"] == "execution_start")
        built = [json.loads(m.text) for m in prompt_messages(variables["p1"], [], graph(variables["run"]), stamp)]
        for m in recorded:  # success comes later than start
            if m["type"] == "execution_success":
                m["data"]["timestamp"] = stamp
        same = built == recorded
        sizes = sum(len(json.dumps(m).encode()) for m in recorded)
        print(f"{scenario}: {len(built)} built / {len(recorded)} recorded text messages, "
              f"{sizes} B recorded: {'identical' if same else 'DIFFERENT'}")
        if not same:
            ok = False
            for i, (b, r) in enumerate(zip(built, recorded, strict=False)):
                if b != r:
                    print(f"  first difference at {i}:\n  built    {b}\n  recorded {r}")
                    break
    return ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="check the floor's message builder against recorded transcripts")
    ap.add_argument("--golden", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "golden")
    sys.exit(0 if check(ap.parse_args().golden) else 1)
else:
    app = _workload_app() if "FLOOR_WORKLOAD" in os.environ else None
