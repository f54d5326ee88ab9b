"""HTTP behaviour of /users, /settings and /userdata, single- and multi-user: per-user settings
and files, the answers to an unknown user (401, 500 or 403 by route), the userdata listings."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Answer

TEXT_500 = "500 Internal Server Error\n\nServer got itself in trouble"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def multi(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(multi_user=True)


def new_user(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/users", json={"username": name})
    assert r.status_code == 200, r.text
    return {"comfy-user": r.json()}


def assert_empty(r: Answer, status: int) -> None:
    assert r.status_code == status
    assert r.content == b""


def assert_text(r: Answer, status: int, body: str) -> None:
    assert r.status_code == status
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == body


# ---- settings --------------------------------------------------------------------------------
def test_settings_roundtrip(client: TestClient) -> None:
    r = client.post("/settings", json={"a": 1, "b": "x"})
    assert_empty(r, 200)
    assert client.post("/settings", json={"a": 2}).status_code == 200
    assert_empty(client.post("/settings/c", json="hello"), 200)
    r = client.get("/api/settings")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"a": 2, "b": "x", "c": "hello"}
    assert client.get("/settings/a").text == "2"
    assert client.get("/settings/missing").text == "null"


@pytest.mark.parametrize("path", ["/settings", "/settings/x"])
@pytest.mark.parametrize("body", [b"{not json", b""], ids=["bad", "missing"])
def test_settings_post_without_json_is_500(client: TestClient, path: str, body: bytes) -> None:
    assert_text(client.post(path, content=body), 500, TEXT_500)


def test_settings_post_of_a_non_object_is_500(client: TestClient) -> None:
    assert_text(client.post("/settings", json=[1, 2]), 500, TEXT_500)
    assert client.get("/settings").json() == {}


def test_settings_are_stored_in_the_default_users_file(client: TestClient, base_dir: Path) -> None:
    client.post("/settings", json={"k": True})
    stored = json.loads((base_dir / "user" / "default" / "comfy.settings.json").read_text())
    assert stored == {"k": True}
    r = client.get("/userdata/comfy.settings.json")
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"k": True}


# ---- users -----------------------------------------------------------------------------------
def test_single_user_users_route(client: TestClient) -> None:
    for path in ("/users", "/api/users"):
        assert client.get(path).text == '{"storage": "server", "migrated": true}'
    r = client.post("/users", json={"username": "default"})
    assert r.status_code == 400
    assert r.text == '{"error": "Duplicate username."}'


def test_single_user_mode_still_creates_users(client: TestClient, base_dir: Path) -> None:
    r = client.post("/users", json={"username": "run_x"})
    assert re.fullmatch(rf"run_x_{UUID}", r.json())
    assert json.loads((base_dir / "user" / "users.json").read_text())[r.json()] == "run_x"
    assert client.post("/users", json={"username": "run_x"}).json() == {"error": "Duplicate username."}
    assert client.get("/users").json() == {"storage": "server", "migrated": True}


def test_multi_user_users_listing_and_creation(multi: TestClient) -> None:
    assert multi.get("/users").json() == {"storage": "server", "users": {}}
    user_id = multi.post("/users", json={"username": " <run> a/b.c "}).json()
    assert re.fullmatch(rf"-run-a-b-c_{UUID}", user_id)
    listing = multi.get("/users", headers={"comfy-user": "nobody"})
    assert listing.json() == {"storage": "server", "users": {user_id: "<run> a/b.c"}}
    default_id = multi.post("/users", json={"username": "default"}).json()
    assert default_id.startswith("default_")


@pytest.mark.parametrize(
    ("body", "error"),
    [({"username": ""}, "username not provided"), ({"username": "   "}, "username not provided"),
     ({"username": "__x"}, "System User prefix not allowed")],
    ids=["empty", "blank", "system"],
)
def test_refused_usernames_are_400_json(multi: TestClient, body: dict[str, str], error: str) -> None:
    r = multi.post("/users", json=body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": error}


@pytest.mark.parametrize("body", [b"{}", b'{"username": 5}', b'{"username": null}', b"[]", b"nope"],
                         ids=["missing", "int", "null", "list", "not-json"])
def test_malformed_user_creation_is_500(multi: TestClient, body: bytes) -> None:
    assert_text(multi.post("/users", content=body), 500, TEXT_500)


def test_padded_duplicate_name_is_accepted(multi: TestClient) -> None:
    first = multi.post("/users", json={"username": "alice"}).json()
    assert multi.post("/users", json={"username": "alice"}).status_code == 400
    second = multi.post("/users", json={"username": "  alice  "}).json()
    assert multi.get("/users").json()["users"] == {first: "alice", second: "alice"}


def test_users_survive_a_new_app_instance(make_client: Callable[..., TestClient]) -> None:
    first = make_client(multi_user=True)
    hdr = new_user(first, "persist")
    first.post("/settings", json={"kept": 1}, headers=hdr)
    second = make_client(multi_user=True)
    assert second.get("/users").json()["users"] == {hdr["comfy-user"]: "persist"}
    assert second.get("/settings", headers=hdr).json() == {"kept": 1}


# ---- userdata CRUD ---------------------------------------------------------------------------
def test_userdata_crud(client: TestClient) -> None:
    r = client.post("/userdata/d%2Fa.json", content=b'{"a": 1}')
    assert r.status_code == 200 and r.text == '"d/a.json"'
    r = client.get("/userdata/d%2Fa.json")
    assert r.headers["content-type"] == "application/json"
    assert r.content == b'{"a": 1}'
    assert_text(client.post("/userdata/d%2Fa.json?overwrite=false", content=b"2"), 409, "File already exists")
    info = client.post("/userdata/d%2Fa.json", params={"full_info": "true"}, content=b'{"a": 3}').json()
    assert list(info) == ["path", "size", "modified", "created"]
    assert info["path"] == "d/a.json" and info["size"] == 8 and isinstance(info["modified"], float)
    assert client.get("/api/userdata/d%2Fa.json").content == b'{"a": 3}'
    client.post("/userdata/d%2Fb.txt", content=b"hello")
    r = client.get("/userdata/d%2Fb.txt")
    assert r.headers["content-type"] == "text/plain" and r.text == "hello"
    r = client.delete("/userdata/d%2Fb.txt")
    assert r.status_code == 204 and r.content == b"" and "content-length" not in r.headers
    assert_empty(client.get("/userdata/d%2Fb.txt"), 404)
    assert_empty(client.delete("/userdata/d%2Fb.txt"), 404)


@pytest.mark.parametrize("value", ["False", "0", "no", ""])
def test_only_exact_false_disables_overwrite(client: TestClient, value: str) -> None:
    client.post("/userdata/a.json", content=b"1")
    assert client.post("/userdata/a.json", params={"overwrite": value}, content=b"2").status_code == 200
    assert client.get("/userdata/a.json").content == b"2"


def test_full_info_is_case_insensitive(client: TestClient) -> None:
    assert isinstance(client.post("/userdata/a.json?full_info=TRUE", content=b"1").json(), dict)
    assert client.post("/userdata/a.json?full_info=1", content=b"1").json() == "a.json"


def test_double_encoded_slash_is_decoded_twice(client: TestClient, base_dir: Path) -> None:
    assert client.post("/userdata/d%252Fe.json", content=b"1").json() == "d/e.json"
    assert (base_dir / "user" / "default" / "d" / "e.json").read_bytes() == b"1"


def test_get_of_a_directory_is_403(client: TestClient) -> None:
    client.post("/userdata/d%2Fa.json", content=b"1")
    assert_empty(client.get("/userdata/d"), 403)


def test_get_of_missing_file_creates_its_directory(client: TestClient) -> None:
    assert_empty(client.get("/userdata/made%2Fnothing.json"), 404)
    assert client.get("/userdata", params={"dir": "made"}).json() == []
    assert_text(client.get("/userdata", params={"dir": "untouched"}), 404, "Directory not found")


def test_upload_limit_applies_and_conflict_wins_before_body(make_client: Callable[..., TestClient]) -> None:
    small = make_client(max_upload_size=100 / (1024 * 1024))
    assert_text(small.post("/userdata/big.json", content=b"x" * 101), 413,
                "Maximum request body size 100 exceeded.")
    assert_empty(small.get("/userdata/big.json"), 404)
    assert small.post("/userdata/big.json", content=b"x" * 100).status_code == 200
    r = small.post("/userdata/big.json?overwrite=false", content=b"x" * 101)
    assert_text(r, 409, "File already exists")


# ---- move ------------------------------------------------------------------------------------
def test_move(client: TestClient) -> None:
    client.post("/userdata/a.json", content=b"1")
    client.post("/userdata/b.json", content=b"2")
    assert_text(client.post("/userdata/a.json/move/b.json?overwrite=false"), 409, "File already exists")
    assert client.post("/userdata/a.json/move/sub%2Fc.json").json() == "sub/c.json"
    assert client.get("/userdata/sub%2Fc.json").content == b"1"
    assert_empty(client.get("/userdata/a.json"), 404)
    assert_empty(client.post("/userdata/a.json/move/x.json"), 404)
    info = client.post("/api/userdata/b.json/move/a.json?full_info=true").json()
    assert info["path"] == "a.json" and info["size"] == 1


# ---- listings --------------------------------------------------------------------------------
@pytest.fixture
def tree(client: TestClient) -> TestClient:
    for rel, body in [("r%2Fa.json", b"{}"), ("r%2Fsub%2Fb.json", b"{}"), ("r%2Fsub%2Fdeep%2Fc.txt", b"c"),
                      ("r%2FC.json", b"")]:
        assert client.post(f"/userdata/{rel}", content=body).status_code == 200
    return client


def test_listing_variants(tree: TestClient) -> None:
    def ls(**params: str) -> list[Any]:
        r = tree.get("/userdata", params={"dir": "r", **params})
        assert r.status_code == 200
        return sorted(r.json(), key=str)

    assert ls() == ["C.json", "a.json"]
    assert ls(recurse="true") == ["C.json", "a.json", "sub/b.json", "sub/deep/c.txt"]
    assert ls(recurse="true", split="true")[2] == ["sub/b.json", "sub", "b.json"]
    infos = ls(recurse="true", full_info="true")
    assert all(set(i) == {"path", "size", "modified", "created"} for i in infos)
    assert tree.get("/api/userdata", params={"dir": "r/sub"}).json() == ["b.json"]


def test_listing_errors(client: TestClient) -> None:
    assert_text(client.get("/userdata"), 400, "Directory not provided")
    assert_text(client.get("/userdata?dir="), 400, "Directory not provided")
    assert_text(client.get("/userdata?dir=nope"), 404, "Directory not found")
    assert_text(client.get("/userdata", params={"dir": "/etc"}), 403, "Invalid directory")


def test_v2_listing(tree: TestClient) -> None:
    r = tree.get("/v2/userdata", params={"path": "r"})
    assert r.status_code == 200
    assert [e["path"] for e in r.json()] == [
        "r/sub/deep", "r/sub", "r/a.json", "r/sub/b.json", "r/C.json", "r/sub/deep/c.txt"]
    assert r.json()[0] == {"name": "deep", "path": "r/sub/deep", "type": "directory"}
    assert set(r.json()[2]) == {"name", "path", "type", "size", "modified"}
    whole = tree.get("/api/v2/userdata").json()
    assert [e["path"] for e in whole[:3]] == ["r/sub/deep", "r", "r/sub"]  # sorted by name only
    assert whole[1] == {"name": "r", "path": "r", "type": "directory"}
    assert_text(tree.get("/v2/userdata?path=nope"), 404, "Requested path not found")
    assert_text(tree.get("/v2/userdata?path=r%2Fa.json"), 400, "Requested path is not a directory")


# ---- traversal -------------------------------------------------------------------------------
ESCAPE = "..%2F..%2Fescape.json"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/userdata/{ESCAPE}"), ("POST", f"/userdata/{ESCAPE}"), ("DELETE", f"/userdata/{ESCAPE}"),
     ("GET", "/userdata/%2Fetc%2Fpasswd"), ("POST", f"/userdata/{ESCAPE}/move/x.json"),
     ("POST", f"/userdata/a.json/move/{ESCAPE}")],
    ids=["get", "post", "delete", "absolute", "move-source", "move-dest"],
)
def test_traversal_is_empty_403(client: TestClient, base_dir: Path, method: str, path: str) -> None:
    client.post("/userdata/a.json", content=b"1")
    assert_empty(client.request(method, path, content=b"x"), 403)
    assert not (base_dir / "escape.json").exists()
    assert client.get("/userdata/a.json").content == b"1"


def test_traversal_in_listings(client: TestClient) -> None:
    assert_text(client.get("/userdata", params={"dir": "../.."}), 403, "Invalid directory")
    assert_text(client.get("/v2/userdata", params={"path": "../.."}), 400, "Invalid path requested")


# ---- multi-user ------------------------------------------------------------------------------
def test_users_see_only_their_own_files_and_settings(multi: TestClient, base_dir: Path) -> None:
    a, b = new_user(multi, "a"), new_user(multi, "b")
    multi.post("/settings", json={"theme": "dark"}, headers=a)
    assert multi.get("/settings", headers=b).json() == {}
    assert multi.get("/settings/theme", headers=b).json() is None
    assert multi.get("/userdata/comfy.settings.json", headers=a).json() == {"theme": "dark"}

    assert multi.post("/userdata/run%2Fa.json", content=b"A", headers=a).status_code == 200
    assert_empty(multi.get("/userdata/run%2Fa.json", headers=b), 404)
    assert_empty(multi.delete("/userdata/run%2Fa.json", headers=b), 404)
    r = multi.post("/userdata/run%2Fa.json?overwrite=false", content=b"B", headers=b)
    assert r.status_code == 200
    assert multi.get("/userdata/run%2Fa.json", headers=a).content == b"A"
    assert multi.get("/userdata/run%2Fa.json", headers=b).content == b"B"
    assert (base_dir / "user" / a["comfy-user"] / "run" / "a.json").read_bytes() == b"A"

    assert multi.post("/userdata/run%2Fa.json/move/moved.json", headers=b).json() == "moved.json"
    assert (base_dir / "user" / b["comfy-user"] / "moved.json").is_file()
    assert multi.get("/userdata/run%2Fa.json", headers=a).content == b"A"


def test_escaping_to_another_users_root(multi: TestClient, base_dir: Path) -> None:
    a, b = new_user(multi, "a"), new_user(multi, "b")
    multi.post("/userdata/run%2Fa.json", content=b"A", headers=a)
    escape = f"..%2F{a['comfy-user']}%2Frun%2Fa.json"
    assert_empty(multi.get(f"/userdata/{escape}", headers=b), 403)
    assert_empty(multi.post(f"/userdata/{escape}", content=b"B", headers=b), 403)
    assert_empty(multi.delete(f"/userdata/{escape}", headers=b), 403)
    assert_empty(multi.post(f"/userdata/x.json/move/{escape}", headers=b), 404)  # source checked first
    assert_text(multi.get("/v2/userdata", params={"path": f"../{a['comfy-user']}"}, headers=b), 400,
                "Invalid path requested")
    assert (base_dir / "user" / a["comfy-user"] / "run" / "a.json").read_bytes() == b"A"


def test_header_name_is_case_insensitive(multi: TestClient) -> None:
    a = new_user(multi, "a")
    multi.post("/settings", json={"x": 1}, headers={"Comfy-User": a["comfy-user"]})
    assert multi.get("/settings", headers=a).json() == {"x": 1}


def test_v2_for_a_new_user(multi: TestClient) -> None:
    a = new_user(multi, "a")
    assert multi.get("/v2/userdata", headers=a).json() == []
    assert_text(multi.get("/v2/userdata?path=sub", headers=a), 404, "Requested path not found")
    for rel in ("run%2Fc.json", "run%2Fsub%2Fb.json"):
        multi.post(f"/userdata/{rel}", content=b"{}", headers=a)
    assert [e["path"] for e in multi.get("/v2/userdata", headers=a).json()] == [
        "run", "run/sub", "run/sub/b.json", "run/c.json"]


UNKNOWN_USERS = [None, "nobody", "", "__system", "default"]


@pytest.mark.parametrize("user", UNKNOWN_USERS, ids=["absent", "unknown", "empty", "system", "default"])
@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [("GET", "/settings", 401, "401: Unauthorized"), ("POST", "/settings", 401, "401: Unauthorized"),
     ("GET", "/settings/k", 401, "401: Unauthorized"), ("POST", "/settings/k", 401, "401: Unauthorized"),
     ("GET", "/userdata?dir=run", 500, TEXT_500), ("GET", "/userdata/a.json", 500, TEXT_500),
     ("POST", "/userdata/a.json", 500, TEXT_500), ("DELETE", "/userdata/a.json", 500, TEXT_500),
     ("POST", "/userdata/a.json/move/b.json", 500, TEXT_500),
     ("GET", "/v2/userdata", 403, "Invalid user specified in request")],
)
def test_unknown_or_absent_user(multi: TestClient, user: str | None, method: str, path: str,
                                status: int, body: str) -> None:
    new_user(multi, "someone")  # a users map that is not empty
    headers = {} if user is None else {"comfy-user": user}
    assert_text(multi.request(method, path, headers=headers, content=b"{}"), status, body)


def test_listing_without_dir_is_400_even_for_an_unknown_user(multi: TestClient) -> None:
    assert_text(multi.get("/userdata", headers={"comfy-user": "nobody"}), 400, "Directory not provided")


def test_unknown_user_does_not_affect_users_route(multi: TestClient) -> None:
    assert multi.get("/users", headers={"comfy-user": "nobody"}).status_code == 200
    assert multi.post("/users", json={"username": "z"}, headers={"comfy-user": "nobody"}).status_code == 200


def test_settings_401_is_raised_without_cors_headers(make_client: Callable[..., TestClient]) -> None:
    c = make_client(multi_user=True, enable_cors_header="*")
    r = c.get("/settings")
    assert r.status_code == 401
    assert "access-control-allow-origin" not in r.headers
    r = c.get("/v2/userdata")  # returned, not raised: carries them
    assert r.status_code == 403 and r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("user", ["__system", "nobody", ""])
def test_single_user_mode_ignores_the_header(client: TestClient, user: str) -> None:
    h = {"comfy-user": user}
    assert client.post("/settings", json={"s": user}, headers=h).status_code == 200
    assert client.get("/settings/s").json() == user
    assert client.post("/userdata/x.json", content=b"1", headers=h).json() == "x.json"
    assert sorted(client.get("/userdata?dir=.", headers=h).json()) == ["comfy.settings.json", "x.json"]
    assert [e["name"] for e in client.get("/v2/userdata", headers=h).json()] == ["comfy.settings.json", "x.json"]
