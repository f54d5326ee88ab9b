"""Prompts at the edges, as real ComfyUI 0.8.0 runs them (measured on a private real server;
the HTTP side is also replayed from tests/differential/recorded/prompts.json):

* a cached output node is reported (``executed``) and recorded in history only for a prompt
  with a client_id (any value but null);
* a link's slot is read the way Python indexes: ``false`` is output 0, a float fails;
* a prompt real's worker thread dies on (a node with ``"inputs": null`` that no output needs, an
  undeclared input linked to a node the prompt lacks) is accepted like real, then fails with an
  ``execution_error`` naming the Python error, and the worker goes on; the ``worker_death``
  fault reproduces real's dead worker.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fakecomfy.control import ControlPlane
from fakecomfy.executors.graph import GraphBreak, input_signatures, links_of, missing_source, unusable_inputs
from fakecomfy.testing import ServerThread
from tests import workflows
from tests.test_routes_control import Checked
from tests.test_ws import post_prompt
from tests.wsclient import TIMEOUT, WsClient, kind

pytestmark = pytest.mark.fake_only

empty_save = functools.partial(workflows.empty_save, prefix="edge/save", width=8)
Connect = Callable[..., WsClient]


@pytest.fixture
def server(make_server: Callable[..., ServerThread]) -> ServerThread:
    return make_server()


def get(server: ServerThread, path: str) -> Any:
    return httpx.get(server.url + path, timeout=TIMEOUT).json()


def history_of(server: ServerThread, prompt_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = get(server, f"/history/{prompt_id}").get(prompt_id)
        if entry is not None:
            return dict(entry)
        time.sleep(0.01)
    raise AssertionError(f"no history for {prompt_id}")


def events(c: WsClient, prompt_id: str) -> list[str]:
    return [kind(m) for m in c.messages if not isinstance(m, bytes) and isinstance(m, dict)
            and m["data"].get("prompt_id") == prompt_id and kind(m) not in ("progress_state",)]


def with_bad_node(inputs: Any = None, absent: bool = False) -> dict[str, Any]:
    """A valid EmptyImage -> SaveImage next to a third node no output needs."""
    prompt = empty_save(color=3)
    prompt["3"] = {"class_type": "EmptyImage"} if absent else {"class_type": "EmptyImage", "inputs": inputs}
    return prompt


# ---- cached outputs and the client_id -----------------------------------------------------------
@pytest.mark.parametrize(("client_id", "recorded"), [(None, False), ("c1", True), (5, True)],
                         ids=["absent", "a-sid", "a-number"])
def test_a_cached_output_is_recorded_only_for_a_prompt_with_a_client_id(
        server: ServerThread, connect: Connect, client_id: Any, recorded: bool) -> None:
    c = connect(server, "c1")
    first = post_prompt(server, empty_save(color=11), "c1")
    c.wait_done(first)
    second = post_prompt(server, empty_save(color=11), client_id)
    entry = history_of(server, second)
    assert entry["status"]["messages"][1] == ["execution_cached", {
        "nodes": ["1", "2"], "prompt_id": second, "timestamp": entry["status"]["messages"][1][1]["timestamp"]}]
    job = get(server, f"/api/jobs/{second}")
    if recorded:
        assert entry["outputs"] == history_of(server, first)["outputs"] and list(entry["meta"]) == ["2"]
        assert job["outputs_count"] == 1 and "preview_output" in job
    else:
        assert entry["outputs"] == {} and entry["meta"] == {}
        assert job["outputs_count"] == 0 and "preview_output" not in job


def test_a_cached_output_node_sends_executed_to_its_client_only(server: ServerThread, connect: Connect) -> None:
    c = connect(server, "c1")
    first = post_prompt(server, empty_save(color=12), "c1")
    c.wait_done(first)
    cached = post_prompt(server, empty_save(color=12), "c1")
    c.wait_done(cached)
    assert events(c, cached) == ["execution_start", "execution_cached", "executed", "execution_success",
                                 "executing"]
    silent = post_prompt(server, empty_save(color=12))
    history_of(server, silent)
    assert events(c, silent) == []  # no client: nothing but progress broadcasts


def test_a_partly_cached_prompt_without_client_records_only_what_ran(server: ServerThread) -> None:
    prompt = empty_save(color=13)
    prompt["3"] = {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}}
    prompt["4"] = {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}
    history_of(server, post_prompt(server, prompt))
    prompt["3"]["inputs"]["color"] = 2
    entry = history_of(server, post_prompt(server, prompt))
    assert list(entry["outputs"]) == ["4"] and list(entry["meta"]) == ["4"]


# ---- link slots ---------------------------------------------------------------------------------
def test_a_false_slot_is_output_0_and_completes(server: ServerThread, connect: Connect) -> None:
    c = connect(server, "c1")
    prompt = empty_save(color=14)
    prompt["2"]["inputs"]["images"] = ["1", False]
    pid = post_prompt(server, prompt, "c1")
    c.wait_done(pid)
    assert history_of(server, pid)["status"]["status_str"] == "success"
    assert [d["node"] for d in c.of("executed")] == ["2"]


@pytest.mark.parametrize("slot", [True, 0.0, 1.0, None, "0"])
def test_other_odd_slots_fail_validation_as_a_tuple_index(server: ServerThread, slot: Any) -> None:
    prompt = empty_save(color=15)
    prompt["2"]["inputs"]["images"] = ["1", slot]
    answer = httpx.post(server.url + "/prompt", json={"prompt": prompt}, timeout=TIMEOUT)
    assert answer.status_code == 400
    [error] = answer.json()["node_errors"]["2"]["errors"]
    assert error["type"] == "exception_during_validation"
    assert error["details"].startswith("tuple ind"), error["details"]


def test_the_graph_follows_what_validation_calls_a_link() -> None:
    node = {"inputs": {"a": ["1", False], "b": ["1", True], "c": ["1", 0.0], "d": [1, 0], "e": ["1", "0"]}}
    assert [(name, slot) for name, _, slot in links_of(node)] == [("a", False), ("b", True), ("c", 0.0)]


def test_a_bool_a_float_and_an_int_slot_share_a_cache_key_as_python_hashes_them() -> None:
    def key(slot: Any) -> str:
        prompt = {"1": {"class_type": "EmptyImage", "inputs": {}},
                  "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", slot]}}}
        return input_signatures(prompt, lambda n: None, lambda n: False)["2"]

    assert key(False) == key(0) == key(0.0) and key(True) == key(1) and key(1) != key(0)


def test_an_undeclared_input_linked_with_a_float_slot_fails_before_executing(
        server: ServerThread, connect: Connect) -> None:
    c = connect(server, "c1")
    prompt = empty_save(color=16)
    prompt["2"]["inputs"]["extra"] = ["1", 0.0]  # validation reads declared inputs only
    pid = post_prompt(server, prompt, "c1")
    c.wait_done(pid)
    assert [d["node"] for d in c.of("executing") if d["prompt_id"] == pid] == ["1", None]
    [error] = c.of("execution_error")
    assert (error["node_id"], error["exception_type"], error["current_inputs"], error["executed"]) == \
        ("2", "TypeError", {}, ["1"])
    assert error["exception_message"] == "list indices must be integers or slices, not float\n"


# ---- prompts real's worker dies on ---------------------------------------------------------------
@pytest.mark.parametrize(("inputs", "absent", "exception_type", "message"), [
    (None, False, "AttributeError", "'NoneType' object has no attribute 'keys'"),
    ([1, 2], False, "AttributeError", "'list' object has no attribute 'keys'"),
    ("abc", False, "AttributeError", "'str' object has no attribute 'keys'"),
    (None, True, "KeyError", "'inputs'"),
], ids=["null", "list", "string", "absent"])
def test_a_node_with_unusable_inputs_is_accepted_then_fails_and_the_worker_goes_on(
        server: ServerThread, connect: Connect, inputs: Any, absent: bool, exception_type: str,
        message: str) -> None:
    c = connect(server, "c1")
    answer = httpx.post(server.url + "/prompt", json={"prompt": with_bad_node(inputs, absent), "client_id": "c1"},
                        timeout=TIMEOUT)
    assert answer.status_code == 200
    body = answer.json()
    pid = body["prompt_id"]
    assert body == {"prompt_id": pid, "number": 0, "node_errors": {}}  # as real answers it
    c.wait_done(pid)
    assert events(c, pid) == ["execution_start", "execution_error", "executing"]  # real dies before execution_cached
    [error] = c.of("execution_error")
    assert (error["node_id"], error["node_type"], error["executed"], error["current_inputs"]) == \
        ("3", "EmptyImage", [], {})
    assert (error["exception_type"], error["exception_message"]) == (exception_type, message + "\n")
    entry = history_of(server, pid)
    assert entry["status"]["status_str"] == "error" and entry["outputs"] == {}
    assert [m[0] for m in entry["status"]["messages"]] == ["execution_start", "execution_error"]
    job = get(server, f"/api/jobs/{pid}")
    assert job["status"] == "failed" and job["execution_error"]["exception_type"] == exception_type
    after = post_prompt(server, empty_save(color=4), "c1")
    c.wait_done(after)
    assert history_of(server, after)["status"]["status_str"] == "success"


def test_an_undeclared_link_to_a_missing_node_fails_after_execution_cached(
        server: ServerThread, connect: Connect) -> None:
    c = connect(server, "c1")
    prompt = empty_save(color=17)
    prompt["2"]["inputs"]["extra"] = ["9", 0]
    pid = post_prompt(server, prompt, "c1")
    c.wait_done(pid)
    assert events(c, pid) == ["execution_start", "execution_cached", "execution_error", "executing"]
    [error] = c.of("execution_error")
    assert (error["node_id"], error["exception_type"], error["exception_message"]) == \
        ("2", "comfy_execution.graph.NodeNotFoundError", "Node 9 not found\n")
    after = post_prompt(server, empty_save(color=5), "c1")
    c.wait_done(after)


def test_the_graph_checks_find_what_real_dies_on() -> None:
    good = empty_save(color=1)
    assert unusable_inputs(good) is None and missing_source(good, ["2"], lambda n: False) is None
    found = unusable_inputs({**good, "0": {"class_type": "EmptyImage", "inputs": None}})
    assert isinstance(found, GraphBreak) and found.node_id == "0" and not found.planned
    linked = {**good, "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "x": ["8", 0]}}}
    found = missing_source(linked, ["2"], lambda n: False)
    assert isinstance(found, GraphBreak) and (found.node_id, str(found.error), found.planned) == \
        ("2", "Node 8 not found", True)


# ---- the worker_death fault -----------------------------------------------------------------------
def control(server: ServerThread) -> ControlPlane:
    plane: ControlPlane = server.app.state.control
    return plane


def queue_ids(server: ServerThread) -> tuple[list[str], list[str]]:
    queue = get(server, "/queue")
    return [i[1] for i in queue["queue_running"]], [i[1] for i in queue["queue_pending"]]


def test_a_broken_only_worker_death_fault_kills_the_worker_like_real(server: ServerThread,
                                                                    connect: Connect) -> None:
    plane = control(server)
    plane.add_fault(kind="worker_death", broken_only=True)
    c = connect(server, "c1")
    fine = post_prompt(server, empty_save(color=6), "c1")
    c.wait_done(fine)  # not broken: not struck
    dead = post_prompt(server, with_bad_node(), "c1")
    later = post_prompt(server, empty_save(color=7), "c1")
    c.wait_for("execution_start", prompt_id=dead)
    httpx.post(server.url + "/interrupt", timeout=TIMEOUT)
    time.sleep(0.3)
    assert queue_ids(server) == ([dead], [later])
    assert get(server, f"/api/jobs/{dead}")["status"] == "in_progress"
    assert get(server, f"/history/{dead}") == {}
    assert events(c, dead) == ["execution_start"]
    assert plane.state()["worker_dead"] is True
    plane.reset()
    assert plane.state()["worker_dead"] is False
    again = post_prompt(server, empty_save(color=8), "c1")
    c.wait_done(again)
    assert history_of(server, again)["status"]["status_str"] == "success"


def test_a_worker_death_fault_over_http_strikes_a_prompt_with_its_node_class(
        server: ServerThread, connect: Connect) -> None:
    api = Checked(server.url)
    fault = api("POST", "/faults", json={"kind": "worker_death", "node_class": "PreviewImage"}).json()
    assert fault["kind"] == "worker_death" and fault["times"] == 1
    c = connect(server, "c1")
    spared = post_prompt(server, empty_save(color=9), "c1")  # no PreviewImage
    c.wait_done(spared)
    preview = {"1": empty_save(color=9)["1"], "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    struck = post_prompt(server, preview, "c1")
    c.wait_for("execution_cached", prompt_id=struck)
    time.sleep(0.2)
    assert queue_ids(server) == ([struck], [])
    assert api("GET", "/state").json()["worker_dead"] is True
    assert api("POST", "/faults", json={"kind": "worker_death", "broken_only": "yes"}).status_code == 400
    api("POST", "/reset")
    after = post_prompt(server, preview, "c1")
    c.wait_done(after)
