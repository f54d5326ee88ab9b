"""CoalescingTransport: what one loop turn writes leaves in one write, in order; close and abort
behave like the transport's own."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

from fakecomfy.web.coalesce import CoalescingTransport, coalescing
from fakecomfy.web.protocols import http_protocol, websocket_protocol


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.calls: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closing = True

    def write_eof(self) -> None:
        self.calls.append("write_eof")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


async def turn() -> None:
    await asyncio.sleep(0)


def served(protocol_class: Any, app: Any) -> Any:
    """An instance of a uvicorn protocol class serving ``app``, not yet connected."""
    import uvicorn
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    return protocol_class(config=config, server_state=ServerState(), app_state={})


def test_writes_of_one_turn_leave_as_one_write_in_order() -> None:
    async def scenario() -> list[bytes]:
        real = RecordingTransport()
        wrapped = CoalescingTransport(real, asyncio.get_running_loop())
        wrapped.write(b"a")
        wrapped.write(bytearray(b"b"))
        wrapped.writelines([b"c", memoryview(b"d")])
        wrapped.write(b"")
        assert real.writes == []  # nothing until the loop turns
        await turn()
        wrapped.write(b"e")
        await turn()
        return real.writes

    assert asyncio.run(scenario()) == [b"abcd", b"e"]


def test_every_connection_written_in_a_turn_is_flushed_by_the_next_and_again_later() -> None:
    """A broadcast writes to many connections in one turn: each leaves as one write at the next
    turn; a connection written again after its flush is flushed again."""
    async def scenario() -> tuple[list[list[bytes]], list[bytes]]:
        loop = asyncio.get_running_loop()
        reals = [RecordingTransport() for _ in range(3)]
        wrapped = [CoalescingTransport(real, loop) for real in reals]
        for w in wrapped:
            w.write(b"status")
            w.write(b"+more")
        wrapped[0].flush()  # flushed early (a response complete): the turn's flush finds nothing
        await turn()
        first = [list(real.writes) for real in reals]
        wrapped[1].write(b"again")
        await turn()
        return first, reals[1].writes

    first, second = asyncio.run(scenario())
    assert first == [[b"status+more"]] * 3
    assert second == [b"status+more", b"again"]


@pytest.mark.parametrize("ending", ["close", "write_eof"])
def test_close_and_eof_send_what_is_pending_first(ending: str) -> None:
    async def scenario() -> RecordingTransport:
        real = RecordingTransport()
        wrapped = CoalescingTransport(real, asyncio.get_running_loop())
        wrapped.write(b"last frame")
        getattr(wrapped, ending)()
        assert real.writes == [b"last frame"] and real.calls == [ending]
        await turn()  # the scheduled flush finds nothing more to send
        return real

    assert asyncio.run(scenario()).writes == [b"last frame"]


def test_abort_drops_what_is_pending_and_nothing_is_written_to_a_closing_transport() -> None:
    async def scenario() -> RecordingTransport:
        real = RecordingTransport()
        wrapped = CoalescingTransport(real, asyncio.get_running_loop())
        wrapped.write(b"dropped")
        wrapped.abort()
        await turn()
        wrapped.write(b"after abort")
        await turn()
        return real

    real = asyncio.run(scenario())
    assert real.writes == [] and real.calls == ["abort"]


def test_everything_else_is_the_real_transport() -> None:
    real = RecordingTransport()
    loop = asyncio.new_event_loop()
    try:
        wrapped = CoalescingTransport(real, loop)
        assert wrapped.get_extra_info("peername") == ("127.0.0.1", 5)
        assert wrapped.is_closing() is False
    finally:
        loop.close()


def test_the_server_uses_a_coalescing_subclass_of_uvicorns_websocket_protocol() -> None:
    protocol = websocket_protocol()
    assert isinstance(protocol, type) and isinstance(AutoWebSocketsProtocol, type)
    assert issubclass(protocol, AutoWebSocketsProtocol)
    assert websocket_protocol() is protocol  # built once
    assert coalescing(AutoWebSocketsProtocol).__name__ == f"Coalescing{AutoWebSocketsProtocol.__name__}"


def test_http_connections_are_wrapped_once_even_after_the_websocket_upgrade() -> None:
    """uvicorn writes an HTTP response's head and body separately: through the wrapper they
    leave as one write. The WebSocket protocol an upgrade hands the transport to keeps it."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol


    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario() -> tuple[Any, Any, RecordingTransport]:
        real = RecordingTransport()
        http_cls = http_protocol()
        assert issubclass(http_cls, AutoHTTPProtocol)
        http = served(http_cls, app)
        http.connection_made(real)
        http.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await turn()
        assert len(real.writes) == 1
        # a complete response leaves at once, not on the loop's next turn
        http.transport.write(b"next response")
        http.on_response_complete()
        assert real.writes[-1] == b"next response"
        ws = served(websocket_protocol(), app)
        ws.connection_made(http.transport)
        return http, ws, real

    http, ws, real = asyncio.run(scenario())
    assert isinstance(http.transport, CoalescingTransport)
    assert ws.transport is http.transport
    assert real.writes[0].startswith(b"HTTP/1.1 200 OK") and real.writes[0].endswith(b"ok")


HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def test_messages_written_directly_are_framed_like_websockets_frames_them() -> None:
    """uvicorn's websockets protocol with DirectMessages: after the handshake a message is one
    unmasked frame exactly as websockets would serialise it, for every length encoding; writes
    fall back (False) while writing is paused and once a close was received or sent."""
    from websockets.frames import Close, Frame, Opcode

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.Event().wait()  # stays open

    async def scenario() -> tuple[list[bool], list[bytes], list[bytes]]:
        real = RecordingTransport()
        ws = served(websocket_protocol(), app)
        ws.connection_made(real)
        assert ws.write_message("too early") is False  # no handshake yet
        ws.data_received(HANDSHAKE)
        for _ in range(5):
            await turn()
        assert real.writes[0].startswith(b"HTTP/1.1 101 ")
        del real.writes[:]
        messages: list[str | bytes] = ["", "x" * 125, "é" * 63, "y" * 126, b"\x00" * 65535, b"z" * 65536]
        results = [ws.write_message(m) for m in messages]
        await turn()
        written = list(real.writes)
        expected = [Frame(Opcode.TEXT if isinstance(m, str) else Opcode.BINARY,
                          m.encode() if isinstance(m, str) else m).serialize(mask=False, extensions=[])
                    for m in messages]
        ws.pause_writing()
        results.append(ws.write_message("paused"))
        ws.resume_writing()
        results.append(ws.write_message("resumed"))
        ws.data_received(Frame(Opcode.CLOSE, Close(1000, "").serialize()).serialize(mask=True, extensions=[]))
        results.append(ws.write_message("after close"))
        return results, written, [b"".join(expected)]

    results, written, expected = asyncio.run(scenario())
    assert results == [True] * 6 + [False, True, False]
    assert written == expected  # one write for the loop turn, byte for byte websockets' frames


def test_a_deflate_connection_never_takes_the_direct_path() -> None:
    """The server's websockets connection is fakecomfy's (aiohttp's close frames and deflate
    negotiation, web/transport.py); once permessage-deflate is on, frames need its extension."""
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.Event().wait()

    async def scenario() -> tuple[bytes, bool]:
        real = RecordingTransport()
        ws = served(websocket_protocol(), app)
        ws.connection_made(real)
        ws.data_received(HANDSHAKE[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        for _ in range(5):
            await turn()
        return real.writes[0], ws.write_message("compressed by websockets")

    head, direct = asyncio.run(scenario())
    assert b"Sec-WebSocket-Extensions: permessage-deflate\r\n" in head
    assert direct is False
