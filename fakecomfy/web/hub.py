"""The WebSocket hub: who is connected, what they negotiated, and ordered delivery to them.

Events come from the worker thread; they are encoded there (``web/frames.py``) and handed to
the event loop, where each connection has a queue and a writer task, so every client sees
messages in the order they were produced.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from fakecomfy import protocol
from fakecomfy.core.execution import Preview
from fakecomfy.core.faults import FaultKind, Faults
from fakecomfy.core.journal import Journal
from fakecomfy.web import coalesce
from fakecomfy.web.frames import FrameCheck, FrameEncoder

Frame = str | bytes
BINARY = "binary"  # how the journal names a binary (preview) frame
# After these a prompt runs no node any more (ComfyUI resets last_node_id as execution ends).
_PROMPT_END_EVENTS = frozenset({protocol.EV_EXECUTION_SUCCESS, protocol.EV_EXECUTION_ERROR,
                                protocol.EV_EXECUTION_INTERRUPTED})


class Delivery(enum.Enum):
    """How a client's next frame goes out."""

    DIRECT = enum.auto()  # nothing waits: straight to the connection, when it can take one
    QUEUED = enum.auto()  # frames wait for the writer task, or it is writing them: join the queue
    CLOSING = enum.auto()  # the socket is going: the writer sends what waits and stops; no new frames


class Client:
    """One socket: its sid, negotiated flags, and the frames waiting for its writer task."""

    def __init__(self, sid: str, websocket: WebSocket,
                 send: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
                 direct: Callable[[bytes], bool] | None = None, abort: Callable[[], None] | None = None) -> None:
        self.sid = sid
        self.websocket = websocket
        # where the writer sends frames once the socket is accepted (default: the WebSocket's)
        self.send = send
        # writes a frame built by coalesce.frame at once, or returns False when it cannot (the
        # server protocol's write_frame, handed over in the connection's scope)
        self.direct = direct
        self.abort = abort  # drops the connection at once (a control-plane fault), if it can
        self.feature_flags: Any = {}  # whatever the client sent as ``data``
        self.state = Delivery.DIRECT
        self.sent = 0  # frames handed to this socket so far
        self.close_code: int | None = None  # sent as a close frame once what waits is written
        # A deque and a wake-up future instead of an asyncio.Queue: a prompt queues a dozen
        # frames at once, and the writer takes them all in one go.
        self._outbox: collections.deque[Frame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def put(self, frame: Frame, wire: bytes | None = None) -> None:
        """Send or queue a frame (event loop thread): straight out when nothing waits before it
        and the server can write it; ``wire`` is the frame already framed (a broadcast frames
        it once for every socket)."""
        state = self.state
        if state is Delivery.CLOSING:
            return
        self.sent += 1
        if state is Delivery.DIRECT and self.direct is not None \
                and self.direct(coalesce.frame(frame) if wire is None else wire):
            return
        self._outbox.append(frame)
        self.state = Delivery.QUEUED
        self._wake()

    def close(self, code: int | None = None) -> None:
        """The socket is going: the writer sends what waits, then (with ``code``) a close
        frame, and stops."""
        if code is not None and self.state is not Delivery.CLOSING:
            self.close_code = code
        self.state = Delivery.CLOSING
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pending(self) -> list[Frame]:
        """The frames not written yet, oldest first."""
        return list(self._outbox)

    async def next_batch(self) -> collections.deque[Frame]:
        """Everything queued so far (for the writer task), waiting while there is nothing and
        the socket stays; empty once it is closing and everything was taken."""
        while not self._outbox and self.state is not Delivery.CLOSING:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch, self._outbox = self._outbox, collections.deque()
        return batch

    def written(self) -> None:
        """The writer sent a batch: with nothing more waiting, frames may go straight out again."""
        if not self._outbox and self.state is Delivery.QUEUED:
            self.state = Delivery.DIRECT

    @property
    def wants_preview_metadata(self) -> bool:
        # ComfyUI tests the flag with ``is True``: 1 or "true" do not count.
        flags = self.feature_flags
        return isinstance(flags, dict) and flags.get(protocol.FEATURE_PREVIEW_METADATA) is True


# How late a frame from the worker may reach its sockets while prompts run: the loop collects
# them at this interval instead of being woken for each burst (ComfyUI's loop is woken per
# message); a prompt's last frames leave at once (flush).
WORKER_FRAME_DELAY = 0.002

class WebSocketHub:
    """Implements the executor's Reporter: thread-safe sends to one sid or to everyone."""

    def __init__(self, busy: Callable[[], bool] = lambda: False, frame_check: FrameCheck | None = None,
                 journal: Journal | None = None, faults: Faults | None = None) -> None:
        self.clients: dict[str, Client] = {}
        self.frames = FrameEncoder(frame_check)
        self.journal = journal  # every message sent is recorded here
        self.faults = faults  # WebSocket faults: closes and silences
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # (sid, node) of the last ``executing`` sent for a running prompt (ComfyUI's last_node_id).
        self._executing: tuple[str, str] | None = None
        # Frames from the worker thread, waiting for the loop. While prompts are queued or
        # running (``busy``) the loop collects them every WORKER_FRAME_DELAY; otherwise, and at
        # every flush(), the worker wakes the loop itself.
        self._busy = busy
        self._pending: list[tuple[Frame, str | None, str | None]] = []  # frame, sid, event type
        self._pending_lock = threading.Lock()
        self._wake_sent = False  # a _drain is on its way to the loop
        self._collecting = False  # the loop's _collect is scheduled (read by the worker)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._loop_thread = threading.get_ident()

    # ---- connections (event loop thread) --------------------------------------------------
    def register(self, client: Client) -> None:
        """A second socket with the same sid replaces the first in the routing table."""
        self.clients[client.sid] = client

    def unregister(self, sid: str) -> None:
        # Real ComfyUI drops the sid on any close, even of a replaced duplicate.
        self.clients.pop(sid, None)

    def negotiate(self, sid: str, flags: Any) -> Client | None:
        """A ``feature_flags`` message: the flags go to whichever socket holds ``sid`` now, which
        also gets the answer (ComfyUI keys both by sid). None when no socket holds it."""
        client = self.clients.get(sid)
        if client is not None:
            client.feature_flags = flags
        return client

    def executing_node(self, sid: str) -> str | None:
        """The node a prompt of ``sid`` is running now: re-sent to a socket reconnecting with it."""
        current = self._executing
        return current[1] if current is not None and current[0] == sid else None

    # ---- Reporter (any thread) ------------------------------------------------------------
    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        if sid is not None and event == protocol.EV_EXECUTING:
            node = data.get("node")
            self._executing = (sid, node) if isinstance(node, str) else None
        elif event in _PROMPT_END_EVENTS:
            self._executing = None
        frame = self.frames.json(event, data)
        if self.journal is not None:
            self.journal.message(sid, event, frame)
        self._post(frame, sid, event)

    def send_preview(self, preview: Preview, metadata: dict[str, Any], sid: str | None) -> None:
        # type 4 only for a client that negotiated it; broadcasts are always type 1
        with_metadata = sid is not None and self.supports_preview_metadata(sid)
        frame = self.frames.preview(preview, metadata if with_metadata else None)
        if self.journal is not None:
            self.journal.message(sid, BINARY, frame)
        self._post(frame, sid, None)

    def greet(self, client: Client, event: str, data: Any) -> None:
        """A message for one socket from its own route (greeting, feature flags): recorded and
        subject to WebSocket faults like every other (event loop thread)."""
        frame = self.frames.json(event, data)
        if self.journal is not None:
            self.journal.message(client.sid, event, frame)
        self._deliver_to(client, frame, None, event)

    def supports_preview_metadata(self, sid: str | None) -> bool:
        client = self.clients.get(sid) if sid is not None else None
        return client is not None and client.wants_preview_metadata

    def _post(self, frame: Frame, sid: str | None, event: str | None) -> None:
        if threading.get_ident() == self._loop_thread:
            # Frames the worker produced earlier go first: one FIFO for every producer, like
            # ComfyUI's single message queue.
            if self._pending:
                self._drain()
            self._dispatch(frame, sid, event)
            if not self._collecting and self._busy():  # a prompt was queued: collect its frames
                self._collecting = True
                self._schedule_collect()
            return
        # From the worker: each wake-up of the loop is a syscall and a GIL hand-over (and the
        # loop then takes the GIL at each of the worker's file writes), so while the loop
        # collects on its own the worker only queues.
        self._wake_loop((frame, sid, event))

    def flush(self) -> None:
        """Send what the worker queued now (it calls this when a prompt ends)."""
        if threading.get_ident() == self._loop_thread:
            self._drain()
        else:
            self._wake_loop(None)

    def _wake_loop(self, queued: tuple[Frame, str | None, str | None] | None) -> None:
        """Queue a frame from another thread (or none: a flush) and wake the loop to send what
        is queued, unless it is on its way or (for a frame) the loop collects anyway."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with self._pending_lock:
            if queued is not None:
                self._pending.append(queued)
            if self._wake_sent or not self._pending or (queued is not None and self._collecting):
                return
            self._wake_sent = True
        loop.call_soon_threadsafe(self._drain)

    def _schedule_collect(self) -> None:
        assert self.loop is not None
        self.loop.call_later(WORKER_FRAME_DELAY, self._collect)

    def _collect(self) -> None:
        """Every WORKER_FRAME_DELAY while busy: send the worker's frames (loop thread)."""
        if self._busy():
            self._schedule_collect()
        else:
            with self._pending_lock:  # from now on the worker wakes the loop itself
                self._collecting = False
        self._drain()

    def _drain(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, []
            self._wake_sent = False
        for frame, sid, event in pending:
            self._dispatch(frame, sid, event)

    def _dispatch(self, frame: Frame, sid: str | None, event: str | None) -> None:
        if sid is None:
            wire = coalesce.frame(frame)  # every socket gets the same bytes: frame them once
            if self.faults is not None and self.faults.any_ws:
                for client in list(self.clients.values()):
                    self._deliver_to(client, frame, wire, event)
                return
            for client in self.clients.values():
                client.put(frame, wire)
        else:
            target = self.clients.get(sid)
            if target is not None:
                self._deliver_to(target, frame, None, event)

    def _deliver_to(self, client: Client, frame: Frame, wire: bytes | None, event: str | None) -> None:
        faults = self.faults
        fault = faults.take_ws(client.sid, event, client.sent) if faults is not None and faults.any_ws else None
        if fault is None:
            client.put(frame, wire)
        elif fault.kind is FaultKind.WS_CLOSE:
            if fault.drop and client.abort is not None:
                client.close()
                client.abort()
            else:
                client.close(fault.close_code)
        # WS_SILENCE: this frame is not sent

    # ---- delivery -------------------------------------------------------------------------
    @staticmethod
    async def deliver(client: Client) -> None:
        """Writer task: send the client's queued frames in order until it closes."""
        send = client.send or client.websocket.send
        while True:
            batch = await client.next_batch()
            if not batch:  # closing, and everything was sent
                if client.close_code is not None:
                    with contextlib.suppress(Exception):  # the peer may be gone already
                        await send({"type": "websocket.close", "code": client.close_code})
                return
            for frame in batch:
                message = {"type": "websocket.send", "text": frame} if isinstance(frame, str) else \
                    {"type": "websocket.send", "bytes": frame}
                try:
                    await send(message)
                except Exception:  # noqa: BLE001 - the peer went away; the reader notices and cleans up
                    return
            client.written()
