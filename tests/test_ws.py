"""The /ws protocol over a real server: greeting, feature flags, routing, binary frames and the
exact event sequences of a prompt, as a real ComfyUI 0.8.0 sends them.

Tests wait on messages, never on the clock, except where they check that nothing arrives
(:meth:`WsClient.assert_quiet`).
"""
from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from fakecomfy.testing import ServerThread
from fakecomfy.web.hub import Client, WebSocketHub
from tests import workflows
from tests.conftest import SHARED, external_target
from tests.workflows import Prompt, blur_chain
from tests.wsclient import TIMEOUT, Binary, Message, WsClient, kind, label

FAKE_CHECKPOINT = SHARED / "fixtures" / "models" / "checkpoints" / "fake.safetensors"


@dataclass
class ExternalServer:
    """A server given with --comfy-url / FAKECOMFY_TARGET (parity mode): only its URL is known."""

    url: str


@pytest.fixture
def server(request: pytest.FixtureRequest, make_server: Callable[..., ServerThread]) -> ServerThread:
    """The fake, or in parity mode the external server (tests needing fake internals are fake_only)."""
    target = external_target(request.config)
    if target is not None:
        return ExternalServer(target)  # type: ignore[return-value]
    return make_server()


@pytest.fixture
def slow_server(make_server: Callable[..., ServerThread]) -> ServerThread:
    """ImageBlur and each KSampler step take 1 s: long enough to act while they run."""
    return make_server(node_times={"ImageBlur": 1.0, "KSampler": 1.0})


def wait_unregistered(server: ServerThread, sid: str) -> None:
    """Until the server has processed a socket's close (the hub no longer routes ``sid``)."""
    deadline = time.monotonic() + TIMEOUT
    while sid in server.app.state.hub.clients:
        assert time.monotonic() < deadline, f"{sid} still registered"
        time.sleep(0.01)


def post_prompt(server: ServerThread, prompt: Prompt, client_id: str | None = None, **body: Any) -> str:
    payload: dict[str, Any] = {"prompt": prompt, **body}
    if client_id is not None:
        payload["client_id"] = client_id
    response = httpx.post(server.url + "/prompt", json=payload, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return str(response.json()["prompt_id"])


def http(server: ServerThread, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, timeout=TIMEOUT, **kwargs)


# ---- prompts ----------------------------------------------------------------------------------
empty_save = functools.partial(workflows.empty_save, prefix="ws/basic")
txt2img = functools.partial(workflows.txt2img, prefix="ws/t2i", steps=2)


def ws_image(batch: int = 3) -> Prompt:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 16, "batch_size": batch,
                                                          "color": 255}},
            "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}}}


LATENT2RGB: dict[str, Any] = {"extra_data": {"preview_method": "latent2rgb"}}
FLAGS = {"type": "feature_flags", "data": {"supports_preview_metadata": True}}


def negotiated(connect: Callable[..., WsClient], server: ServerThread, client_id: str,
               flags: dict[str, Any] = FLAGS) -> WsClient:
    c = connect(server, client_id)
    c.send(flags)
    c.wait_for("feature_flags")
    return c


# ---- connecting ---------------------------------------------------------------------------------
def test_greeting_echoes_the_client_id(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid-a")
    assert c.messages[0] == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                         "sid": "cid-a"}}
    assert list(c.text(0)["data"]) == ["status", "sid"]


def test_greeting_without_client_id_generates_a_hex_sid(server: ServerThread,
                                                        connect: Callable[..., WsClient]) -> None:
    a, b = connect(server), connect(server)
    sids = [c.text(0)["data"]["sid"] for c in (a, b)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", sid) for sid in sids)
    assert sids[0] != sids[1]


def test_generated_sid_routes_like_a_client_id(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server)
    sid = c.text(0)["data"]["sid"]
    pid = post_prompt(server, empty_save(), sid)
    c.wait_done(pid)
    assert "execution_success" in c.labels()


def test_later_status_messages_have_no_sid(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_done(pid)
    statuses = c.of("status")
    assert statuses[1:] == [{"status": {"exec_info": {"queue_remaining": n}}} for n in (1, 1, 0)]


def test_feature_flags_reply_equals_get_features(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    c.send(FLAGS)
    reply = c.text(c.wait_for("feature_flags"))
    assert reply["data"] == http(server, "GET", "/features").json()
    assert reply["data"] == {"supports_preview_metadata": True, "max_upload_size": 104857600,
                             "extension": {"manager": {"supports_v4": True}}}


@pytest.mark.fake_only
def test_feature_flags_reply_reports_a_configured_upload_limit_as_float(
        make_server: Callable[..., ServerThread], connect: Callable[..., WsClient]) -> None:
    server = make_server(max_upload_size=1)
    c = negotiated(connect, server, "cid")
    value = c.of("feature_flags")[0]["max_upload_size"]
    assert value == 1048576.0 and isinstance(value, float)


@pytest.mark.parametrize("first", [{"type": "hello", "data": {}}, {"type": "feature_flags_x"}],
                         ids=["other-type", "similar-type"])
def test_only_the_first_message_may_negotiate(server: ServerThread, connect: Callable[..., WsClient],
                                             first: dict[str, Any]) -> None:
    c = connect(server, "cid")
    c.send(first)
    c.send(FLAGS)
    c.assert_quiet(1)


def test_a_second_feature_flags_is_ignored(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = negotiated(connect, server, "cid")
    c.send({"type": "feature_flags", "data": {"supports_preview_metadata": False}})
    c.send("not json at all")
    c.assert_quiet(2)
    # the first negotiation still holds: previews come as type 4
    pid = post_prompt(server, ws_image(batch=1), "cid")
    c.wait_done(pid)
    assert [b.event for b in c.binaries()] == [4]


@pytest.mark.parametrize("junk", ["not json at all", "[1, 2]", "\"feature_flags\"", b"\x00\x01"],
                         ids=["invalid-json", "json-list", "json-string", "binary"])
def test_messages_that_are_not_json_objects_leave_the_first_message_open(
        server: ServerThread, connect: Callable[..., WsClient], junk: str | bytes) -> None:
    """Quirk of real ComfyUI: its first-message flag is cleared only after a JSON object."""
    c = connect(server, "cid")
    if isinstance(junk, bytes):
        c.ws.send_binary(junk)
    else:
        c.send(junk)
    c.send(FLAGS)
    c.wait_for("feature_flags")


@pytest.mark.parametrize("value", [1, "true", None], ids=["int", "string", "null"])
def test_preview_metadata_needs_a_literal_true(server: ServerThread, connect: Callable[..., WsClient],
                                               value: Any) -> None:
    c = negotiated(connect, server, "cid", {"type": "feature_flags", "data": {"supports_preview_metadata": value}})
    pid = post_prompt(server, ws_image(batch=1), "cid")
    c.wait_done(pid)
    assert [b.event for b in c.binaries()] == [1]


def test_a_client_with_permessage_deflate_gets_the_same_messages(server: ServerThread,
                                                                connect: Callable[..., WsClient]) -> None:
    """Real ComfyUI (aiohttp) and the fake both accept compression; what the client reads after
    decompressing is what an uncompressed client reads, binary previews included."""
    from websockets.sync.client import connect as ws_connect

    url = server.url.replace("http://", "ws://", 1) + "/ws?clientId=deflated"
    with ws_connect(url, compression="deflate", max_size=None, open_timeout=TIMEOUT) as deflated:
        assert [e.name for e in deflated.protocol.extensions] == ["permessage-deflate"]
        got: list[Message] = [json.loads(deflated.recv(TIMEOUT))]
        post_prompt(server, ws_image(batch=2), "deflated")
        while not (isinstance(got[-1], dict) and got[-1]["type"] == "executing"
                   and got[-1]["data"]["node"] is None):
            frame = deflated.recv(TIMEOUT)
            got.append(Binary.parse(frame) if isinstance(frame, bytes) else json.loads(frame))
    assert http(server, "POST", "/free", json={"free_memory": True}).status_code == 200  # run it again
    plain = connect(server, "plain")
    plain.wait_done(post_prompt(server, ws_image(batch=2), "plain"))
    assert [label(m) for m in got] == plain.labels()
    assert [b.raw for b in got if isinstance(b, Binary)] == [b.raw for b in plain.binaries()]
    assert len(plain.binaries()) == 2


def test_duplicate_client_id_silences_the_first_socket(server: ServerThread,
                                                       connect: Callable[..., WsClient]) -> None:
    first = connect(server, "dup")
    second = connect(server, "dup")
    pid = post_prompt(server, empty_save(), "dup")
    second.wait_done(pid)
    assert second.labels()[0] == "status:0" and "execution_success" in second.labels()
    first.assert_quiet(1)  # not even the status broadcasts


@pytest.mark.fake_only
def test_closing_a_replaced_socket_unregisters_its_successor(server: ServerThread,
                                                             connect: Callable[..., WsClient]) -> None:
    """Quirk of real ComfyUI: closing any socket drops its sid, even one a newer socket holds."""
    first = connect(server, "dup")
    second = connect(server, "dup")
    first.close()
    wait_unregistered(server, "dup")
    watcher = connect(server, "watcher")
    post_prompt(server, empty_save(), "dup")
    watcher.wait_for("status", after=2, status={"exec_info": {"queue_remaining": 0}})
    second.assert_quiet(1)


def test_feature_flags_from_a_replaced_socket_go_to_its_successor(server: ServerThread,
                                                                 connect: Callable[..., WsClient]) -> None:
    """Quirk of real ComfyUI: flags and the reply are keyed by sid, so the newer socket gets both."""
    first = connect(server, "dup")
    second = connect(server, "dup")
    first.send(FLAGS)
    second.wait_for("feature_flags")
    pid = post_prompt(server, ws_image(batch=1), "dup")
    second.wait_done(pid)
    assert [b.event for b in second.binaries()] == [4]
    assert first.labels() == ["status:0"]


@pytest.mark.fake_only
def test_reconnecting_with_an_old_client_id(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    old = connect(server, "again")
    old.close()
    wait_unregistered(server, "again")  # else closing the old socket could drop the new one
    new = connect(server, "again")
    assert new.text(0)["data"]["sid"] == "again"
    assert new.labels() == ["status:0"]
    pid = post_prompt(server, empty_save(), "again")
    new.wait_done(pid)
    assert "executed:2" in new.labels()


@pytest.mark.fake_only
def test_reconnecting_while_the_prompt_runs_resends_the_current_node(
        slow_server: ServerThread, connect: Callable[..., WsClient]) -> None:
    first = connect(slow_server, "back")
    pid = post_prompt(slow_server, blur_chain(), "back")
    first.wait_for("executing", node="2")
    again = connect(slow_server, "back")
    again.wait_count(2)
    assert again.messages[1] == {"type": "executing", "data": {"node": "2"}}
    again.wait_done(pid)
    assert again.labels()[-2:] == ["status:0", "executing:None"]


# ---- routing --------------------------------------------------------------------------------
def test_execution_messages_go_only_to_the_prompts_client(server: ServerThread,
                                                          connect: Callable[..., WsClient]) -> None:
    a, b = connect(server, "a"), connect(server, "b")
    pid = post_prompt(server, empty_save(), "a")
    a.wait_done(pid)
    b.wait_count(4)
    b.assert_quiet(4)
    assert b.labels() == ["status:0", "status:1", "status:1", "status:0"]


@pytest.mark.fake_only  # assumes a fresh server: empty cache and file counters
def test_prompt_without_client_id_broadcasts_only_progress_state(server: ServerThread,
                                                                 connect: Callable[..., WsClient]) -> None:
    a, b = connect(server, "a"), connect(server, "b")
    post_prompt(server, empty_save())
    for c in (a, b):
        c.wait_for("status", after=3, status={"exec_info": {"queue_remaining": 0}})
        c.assert_quiet(len(c.messages))
        assert [kind(m) for m in c.messages] == ["status", "status", "status"] + ["progress_state"] * 4 + ["status"]


def test_prompt_without_client_id_broadcasts_sampler_progress_and_legacy_previews(
        server: ServerThread, connect: Callable[..., WsClient]) -> None:
    legacy = connect(server, "legacy")
    modern = negotiated(connect, server, "modern")
    post_prompt(server, txt2img(steps=2), **LATENT2RGB)
    for c in (legacy, modern):
        end = c.wait_for("status", after=3, status={"exec_info": {"queue_remaining": 0}})
        seq = [label(m) for m in c.messages[:end] if kind(m) in ("progress", "binary1", "binary4")]
        assert seq == ["progress:1/2", "binary1", "progress:2/2", "binary1"]
        frames = c.binaries()
        assert all(b.second == 1 and b.picture() == ("JPEG", (512, 512), "RGB") for b in frames)
        assert not c.of("executing") and not c.of("execution_start") and not c.of("executed")


@pytest.mark.fake_only
def test_worker_events_and_loop_broadcasts_keep_their_order() -> None:
    """A status sent on the event loop never overtakes events the worker produced before it."""
    loop = asyncio.new_event_loop()
    try:
        hub = WebSocketHub()
        hub.bind(loop)  # this thread plays the event loop's
        client = Client("c", cast(Any, None))
        hub.register(client)
        worker = threading.Thread(target=hub.send, args=("progress_state", {"prompt_id": "p", "nodes": {}}, "c"))
        worker.start()
        worker.join()
        hub.send("status", {"status": {"exec_info": {"queue_remaining": 0}}}, None)
        frames = client.pending()
        assert [json.loads(str(f))["type"] for f in frames] == ["progress_state", "status"]
    finally:
        loop.close()


@pytest.mark.fake_only
def test_worker_frames_are_collected_while_busy_and_flushed_at_a_prompts_end() -> None:
    """While prompts run the loop collects the worker's frames every WORKER_FRAME_DELAY instead
    of being woken for each burst; flush() (a prompt's end) sends them at once; when idle, a
    frame from the worker wakes the loop itself."""
    from fakecomfy.web import hub as hub_module

    async def scenario() -> list[tuple[str, float]]:
        busy = [True]
        hub = WebSocketHub(busy=lambda: busy[0])
        hub.bind(asyncio.get_running_loop())
        client = Client("c", cast(Any, None))
        hub.register(client)
        hub.send("status", {"status": {"exec_info": {"queue_remaining": 1}}}, None)  # a POST: busy
        started = time.monotonic()
        seen: list[tuple[str, float]] = []

        def note() -> None:
            for frame in client.pending()[len(seen):]:
                seen.append((json.loads(str(frame))["type"], time.monotonic() - started))

        def from_worker(*events: str, then_flush: bool = False) -> None:
            def run() -> None:
                for event in events:
                    data: dict[str, Any] = {"prompt_id": "p", "timestamp": 1}
                    if event == "status":
                        data = {"status": {"exec_info": {"queue_remaining": 0}}}
                    hub.send(event, data, "c" if event != "status" else None)
                if then_flush:
                    hub.flush()
            worker = threading.Thread(target=run)
            worker.start()
            worker.join()

        from_worker("execution_start")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        note()
        assert [t for t, _ in seen] == ["status"]  # queued, not sent: the loop was not woken
        await asyncio.sleep(hub_module.WORKER_FRAME_DELAY * 3)
        note()
        from_worker("execution_success", then_flush=True)
        await asyncio.sleep(0)
        note()
        busy[0] = False
        await asyncio.sleep(hub_module.WORKER_FRAME_DELAY * 2)  # the collector stops
        from_worker("status")
        await asyncio.sleep(0.05)
        note()
        return seen

    seen = asyncio.run(scenario())
    assert [t for t, _ in seen] == ["status", "execution_start", "execution_success", "status"]


def test_partial_execution_targets_leave_other_outputs_out(server: ServerThread,
                                                           connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    prompt = empty_save()
    prompt["3"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    pid = post_prompt(server, prompt, "cid", partial_execution_targets=["3"])
    c.wait_done(pid)
    assert [d["node"] for d in c.of("executing")] == ["1", "3", None]
    assert all(set(d["nodes"]) <= {"1", "3"} for d in c.of("progress_state"))


# ---- previews -------------------------------------------------------------------------------
def test_legacy_client_gets_progress_state_progress_then_type_1(server: ServerThread,
                                                                connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    pid = post_prompt(server, txt2img(steps=2), "cid", **LATENT2RGB)
    end = c.wait_done(pid)
    first = c.labels().index("progress:1/2")
    assert kind(c.messages[first - 1]) == "progress_state"
    assert c.labels()[first:first + 4] == ["progress:1/2", "binary1", "progress_state", "progress:2/2"]
    frame = c.binaries()[0]
    assert struct.unpack(">II", frame.raw[:8]) == (1, 1)
    assert frame.picture() == ("JPEG", (512, 512), "RGB")
    assert len(c.binaries()) == 2 and end == len(c.messages) - 1


def test_metadata_client_gets_progress_state_type_4_then_progress(server: ServerThread,
                                                                  connect: Callable[..., WsClient]) -> None:
    c = negotiated(connect, server, "cid")
    pid = post_prompt(server, txt2img(steps=2, height=96), "cid", **LATENT2RGB)
    c.wait_done(pid)
    labels = c.labels()
    first = labels.index("binary4")
    assert kind(c.messages[first - 1]) == "progress_state"
    assert labels[first:first + 4] == ["binary4", "progress:1/2", "progress_state", "binary4"]
    assert "binary1" not in labels
    frame = c.binaries()[0]
    assert frame.metadata == {"node_id": "3", "prompt_id": pid, "display_node_id": "3", "parent_node_id": None,
                              "real_node_id": "3", "image_type": "image/jpeg"}
    assert list(frame.metadata) == ["node_id", "prompt_id", "display_node_id", "parent_node_id",
                                    "real_node_id", "image_type"]
    # json.dumps with default separators, length-prefixed
    assert frame.raw[8:8 + frame.second] == json.dumps(frame.metadata).encode()
    assert frame.second in (165, 166)
    assert frame.picture() == ("JPEG", (341, 512), "RGB")


def test_no_binary_frames_without_preview_method(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = negotiated(connect, server, "cid")
    pid = post_prompt(server, txt2img(steps=2), "cid")
    c.wait_done(pid)
    assert not c.binaries()
    assert [d["value"] for d in c.of("progress")] == [1, 2]


def test_save_image_websocket_sends_png_frames_at_real_size(server: ServerThread,
                                                            connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    pid = post_prompt(server, ws_image(batch=3), "cid")
    c.wait_done(pid)
    node_part = c.labels()[c.labels().index("executing:2") + 1:]
    assert node_part == ["progress_state", "progress:0/3", "binary1", "progress_state", "progress:1/3", "binary1",
                         "progress_state", "progress:2/3", "binary1", "progress_state", "execution_success",
                         "status:0", "executing:None"]
    for frame in c.binaries():
        assert frame.second == 2 and frame.picture() == ("PNG", (32, 16), "RGB")
        assert len(frame.raw) == 106
    history = http(server, "GET", f"/history/{pid}").json()[pid]
    assert history["outputs"] == {} and history["status"]["status_str"] == "success"


def test_save_image_websocket_to_a_metadata_client(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = negotiated(connect, server, "cid")
    pid = post_prompt(server, ws_image(batch=1), "cid")
    c.wait_done(pid)
    frame = c.binaries()[0]
    assert frame.metadata is not None and frame.metadata["image_type"] == "image/png"
    assert frame.picture() == ("PNG", (32, 16), "RGB")
    labels = c.labels()
    assert labels[labels.index("binary4") - 1:][:3] == ["progress_state", "binary4", "progress:0/1"]


@pytest.mark.fake_only  # assumes a fresh server: empty cache and file counters
# ---- the sequence of one prompt -----------------------------------------------------------------
def test_empty_save_sequence_of_fact_5(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_done(pid)
    assert c.labels() == [
        "status:0", "status:1", "status:1", "execution_start", "execution_cached", "progress_state",
        "executing:1", "progress_state", "progress_state", "executing:2", "executed:2", "progress_state",
        "execution_success", "status:0", "executing:None"]
    last = c.messages[-1]
    assert last == {"type": "executing", "data": {"node": None, "prompt_id": pid}}
    executed = c.of("executed")[0]
    assert executed == {"node": "2", "display_node": "2", "prompt_id": pid, "output": {"images": [
        {"filename": "basic_00001_.png", "subfolder": "ws", "type": "output"}]}}
    assert all(isinstance(c.of(e)[0]["timestamp"], int)
               for e in ("execution_start", "execution_cached", "execution_success"))


def test_history_and_queue_are_final_when_executing_null_arrives(server: ServerThread,
                                                                 connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_for("status", after=3, status={"exec_info": {"queue_remaining": 0}})
    entry = http(server, "GET", f"/history/{pid}").json()[pid]  # written before that status
    assert entry["status"]["status_str"] == "success"
    assert [m[0] for m in entry["status"]["messages"]] == ["execution_start", "execution_cached",
                                                           "execution_success"]
    assert http(server, "GET", "/queue").json() == {"queue_running": [], "queue_pending": []}


def test_fully_cached_rerun_sequence(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    first = post_prompt(server, empty_save(), "cid")
    start = c.wait_done(first) + 1
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_done(pid)
    assert c.labels(start) == ["status:1", "status:1", "execution_start", "execution_cached", "executed:2",
                               "progress_state", "execution_success", "status:0", "executing:None"]
    assert c.of("execution_cached")[1]["nodes"] == ["1", "2"]
    assert c.of("executed")[1]["output"] == c.of("executed")[0]["output"]
    assert c.of("progress_state")[-1]["nodes"]["2"]["value"] == 1


def test_validation_failure_sends_no_message(server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    bad = {"1": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}}}
    response = http(server, "POST", "/prompt", json={"prompt": bad, "client_id": "cid"})
    assert response.status_code == 400
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_done(pid)
    assert c.labels()[:2] == ["status:0", "status:1"]  # the valid prompt's put comes first


# ---- errors ---------------------------------------------------------------------------------------
@pytest.mark.fake_only
def test_execution_error_sequence_of_fact_13(make_server: Callable[..., ServerThread], base_dir: Path,
                                             connect: Callable[..., WsClient]) -> None:
    shutil.copyfile(FAKE_CHECKPOINT, base_dir / "models" / "checkpoints" / "fake.safetensors")
    server = make_server()
    c = connect(server, "cid")
    pid = post_prompt(server, txt2img(ckpt="fake.safetensors"), "cid")
    c.wait_done(pid)
    assert c.labels()[3:] == ["execution_start", "execution_cached", "progress_state", "executing:4",
                              "execution_error", "status:0", "executing:None"]
    error = c.of("execution_error")[0]
    path = (base_dir / "models" / "checkpoints" / "fake.safetensors").resolve()
    assert error["exception_message"] == f"ERROR: Could not detect model type of: {path}\n\n"
    assert (error["node_type"], error["exception_type"]) == ("CheckpointLoaderSimple", "RuntimeError")
    assert error["current_inputs"] == {"ckpt_name": ["fake.safetensors"]}
    entry = http(server, "GET", f"/history/{pid}").json()[pid]
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)
    assert entry["outputs"] == {} and entry["meta"] == {}
    job = http(server, "GET", f"/api/jobs/{pid}").json()
    assert job["status"] == "failed" and job["execution_error"]["node_id"] == "4"


@pytest.mark.fake_only  # assumes a fresh server: empty cache and file counters
def test_next_prompt_after_an_error_reuses_finished_results(server: ServerThread,
                                                            connect: Callable[..., WsClient]) -> None:
    c = connect(server, "cid")
    failed = post_prompt(server, empty_save(prefix="../escape/x"), "cid")
    c.wait_done(failed)
    assert c.of("execution_error")[0]["executed"] == ["1"]
    pid = post_prompt(server, empty_save(), "cid")
    c.wait_done(pid)
    assert c.of("execution_cached")[1]["nodes"] == ["1"]


# ---- interrupts -----------------------------------------------------------------------------------
@pytest.mark.fake_only
def test_interrupt_during_a_node_stops_at_the_next_one(slow_server: ServerThread,
                                                       connect: Callable[..., WsClient]) -> None:
    c = connect(slow_server, "cid")
    pid = post_prompt(slow_server, blur_chain(), "cid")
    c.wait_for("executing", node="2")
    http(slow_server, "POST", "/interrupt", json={})
    c.wait_done(pid)
    assert c.labels()[-7:] == ["executing:2", "progress_state", "progress_state", "executing:3",
                               "execution_interrupted", "status:0", "executing:None"]
    states = c.of("progress_state")
    assert states[-2]["nodes"]["2"]["state"] == "finished" and states[-1]["nodes"]["3"]["state"] == "running"
    data = c.of("execution_interrupted")[0]
    assert list(data) == ["prompt_id", "node_id", "node_type", "executed", "timestamp"]
    assert (data["node_id"], data["node_type"], sorted(data["executed"])) == ("3", "ImageScale", ["1", "2"])
    entry = http(slow_server, "GET", f"/history/{pid}").json()[pid]
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)
    assert entry["outputs"] == {} and entry["meta"] == {}
    job = http(slow_server, "GET", f"/api/jobs/{pid}").json()
    assert job["status"] == "failed" and "execution_error" not in job


@pytest.mark.fake_only
def test_interrupt_without_client_id_is_broadcast(slow_server: ServerThread,
                                                  connect: Callable[..., WsClient]) -> None:
    a, b = connect(slow_server, "a"), connect(slow_server, "b")
    post_prompt(slow_server, blur_chain())
    a.wait(lambda m: not isinstance(m, Binary) and m["type"] == "progress_state"
           and m["data"]["nodes"].get("2", {}).get("state") == "running")
    http(slow_server, "POST", "/interrupt", json={})
    for c in (a, b):
        end = c.wait_for("status", after=3, status={"exec_info": {"queue_remaining": 0}})
        assert kind(c.messages[end - 1]) == "execution_interrupted"
        assert c.text(end - 1)["data"]["node_id"] == "3"
        c.assert_quiet(end + 1)  # no executing null without a client_id
        assert not c.of("executing")


def _sampler_after_preview(steps: int = 4) -> Prompt:
    prompt = txt2img(steps=steps)
    prompt["1"] = {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 9}}
    prompt["2"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    return prompt


@pytest.mark.fake_only
def test_interrupt_during_a_sampler_stops_inside_the_step(slow_server: ServerThread,
                                                          connect: Callable[..., WsClient]) -> None:
    c = connect(slow_server, "cid")
    pid = post_prompt(slow_server, _sampler_after_preview(), "cid", **LATENT2RGB)
    c.wait_for("progress", value=1)
    http(slow_server, "POST", "/interrupt", json={})
    c.wait_done(pid)
    assert c.labels()[-6:] == ["progress_state", "progress:1/4", "binary1", "execution_interrupted", "status:0",
                               "executing:None"]
    sampler = c.of("progress_state")[-1]["nodes"]["3"]
    assert (sampler["value"], sampler["max"], sampler["state"]) == (1, 4, "running")
    data = c.of("execution_interrupted")[0]
    assert (data["node_id"], data["node_type"]) == ("3", "KSampler")
    assert sorted(data["executed"]) == ["1", "2", "4", "5", "6", "7"]
    entry = http(slow_server, "GET", f"/history/{pid}").json()[pid]
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)
    assert list(entry["outputs"]) == ["2"] and list(entry["meta"]) == ["2"]
    job = http(slow_server, "GET", f"/api/jobs/{pid}").json()
    assert job["status"] == "failed" and "execution_error" not in job
    assert job["outputs_count"] == 1 and job["preview_output"]["nodeId"] == "2"


# ---- status broadcasts on queue changes -------------------------------------------------------
@pytest.mark.fake_only
def test_status_on_every_queue_change(slow_server: ServerThread, connect: Callable[..., WsClient]) -> None:
    c = connect(slow_server, "cid")
    running = post_prompt(slow_server, txt2img(steps=100), "cid")  # busy until interrupted
    c.wait_for("executing", node="3")
    pending = [post_prompt(slow_server, empty_save(color=n)) for n in range(3)]

    def queue(body: dict[str, Any]) -> None:
        assert http(slow_server, "POST", "/queue", json=body).status_code == 200

    queue({"delete": ["no-such-id"]})  # nothing
    queue({"delete": [running]})  # the running prompt is not touched: nothing
    queue({"delete": [pending[0]]})
    queue({"delete": [pending[1]]})
    queue({"delete": [pending[2]]})  # the last pending item: wipe + update, two statuses
    queue({"clear": True})  # even with an empty queue
    http(slow_server, "POST", "/interrupt", json={})
    c.wait_done(running)
    statuses = [label(m) for m in c.messages if kind(m) == "status"]
    assert statuses == ["status:0", "status:1", "status:1", "status:2", "status:3", "status:4", "status:3",
                        "status:2", "status:1", "status:1", "status:1", "status:0"]
