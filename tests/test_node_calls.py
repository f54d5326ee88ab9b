"""How real ComfyUI 0.8.0 calls a node, as measured on a real server (and replayed from
tests/differential/recorded/engine2.json):

* an undeclared widget value is dropped, an undeclared link is passed to the node's method, which
  fails with Python's words naming the class that defines it (``SaveImage.save_images()`` for
  PreviewImage, ``ImageToMask.execute()`` for a V3 node); a method taking ``**kwargs`` accepts it;
* ``current_outputs`` of an execution_error lists every node of the prompt (a Python set's order);
* a wrong-typed value reaching ImageInvert / InvertMask fails with a float on the left.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fakecomfy.executors.signatures import node_function
from fakecomfy.testing import ServerThread
from tests.wsclient import TIMEOUT

pytestmark = pytest.mark.fake_only


@pytest.fixture
def server(make_server: Callable[..., ServerThread]) -> ServerThread:
    return make_server()


def empty(color: int = 0) -> dict[str, Any]:
    return {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}}


def error_of(server: ServerThread, prompt: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(server.url + "/prompt", json={"prompt": prompt}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    pid = answer.json()["prompt_id"]
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        entry = httpx.get(f"{server.url}/history/{pid}", timeout=TIMEOUT).json().get(pid)
        if entry is not None:
            found = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
            return dict(found[0]) if found else {}
        time.sleep(0.01)
    raise AssertionError("no history")


def test_the_table_names_the_defining_class_and_knows_kwargs_methods() -> None:
    preview = node_function("PreviewImage")
    assert preview is not None and preview.qualname == "SaveImage.save_images"
    v3 = node_function("ImageToMask")
    assert v3 is not None and v3.qualname == "ImageToMask.execute"
    grid = node_function("ImageGrid")
    assert grid is not None and grid.params is None and grid.unexpected(["anything"], []) is None
    assert node_function("NoSuchNode") is None


@pytest.mark.parametrize(("class_type", "inputs", "message", "current"), [
    ("PreviewImage", {"images": ["1", 0]}, "SaveImage.save_images()",
     ["images", "zextra", "prompt", "extra_pnginfo"]),
    ("ImageInvert", {"image": ["1", 0]}, "ImageInvert.invert()", ["image", "zextra"]),
    ("ImageToMask", {"image": ["1", 0], "channel": "red"}, "ImageToMask.execute()", ["image", "channel", "zextra"]),
])
def test_an_undeclared_link_reaches_the_method_and_an_undeclared_value_is_dropped(
        server: ServerThread, class_type: str, inputs: dict[str, Any], message: str, current: list[str]) -> None:
    prompt = {"1": empty(), "2": {"class_type": class_type, "inputs": {**inputs, "zextra": ["1", 0], "plain": 5}}}
    if class_type != "PreviewImage":
        prompt["3"] = {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}
    error = error_of(server, prompt)
    assert (error["node_id"], error["exception_type"]) == ("2", "TypeError")
    assert error["exception_message"] == f"{message} got an unexpected keyword argument 'zextra'\n"
    assert list(error["current_inputs"]) == current


def test_an_undeclared_value_alone_changes_nothing(server: ServerThread) -> None:
    prompt = {"1": empty(), "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0], "plain": 5}}}
    assert error_of(server, prompt) == {}


def test_current_outputs_lists_every_node_of_the_prompt_in_set_order(server: ServerThread) -> None:
    prompt = {"1": empty(), "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0], "x": ["1", 0]}},
              "3": empty(5), "10": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}}
    error = error_of(server, prompt)
    assert error["current_outputs"] == list(set(prompt))  # the server shares this process's str hashes


@pytest.mark.parametrize(("class_type", "name"), [("ImageInvert", "image"), ("InvertMask", "mask")])
def test_a_string_in_an_image_input_fails_with_a_float_on_the_left(
        server: ServerThread, class_type: str, name: str) -> None:
    prompt = {"1": {"class_type": class_type, "inputs": {name: "x"}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    error = error_of(server, prompt)
    assert error["exception_message"] == "unsupported operand type(s) for -: 'float' and 'str'\n"
