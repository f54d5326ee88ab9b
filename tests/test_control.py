"""The control plane (fakecomfy.control, from Python): each fault looks like the real server's
failure, the worker pauses and steps, the journal records, reset and seed do what they say."""
from __future__ import annotations

import functools
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websocket
from PIL import Image

from fakecomfy.control import ControlPlane
from fakecomfy.core.faults import OOM_TIPS
from fakecomfy.testing import ServerThread
from tests import workflows
from tests.test_ws import post_prompt
from tests.wsclient import TIMEOUT, WsClient, kind

pytestmark = pytest.mark.fake_only

txt2img = functools.partial(workflows.txt2img, prefix="control/t2i")
empty_save = functools.partial(workflows.empty_save, prefix="control/basic")
Connect = Callable[..., WsClient]


def control(server: ServerThread) -> ControlPlane:
    plane: ControlPlane = server.app.state.control
    return plane


@pytest.fixture
def server(make_server: Callable[..., ServerThread]) -> ServerThread:
    return make_server()


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (9, 9, 9)).save(buffer, "PNG")
    return buffer.getvalue()


def errors_of(c: WsClient, prompt_id: str) -> list[dict[str, Any]]:
    return [data for data in c.of("execution_error") if data["prompt_id"] == prompt_id]


# ---- node faults ------------------------------------------------------------------------------
def test_a_raise_fault_is_an_execution_error_in_events_history_and_jobs(server: ServerThread,
                                                                        connect: Connect) -> None:
    control(server).add_fault(kind="raise", node_class="SaveImage", exception_type="ValueError",
                              message="disk full")
    c = connect(server, "c1")
    first = post_prompt(server, empty_save(color=1), "c1")
    c.wait_done(first)
    [error] = errors_of(c, first)
    assert (error["node_id"], error["node_type"], error["exception_type"]) == ("2", "SaveImage", "ValueError")
    assert error["exception_message"] == "disk full\n" and error["executed"] == ["1"]
    history = httpx.get(f"{server.url}/history/{first}", timeout=TIMEOUT).json()[first]
    assert history["status"]["status_str"] == "error"
    job = httpx.get(f"{server.url}/api/jobs/{first}", timeout=TIMEOUT).json()
    assert job["status"] == "failed" and job["execution_error"]["exception_type"] == "ValueError"
    second = post_prompt(server, empty_save(color=2), "c1")  # times=1: spent
    c.wait_done(second)
    assert errors_of(c, second) == []


def test_a_module_qualified_exception_type_is_named_as_given(server: ServerThread, connect: Connect) -> None:
    control(server).add_fault(kind="raise", node_id="1", exception_type="comfy.model_management.BadThing",
                              message="boom")
    c = connect(server, "c1")
    pid = post_prompt(server, empty_save(), "c1")
    c.wait_done(pid)
    assert errors_of(c, pid)[0]["exception_type"] == "comfy.model_management.BadThing"


def test_an_oom_fault_mid_sampler_is_torchs_error_with_comfyuis_tips(server: ServerThread,
                                                                     connect: Connect) -> None:
    control(server).add_fault(kind="oom", node_class="KSampler", at_step=2,
                              oom={"allocate": 20 * 1024 ** 2, "total": 8 * 1024 ** 3, "free": 0})
    c = connect(server, "c1")
    pid = post_prompt(server, txt2img(steps=4), "c1")
    c.wait_done(pid)
    progress = [data["value"] for data in c.of("progress")]
    assert progress == [1, 2]  # it struck at the second step, after reporting it
    [error] = errors_of(c, pid)
    assert error["exception_type"] == "torch.OutOfMemoryError"
    message = error["exception_message"]
    assert message.startswith("CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of "
                              "8.00 GiB of which 0 bytes is free.")
    assert message.endswith("environment-variables)\n" + OOM_TIPS)


def test_a_hung_node_waits_until_interrupted(server: ServerThread, connect: Connect) -> None:
    control(server).add_fault(kind="hang", node_class="SaveImage")
    c = connect(server, "c1")
    pid = post_prompt(server, empty_save(), "c1")
    c.wait_for("executing", node="2")
    time.sleep(0.2)
    assert not [m for m in c.messages if kind(m) in ("execution_success", "execution_interrupted")]
    assert httpx.post(server.url + "/interrupt", json={}, timeout=TIMEOUT).status_code == 200
    c.wait_done(pid)
    [interrupted] = c.of("execution_interrupted")
    assert (interrupted["node_id"], interrupted["node_type"]) == ("2", "SaveImage")


def test_a_slow_fault_slows_each_sampler_step(server: ServerThread, connect: Connect) -> None:
    control(server).add_fault(kind="slow", node_class="KSampler", seconds=0.1)
    c = connect(server, "c1")
    started = time.monotonic()
    pid = post_prompt(server, txt2img(steps=3), "c1")
    c.wait_done(pid)
    assert time.monotonic() - started >= 0.3


def test_a_validation_fault_fails_post_prompt_like_a_node_error(server: ServerThread) -> None:
    control(server).add_fault(kind="validation", node_class="EmptyImage",
                              error={"type": "value_not_in_list", "message": "Value not in list",
                                     "details": "color: 'x' not in []",
                                     "extra_info": {"input_name": "color", "input_config": None,
                                                    "received_value": "x"}})
    answer = httpx.post(server.url + "/prompt", json={"prompt": empty_save()}, timeout=TIMEOUT)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["node_errors"]["1"]["errors"][0]["type"] == "value_not_in_list"
    assert body["node_errors"]["1"]["dependent_outputs"] == ["2"]
    assert httpx.post(server.url + "/prompt", json={"prompt": empty_save()}, timeout=TIMEOUT).status_code == 200


# ---- route and WebSocket faults ----------------------------------------------------------------
def test_an_http_fault_answers_its_route_bare_and_under_api_then_stops(server: ServerThread) -> None:
    control(server).add_fault(kind="http", path="/queue", status=503, body={"error": "overloaded"}, times=2)
    first = httpx.get(server.url + "/queue", timeout=TIMEOUT)
    second = httpx.get(server.url + "/api/queue", timeout=TIMEOUT)
    assert [(r.status_code, r.json()) for r in (first, second)] == [(503, {"error": "overloaded"})] * 2
    assert httpx.get(server.url + "/queue", timeout=TIMEOUT).status_code == 200


def test_a_drop_fault_closes_the_connection_without_an_answer(server: ServerThread) -> None:
    control(server).add_fault(kind="drop", method="POST", path="/prompt")
    with pytest.raises(httpx.TransportError):
        httpx.post(server.url + "/prompt", json={"prompt": empty_save()}, timeout=TIMEOUT)
    assert httpx.get(server.url + "/queue", timeout=TIMEOUT).json()["queue_pending"] == []  # nothing queued
    assert httpx.post(server.url + "/prompt", json={"prompt": empty_save()}, timeout=TIMEOUT).status_code == 200


def test_a_ws_close_fault_closes_after_n_messages_with_a_close_frame(server: ServerThread) -> None:
    control(server).add_fault(kind="ws_close", client_id="c1", after_messages=3)
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/ws?clientId=c1", timeout=TIMEOUT)
    ws.recv()  # the greeting
    post_prompt(server, empty_save(), "c1")
    received = []
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        received.append(data)
    ws.shutdown()
    assert len(received) == 2  # greeting + 2 = 3 messages, then the close
    assert int.from_bytes(data[:2], "big") == 1001


def test_a_ws_close_fault_with_drop_loses_the_connection(server: ServerThread) -> None:
    control(server).add_fault(kind="ws_close", event="executed", drop=True)
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/ws?clientId=c1", timeout=TIMEOUT)
    ws.recv()
    post_prompt(server, empty_save(), "c1")
    try:
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            while True:
                message = ws.recv()
                assert '"type": "executed"' not in str(message)  # closed before it was sent
    finally:
        ws.shutdown()


def test_a_ws_silence_fault_mutes_one_client_only(server: ServerThread, connect: Connect) -> None:
    quiet, other = connect(server, "quiet"), connect(server, "other")
    control(server).add_fault(kind="ws_silence", client_id="quiet", times=None)
    pid = post_prompt(server, empty_save(), "other")
    other.wait_done(pid)
    quiet.assert_quiet(1)  # the greeting only: not even the status broadcasts
    assert len(other.messages) > 5


def test_faults_with_a_probability_fire_the_same_way_under_the_same_seed(
        make_server: Callable[..., ServerThread]) -> None:
    def run() -> list[int]:
        srv = make_server()
        plane = control(srv)
        plane.seed(7)
        plane.add_fault(kind="http", path="/queue", status=500, probability=0.5, times=None)
        return [httpx.get(srv.url + "/queue", timeout=TIMEOUT).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and {200, 500} <= set(first)


# ---- pause and step ----------------------------------------------------------------------------
def test_a_paused_worker_is_stepped_prompt_node_and_sampler_step(server: ServerThread, connect: Connect) -> None:
    plane = control(server)
    plane.pause()
    c = connect(server, "c1")
    pid = post_prompt(server, txt2img(steps=3), "c1")
    assert plane.wait_paused() == {"at": "prompt", "prompt_id": pid}
    assert [item[1] for item in httpx.get(server.url + "/queue", timeout=TIMEOUT).json()["queue_pending"]] == [pid]
    at = plane.step("node")
    assert at is not None and (at["at"], at["node"]) == ("node", "4")  # the first node that runs
    while at is not None and at.get("node") != "3":
        at = plane.step("node")
    assert at == {"at": "node", "prompt_id": pid, "node": "3", "class_type": "KSampler"}
    running = httpx.get(server.url + "/queue", timeout=TIMEOUT).json()["queue_running"]
    assert [item[1] for item in running] == [pid]
    assert plane.step("step") == {"at": "step", "prompt_id": pid, "node": "3", "step": 1, "of": 3}
    c.wait_for("progress", value=1)
    assert [data["value"] for data in c.of("progress")] == [1]
    assert plane.step("step")["step"] == 2  # type: ignore[index]
    plane.resume()
    c.wait_done(pid)
    assert plane.state()["worker"] == {"paused": False, "position": None}


# ---- journal, state, reset, seed --------------------------------------------------------------
def test_the_journal_records_requests_and_messages(server: ServerThread, connect: Connect) -> None:
    plane = control(server)
    c = connect(server, "c1")
    pid = post_prompt(server, empty_save(), "c1")
    c.wait_done(pid)
    [posted] = plane.requests(method="POST", path="/prompt", body={"client_id": "c1"})
    assert posted["status"] == 200 and posted["body"]["prompt"]["1"]["class_type"] == "EmptyImage"
    assert plane.requests(path="/_fakecomfy/*") == []
    executed = plane.messages(event="executed", sid="c1")
    assert [m["data"]["node"] for m in executed] == ["2"]
    assert {m["type"] for m in plane.messages(prompt_id=pid)} >= {"execution_start", "execution_success"}
    assert [m["sid"] for m in plane.messages(event="status")][:1] == ["c1"]  # the greeting


def test_reset_puts_files_queue_history_and_counters_back(server: ServerThread, connect: Connect) -> None:
    plane = control(server)
    model = server.app.state.model
    c = connect(server, "c1")
    pid = post_prompt(server, empty_save(), "c1")
    c.wait_done(pid)
    httpx.post(server.url + "/upload/image", files={"image": ("mine.png", tiny_png(), "image/png")},
               timeout=TIMEOUT)
    httpx.post(server.url + "/userdata/notes.json", content=b"{}", timeout=TIMEOUT)
    (model.paths.input / "example.png").write_bytes(b"changed")
    plane.add_fault(kind="http", path="/queue", status=500, times=None)
    plane.set_node_times({"KSampler": 2.0})
    plane.seed(3)
    plane.pause()
    plane.reset()
    assert httpx.get(server.url + "/queue", timeout=TIMEOUT).status_code == 200
    assert httpx.get(server.url + "/history", timeout=TIMEOUT).json() == {}
    assert not any(model.paths.output.rglob("*.png")) and not (model.paths.input / "mine.png").exists()
    assert (model.paths.input / "example.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # put back
    assert httpx.get(server.url + "/userdata/notes.json", timeout=TIMEOUT).status_code == 404
    state = plane.state()
    assert (state["faults"], state["seed"], state["node_times"], state["worker"]["paused"]) == ([], None, {}, False)
    answer = httpx.post(server.url + "/prompt", json={"prompt": empty_save(), "client_id": "c1"}, timeout=TIMEOUT)
    assert answer.json()["number"] == 0  # numbering starts again
    c.wait_done(answer.json()["prompt_id"])
    assert [e["filename"] for e in httpx.get(server.url + "/history", timeout=TIMEOUT).json()[
        answer.json()["prompt_id"]]["outputs"]["2"]["images"]] == ["basic_00001_.png"]


def test_a_seed_makes_prompt_ids_and_sids_repeat(make_server: Callable[..., ServerThread]) -> None:
    def names() -> tuple[str, str]:
        srv = make_server()
        control(srv).seed(42)
        ws = websocket.create_connection(srv.url.replace("http", "ws") + "/ws", timeout=TIMEOUT)
        sid = str(json.loads(ws.recv())["data"]["sid"])
        ws.shutdown()
        return sid, post_prompt(srv, empty_save())

    assert names() == names()


def test_without_the_control_api_its_routes_are_unknown_paths(make_server: Callable[..., ServerThread]) -> None:
    srv = make_server(control_api=False)
    answer = httpx.get(srv.url + "/_fakecomfy/state", timeout=TIMEOUT)
    assert (answer.status_code, answer.content) == (404, b"")
    assert control(srv).state()["history"] == 0  # the Python side is there
