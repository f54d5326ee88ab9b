"""The WebSocket and one prompt: the greeting, the ``feature_flags`` answer, a model-free prompt's
messages (each against its schema, then their order), and that prompt in history and jobs."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fakecomfy import protocol as p
from fakecomfy.contract import spec
from fakecomfy.contract.client import ContractClient
from fakecomfy.contract.report import Check, Outcome, judged

_WS_OPERATION = "connectWebSocket"
# What the client announces: no preview metadata (and the prompt asks for no previews at all).
_FEATURE_FLAGS = {"type": p.EV_FEATURE_FLAGS, "data": {p.FEATURE_PREVIEW_METADATA: False}}
Event = tuple[Any, Any]  # a message's (type, data), as received


def model_free_prompt(token: str) -> dict[str, Any]:
    """EmptyImage 64x64 -> PreviewImage; the colour comes from the run's token, so no earlier run's
    cached outputs are reused and both nodes execute."""
    color = int(token[:6], 16) if len(token) >= 6 else 0
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": color}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }


def ws_url(base: str, client_id: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={client_id}", ""))


def check_websocket_and_prompt(client: ContractClient) -> str | None:
    """Connect, run the session; the id of the prompt it queued, if the target accepted it."""
    import websocket  # websocket-client

    client_id = client.own_name
    url = ws_url(client.base, client_id)
    try:
        ws = websocket.create_connection(url, timeout=client.timeout,
                                         header=[f"{k}: {v}" for k, v in client.headers.items()])
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        client.add(Check(f"WS {urlsplit(url).path}?clientId=<fresh> connect", Outcome.FAIL, _WS_OPERATION,
                         f"GET {url} (upgrade)", None, [f"could not connect: {exc!r}"]))
        client.skip("queuePrompt", "POST /prompt", "no WebSocket")
        return None
    try:
        return PromptSession(client, ws, client_id, url).run()
    finally:
        ws.close()


class PromptSession:
    """One open WebSocket (websocket-client's ``WebSocket``) and the prompt sent while it listens."""

    def __init__(self, client: ContractClient, ws: Any, client_id: str, url: str) -> None:
        self.client = client
        self.ws = ws
        self.client_id = client_id
        self.shown = f"GET {urlsplit(url).path}?clientId={client_id} (upgrade)"

    def run(self) -> str | None:
        deadline = time.monotonic() + self.client.timeout
        self.check_greeting(deadline)
        self.check_feature_flags(deadline)
        prompt_id = self.check_prompt()
        if prompt_id is not None:
            check_prompt_results(self.client, prompt_id)
        return prompt_id

    def _recv(self, deadline: float) -> str | bytes:
        """The next frame: text decoded, binary as bytes."""
        import websocket

        self.ws.settimeout(max(0.1, deadline - time.monotonic()))
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return bytes(data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionError("the server closed the socket")
        return str(data.decode("utf-8"))

    def _add(self, name: str, request: str, problems: list[str], note: str = "") -> None:
        self.client.add(Check(name, judged(problems), _WS_OPERATION, request, None, problems, note=note))

    def check_greeting(self, deadline: float) -> None:
        """The first message is ``status`` carrying the clientId as ``sid``."""
        frame = self._recv(deadline)
        problems = ["first frame is binary"] if isinstance(frame, bytes) else spec.check_ws_message(frame)
        if not problems:
            msg = json.loads(frame)
            if msg.get("type") != p.EV_STATUS:
                problems.append(f"first message is {msg.get('type')!r}, not {p.EV_STATUS}")
            elif msg["data"].get("sid") != self.client_id:
                problems.append(f"greeting sid is {msg['data'].get('sid')!r}, not the clientId {self.client_id!r}")
        self._add("WS greeting (status with sid)", self.shown, problems)

    def check_feature_flags(self, deadline: float) -> None:
        """Sent ``feature_flags`` is answered with the server's own, before any binary frame."""
        sent = json.dumps(_FEATURE_FLAGS)
        self.ws.send(sent)
        problems: list[str] = []
        while True:
            frame = self._recv(deadline)
            if isinstance(frame, bytes):
                problems.append(f"binary frame before the {p.EV_FEATURE_FLAGS} answer")
                continue
            problems += spec.check_ws_message(frame)
            if json.loads(frame).get("type") == p.EV_FEATURE_FLAGS:
                break
        self._add(f"WS {p.EV_FEATURE_FLAGS} answer", f"send {sent}", problems)

    def check_prompt(self) -> str | None:
        """Queue the model-free prompt, check every message up to its ``executing`` null."""
        body = {"prompt": model_free_prompt(self.client.token), "client_id": self.client_id}
        posted = self.client.call("queuePrompt", "POST", "/prompt", label="POST /prompt (EmptyImage -> PreviewImage)",
                                  json=body, check_body=lambda r: [] if isinstance(r.json().get("prompt_id"), str)
                                  else ["no prompt_id"])
        if posted is None or posted.status_code != 200:
            self.client.skip(_WS_OPERATION, "WS prompt events", "the prompt was not accepted")
            return None
        prompt_id: str = posted.json()["prompt_id"]
        events, problems, binary = self._prompt_events(prompt_id)
        self._add("WS messages of the prompt (schemas)", f"POST /prompt {json.dumps(body)[:120]}...", problems)
        shown = f"POST /prompt (prompt_id {prompt_id})"
        self._add("WS event order", shown, event_order_problems(events, prompt_id),
                  note=" ".join(t for t, _ in events))
        self._add("WS no binary frames without preview_method", shown,
                  [f"{binary} binary frames arrived"] if binary else [])
        return prompt_id

    def _prompt_events(self, prompt_id: str) -> tuple[list[Event], list[str], int]:
        """(every text message's type and data, their schema problems, how many binary frames)
        up to ``executing`` with node null for this prompt."""
        events: list[Event] = []
        problems: list[str] = []
        binary = 0
        deadline = time.monotonic() + self.client.timeout
        try:
            while True:
                frame = self._recv(deadline)
                if isinstance(frame, bytes):
                    binary += 1
                    continue
                problems += spec.check_ws_message(frame)
                msg = json.loads(frame)
                events.append((msg.get("type"), msg.get("data")))
                if _is_prompt_end(msg, prompt_id):
                    break
        except Exception as exc:  # noqa: BLE001 - a timeout or a closed socket
            problems.append(f"no {p.EV_EXECUTING} with node null for the prompt: {exc!r}")
        return events, problems, binary


def _is_prompt_end(msg: dict[str, Any], prompt_id: str) -> bool:
    """``executing`` with node null for this prompt: it is done and in history."""
    data = msg.get("data") or {}
    return bool(msg.get("type") == p.EV_EXECUTING and data.get("node") is None and data.get("prompt_id") == prompt_id)


def check_prompt_results(client: ContractClient, prompt_id: str) -> None:
    """The finished prompt in ``/history/{id}`` and ``/api/jobs/{id}``; an unknown job is a 404."""
    client.both("getHistoryEntry", "GET", f"/history/{prompt_id}",
                check_body=lambda r: [] if prompt_id in r.json() else [f"{prompt_id} is not in the answer"])
    client.call("getJob", "GET", f"/api/jobs/{prompt_id}", label="GET /api/jobs/{job_id}")
    client.call("getJob", "GET", f"/api/jobs/{client.own_name}-unknown", label="GET /api/jobs/{job_id} (unknown: 404)",
                expect=(404,))


# The events of one prompt that event_order_problems follows (other prompts' events are ignored).
_PROMPT_EVENTS = (p.EV_EXECUTION_START, p.EV_EXECUTION_CACHED, p.EV_EXECUTION_SUCCESS, p.EV_EXECUTION_ERROR,
                 p.EV_EXECUTION_INTERRUPTED)
_EXECUTING_NULL = f"{p.EV_EXECUTING} null"  # executing with node null: the prompt is done


def _prompt_sequence(events: list[Event], prompt_id: str) -> list[str]:
    """The events as event_order_problems reads them: every status, and this prompt's own."""
    mine: list[str] = []
    for kind, data in events:
        data = data if isinstance(data, dict) else {}
        if kind == p.EV_STATUS:
            mine.append(p.EV_STATUS)
        elif data.get("prompt_id") == prompt_id and kind in _PROMPT_EVENTS:
            mine.append(kind)
        elif kind == p.EV_EXECUTING and data.get("prompt_id") == prompt_id:
            mine.append(_EXECUTING_NULL if data.get("node") is None else p.EV_EXECUTING)
    return mine


def event_order_problems(events: list[Event], prompt_id: str) -> list[str]:
    """The order status, execution_start, execution_cached, executing..., execution_success,
    status, executing null, for this prompt (other prompts' events ignored)."""
    mine = _prompt_sequence(events, prompt_id)
    problems = []

    def index(kind: str) -> int:
        return mine.index(kind) if kind in mine else -1

    start, cached, success = index(p.EV_EXECUTION_START), index(p.EV_EXECUTION_CACHED), index(p.EV_EXECUTION_SUCCESS)
    for kind in (p.EV_EXECUTION_ERROR, p.EV_EXECUTION_INTERRUPTED):
        if kind in mine:
            problems.append(f"the prompt ended with {kind}")
    if start < 0:
        problems.append(f"no {p.EV_EXECUTION_START}")
    elif p.EV_STATUS not in mine[:start]:
        problems.append(f"no {p.EV_STATUS} before {p.EV_EXECUTION_START}")
    if cached < 0 or (start >= 0 and cached < start):
        problems.append(f"no {p.EV_EXECUTION_CACHED} after {p.EV_EXECUTION_START}")
    running = [i for i, k in enumerate(mine) if k == p.EV_EXECUTING]
    if not running:
        problems.append(f"no {p.EV_EXECUTING} with a node")
    elif cached >= 0 and running[0] < cached:
        problems.append(f"{p.EV_EXECUTING} before {p.EV_EXECUTION_CACHED}")
    if success < 0:
        problems.append(f"no {p.EV_EXECUTION_SUCCESS}")
    elif running and running[-1] > success:
        problems.append(f"{p.EV_EXECUTING} after {p.EV_EXECUTION_SUCCESS}")
    if not mine or mine[-1] != _EXECUTING_NULL:
        problems.append(f"the stream does not end with {p.EV_EXECUTING} node null")
    elif success >= 0 and p.EV_STATUS not in mine[success:-1]:
        problems.append(f"no {p.EV_STATUS} between {p.EV_EXECUTION_SUCCESS} and {_EXECUTING_NULL}")
    if problems:
        problems.append("seen: " + ", ".join(mine))
    return problems


__all__ = ["Event", "PromptSession", "check_prompt_results", "check_websocket_and_prompt", "event_order_problems",
           "model_free_prompt", "ws_url"]
