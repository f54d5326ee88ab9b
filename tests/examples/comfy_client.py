"""The client the how-to tests test: a stand-in for yours.

A small ComfyUI client of the usual shape: it opens the WebSocket with its ``clientId``, queues
a workflow, follows its events until ``executing`` with ``node: null``, then downloads the
images through ``/history`` and ``/view``. It turns an ``execution_error`` into an exception
(torch's out-of-memory error into its own), interrupts a prompt that takes too long, and
reconnects with the same ``clientId`` when the WebSocket drops.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import websocket

OOM_TYPES = ("torch.OutOfMemoryError", "torch.cuda.OutOfMemoryError")


class ExecutionFailed(Exception):
    """The server reported an ``execution_error`` for the prompt."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.node_id: str = error["node_id"]
        self.node_type: str = error["node_type"]
        self.exception_type: str = error["exception_type"]
        self.exception_message: str = error["exception_message"]
        super().__init__(f"{self.node_type} (node {self.node_id}) failed: {self.exception_type}: "
                         f"{self.exception_message.strip()}")


class OutOfMemory(ExecutionFailed):
    """The GPU ran out of memory: a smaller batch may fit."""


class GenerationTimeout(Exception):
    """The prompt did not finish in time; it was interrupted."""


class Interrupted(Exception):
    """Someone interrupted the prompt."""


def failure(error: dict[str, Any]) -> ExecutionFailed:
    return (OutOfMemory if error["exception_type"] in OOM_TYPES else ExecutionFailed)(error)


class ComfyClient:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex
        self.reconnects = 0

    def connect(self) -> websocket.WebSocket:
        ws_url = self.url.replace("http://", "ws://") + f"/ws?clientId={self.client_id}"
        return websocket.create_connection(ws_url, timeout=self.timeout)

    def queue(self, workflow: dict[str, Any]) -> str:
        answer = httpx.post(self.url + "/prompt", json={"prompt": workflow, "client_id": self.client_id})
        answer.raise_for_status()
        prompt_id: str = answer.json()["prompt_id"]
        return prompt_id

    def generate(self, workflow: dict[str, Any]) -> list[bytes]:
        """Run ``workflow``; the PNG bytes of the images it saved."""
        ws = self.connect()
        try:
            prompt_id = self.queue(workflow)
            ws = self.follow(ws, prompt_id)
        finally:
            ws.close()
        return self.images(prompt_id)

    def follow(self, ws: websocket.WebSocket, prompt_id: str) -> websocket.WebSocket:
        """Read events until the prompt is done; the socket in use then (a new one after a drop)."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                httpx.post(self.url + "/interrupt", json={"prompt_id": prompt_id})
                raise GenerationTimeout(f"prompt {prompt_id} took longer than {self.timeout} s")
            ws.settimeout(left)
            try:
                frame = ws.recv()
                if frame == "":  # websocket-client's answer to a close frame: the server went away
                    raise websocket.WebSocketConnectionClosedException("closed by the server")
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                ws.shutdown()  # the connection is gone: free its socket, no closing handshake
                ws = self.connect()  # same clientId: the server sends the rest of the events here
                self.reconnects += 1
                if self.finished(prompt_id):  # it ended while we were away
                    return ws
                continue
            if isinstance(frame, str) and self.handle(json.loads(frame), prompt_id):
                return ws

    def handle(self, message: dict[str, Any], prompt_id: str) -> bool:
        """Whether ``message`` ends the prompt (raises for an error or an interrupt)."""
        data = message.get("data", {})
        if data.get("prompt_id") != prompt_id:
            return False
        if message["type"] == "execution_error":
            raise failure(data)
        if message["type"] == "execution_interrupted":
            raise Interrupted(f"prompt {prompt_id} was interrupted at node {data['node_id']}")
        return message["type"] == "executing" and data["node"] is None

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        entry: dict[str, Any] | None = httpx.get(f"{self.url}/history/{prompt_id}").json().get(prompt_id)
        return entry

    def finished(self, prompt_id: str) -> bool:
        entry = self.history(prompt_id)
        if entry is None:
            return False
        for event, data in entry["status"]["messages"]:
            if event == "execution_error":
                raise failure(data)
        return True

    def images(self, prompt_id: str) -> list[bytes]:
        entry = self.history(prompt_id) or {"outputs": {}}
        return [httpx.get(self.url + "/view", params=image).content
                for output in entry["outputs"].values() for image in output.get("images", [])]

    def generate_fitting(self, workflow: dict[str, Any], latent_node: str) -> list[bytes]:
        """``generate``, halving the batch of ``latent_node`` after each out-of-memory error."""
        while True:
            try:
                return self.generate(workflow)
            except OutOfMemory:
                inputs = workflow[latent_node]["inputs"]
                if inputs["batch_size"] == 1:
                    raise
                inputs["batch_size"] //= 2
