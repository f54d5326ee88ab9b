"""``/_fakecomfy/`` over HTTP: every operation answers as ``openapi/control.yaml`` describes
(checked with openapi-core), bad input is a 400 naming what is wrong, and the operations do to
the server what their Python twins do (tests/test_control.py)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate as validate_openapi

from fakecomfy.testing import ServerThread
from tests import workflows
from tests.test_ws import post_prompt
from tests.wsclient import TIMEOUT, WsClient

pytestmark = pytest.mark.fake_only

CONTROL_SPEC = Path(__file__).resolve().parents[1] / "fakecomfy" / "openapi" / "control.yaml"
API = OpenAPI.from_file_path(str(CONTROL_SPEC))
empty_save = functools.partial(workflows.empty_save, prefix="control/http")


class Checked:
    """An HTTP client for /_fakecomfy/ that validates every answer against control.yaml."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.checked: set[str] = set()

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = httpx.request(method, self.url + "/_fakecomfy" + path, timeout=TIMEOUT, **kwargs)
        bare, _, query = path.partition("?")
        args = dict(httpx.QueryParams(query))
        API.validate_response(MockRequest("http://127.0.0.1", method.lower(), "/_fakecomfy" + bare, args=args),
                              MockResponse(answer.content, status_code=answer.status_code,
                                           content_type=answer.headers.get("content-type", "")))
        self.checked.add(f"{method} {bare}")
        return answer


@pytest.fixture
def server(make_server: Callable[..., ServerThread]) -> ServerThread:
    return make_server()


@pytest.fixture
def api(server: ServerThread) -> Iterator[Checked]:
    yield Checked(server.url)


def test_the_control_document_is_valid_openapi() -> None:
    validate_openapi(yaml.safe_load(CONTROL_SPEC.read_text(encoding="utf-8")))


def test_faults_are_added_listed_fired_and_removed(server: ServerThread, api: Checked) -> None:
    added = api("POST", "/faults", json={"kind": "http", "path": "/queue", "status": 503, "times": 2}).json()
    assert added["id"] and added["fired"] == 0
    assert httpx.get(server.url + "/queue", timeout=TIMEOUT).status_code == 503
    [listed] = api("GET", "/faults").json()["faults"]
    assert (listed["id"], listed["fired"]) == (added["id"], 1)
    assert api("DELETE", f"/faults/{added['id']}").json() == {"ok": True}
    assert api("DELETE", f"/faults/{added['id']}").status_code == 404
    assert httpx.get(server.url + "/queue", timeout=TIMEOUT).status_code == 200
    api("POST", "/faults", json={"kind": "oom", "node_class": "KSampler"})
    assert api("DELETE", "/faults").json() == {"ok": True}
    assert api("GET", "/faults").json() == {"faults": []}


@pytest.mark.parametrize(("spec", "says"), [
    ({"kind": "nonsense"}, "kind must be one of"),
    ({"kind": "http", "sttus": 500}, "unknown fields ['sttus']"),
    ({"kind": "slow", "seconds": 0}, "seconds > 0"),
    ({"kind": "ws_close"}, "after_messages or event"),
    ({"kind": "raise", "times": 0}, "times must be"),
    ({"kind": "raise", "probability": 2}, "probability"),
], ids=["kind", "unknown-field", "slow", "ws-close", "times", "probability"])
def test_a_bad_fault_is_a_400_naming_the_problem(api: Checked, spec: dict[str, Any], says: str) -> None:
    answer = api("POST", "/faults", json=spec)
    assert answer.status_code == 400 and says in answer.json()["error"]


def test_bodies_that_are_not_json_objects_are_400(api: Checked) -> None:
    assert api("POST", "/faults", content=b"{nope").json() == {"error": "the body is not JSON"}
    assert api("POST", "/seed", json=[1]).json() == {"error": "the body must be a JSON object"}
    assert api("POST", "/seed", json={"seed": "x"}).status_code == 400
    assert api("POST", "/step", json={"unit": "epoch"}).status_code == 400
    assert api("PUT", "/node-times", json={"KSampler": -1}).status_code == 400


def test_pause_step_resume_and_worker_over_http(server: ServerThread, api: Checked,
                                                connect: Callable[..., WsClient]) -> None:
    c = connect(server, "c1")
    api("POST", "/pause")
    pid = post_prompt(server, empty_save(), "c1")
    worker = api("GET", "/worker?wait=5").json()
    assert worker == {"paused": True, "position": {"at": "prompt", "prompt_id": pid}}
    position = api("POST", "/step", json={"unit": "node"}).json()["position"]
    assert position == {"at": "node", "prompt_id": pid, "node": "1", "class_type": "EmptyImage"}
    assert api("POST", "/resume").json() == {"ok": True}
    c.wait_done(pid)


def test_node_times_seed_journal_state_and_reset_over_http(server: ServerThread, api: Checked,
                                                           connect: Callable[..., WsClient]) -> None:
    assert api("PUT", "/node-times", json={"KSampler": 0.25}).json() == {"node_times": {"KSampler": 0.25}}
    assert api("GET", "/node-times").json() == {"node_times": {"KSampler": 0.25}}
    assert api("POST", "/seed", json={"seed": 5}).json() == {"ok": True}
    c = connect(server, "c1")
    pid = post_prompt(server, empty_save(), "c1")
    c.wait_done(pid)
    [posted] = api("GET", "/journal/requests?method=POST&path=/prompt&body.client_id=c1").json()["requests"]
    assert posted["status"] == 200
    assert api("GET", "/journal/requests?body.client_id=nobody").json() == {"requests": []}
    messages = api("GET", f"/journal/messages?type=executed&sid=c1&prompt_id={pid}").json()["messages"]
    assert [m["data"]["node"] for m in messages] == ["2"]
    state = api("GET", "/state").json()
    assert state["seed"] == 5 and state["history"] == 1 and state["clients"] == ["c1"]
    assert api("DELETE", "/journal").json() == {"ok": True}
    assert api("GET", "/journal/requests").json() == {"requests": []}
    assert api("POST", "/reset").json() == {"ok": True}
    assert api("GET", "/state").json()["node_times"] == {}


def test_the_control_routes_exist_only_under_their_prefix(server: ServerThread) -> None:
    assert httpx.get(server.url + "/api/_fakecomfy/state", timeout=TIMEOUT).status_code == 404


def test_every_operation_of_the_document_is_served() -> None:
    document = yaml.safe_load(CONTROL_SPEC.read_text(encoding="utf-8"))
    from fakecomfy import create_app

    app: Any = create_app()
    served = {(route.method, route.path) for route in app.router.routes if route.path.startswith("/_fakecomfy")}
    described = {(method.upper(), "/_fakecomfy" + path) for path, item in document["paths"].items() for method in item}
    assert served == described
