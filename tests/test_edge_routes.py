"""Routes real has beyond the common ones, and answers at their edges (facts measured on a real
ComfyUI 0.8.0; tests/differential/cases_routes.py sends the same to both)."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fakecomfy.core.paths import STOCK_CONFIGS_DIR
from fakecomfy.testing import ServerThread

pytestmark = pytest.mark.fake_only

TEXT_404 = "404: Not Found"


def test_internal_files_lists_newest_first_without_hidden_files(client: TestClient, base_dir: Path) -> None:
    folder = base_dir / "input"
    for age, name in enumerate(["new.png", "old.txt", ".hidden"]):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (time.time() - 100 * (age + 1),) * 2)
    names = client.get("/internal/files/input").json()
    assert names.index("new.png") < names.index("old.txt") and ".hidden" not in names


def test_internal_files_refuses_other_directory_types(client: TestClient) -> None:
    r = client.get("/internal/files/models")
    assert (r.status_code, r.json()) == (400, {"error": "Invalid directory type"})


def test_internal_routes_have_no_api_copy_and_no_static_fallback(client: TestClient) -> None:
    assert (client.get("/api/internal/logs").status_code, client.get("/api/internal/logs").content) == (404, b"")
    for path in ("/internal", "/internal/", "/internal/nope", "/internal/logs/"):
        r = client.get(path)
        assert (r.status_code, r.text) == (404, TEXT_404), path
    r = client.get("/internal/logs/subscribe")
    assert (r.status_code, r.headers["allow"]) == (405, "PATCH")


def test_internal_logs_and_raw_entries_agree(client: TestClient) -> None:
    raw = client.get("/internal/logs/raw").json()
    assert set(raw["size"]) == {"cols", "rows"} and raw["entries"]
    assert client.get("/internal/logs").json() == "".join(f"{e['t']} - {e['m']}" for e in raw["entries"])


@pytest.mark.parametrize(("body", "status"), [
    (b'{"clientId": "c", "enabled": true}', 200),
    (b'{"clientId": "c", "enabled": false}', 200),
    (b'{"clientId": "c"}', 500),
    (b'{"clientId": [], "enabled": true}', 500),
    (b"nope", 500),
], ids=["on", "off", "missing-enabled", "unhashable-id", "not-json"])
def test_log_subscription_answers(client: TestClient, body: bytes, status: int) -> None:
    r = client.patch("/internal/logs/subscribe", content=body)
    assert r.status_code == status
    if status == 200:
        assert r.content == b"" and "content-type" not in r.headers


def test_internal_folder_paths_lists_output_folders_after_models(client: TestClient, base_dir: Path) -> None:
    folders = client.get("/internal/folder_paths").json()
    root = base_dir.resolve()
    assert folders["checkpoints"] == [str(root / "models" / "checkpoints"), str(root / "output" / "checkpoints")]
    assert folders["text_encoders"][-1] == str(root / "output" / "clip")
    assert folders["configs"] == [str(root / "models" / "configs")]


def test_unknown_global_subgraph_is_null_under_both_prefixes(client: TestClient) -> None:
    for path in ("/global_subgraphs/abc", "/api/global_subgraphs/abc"):
        r = client.get(path)
        assert (r.status_code, r.content) == (200, b"null")


def test_no_stock_configs_listed_but_a_loader_still_finds_them(client: TestClient, base_dir: Path) -> None:
    assert client.get("/models/configs").json() == []
    opts = client.get("/object_info/CheckpointLoader").json()["CheckpointLoader"]["input"]["required"]
    assert opts["config_name"] == [[]]
    model: object = client.app.state.model  # type: ignore[attr-defined]
    found = model.paths.find_model("configs", "v1-inference.yaml")  # type: ignore[attr-defined]
    assert found == (STOCK_CONFIGS_DIR / "v1-inference.yaml").resolve()


def test_history_delete_of_an_unhashable_id_fails_only_once_history_has_entries(client: TestClient) -> None:
    assert client.post("/history", json={"delete": [[]]}).status_code == 200
    queue = client.app.state.model.queue  # type: ignore[attr-defined]
    queue.history["p"] = {}
    assert client.post("/history", json={"delete": [[]]}).status_code == 500


def test_a_routed_404_for_an_image_path_is_cached_an_hour(client: TestClient) -> None:
    r = client.get("/userdata/nope.png")
    assert (r.status_code, r.headers["cache-control"]) == (404, "public, max-age=3600")
    assert client.get("/userdata/nope.js").headers["cache-control"] == "no-cache"
    assert "cache-control" not in client.get("/userdata/nope.json").headers


def test_head_of_a_bodyless_answer_has_no_length(client: TestClient) -> None:
    r = client.head("/view?filename=missing.png")
    assert r.status_code == 404 and "content-length" not in r.headers
    assert client.head("/prompt").headers["content-length"] == "37"


def _raw(server: ServerThread, request: bytes) -> bytes:
    host, port = server.url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("request_line", "status_line", "body"), [
    (b"GET * HTTP/1.1", b"HTTP/1.0 400 Bad Request", b"*"),
    (b"POST *x HTTP/1.1", b"HTTP/1.0 400 Bad Request", b"*x"),
    (b"CONNECT 127.0.0.1:1 HTTP/1.1", b"HTTP/1.1 404 Not Found", TEXT_404.encode()),
    (b"OPTIONS * HTTP/1.1", b"HTTP/1.1 200 OK", b""),
], ids=["asterisk", "asterisk-prefix", "connect", "options-asterisk"])
def test_request_targets_aiohttp_refuses_or_routes_nowhere(
        make_server: Callable[..., ServerThread], request_line: bytes, status_line: bytes, body: bytes) -> None:
    answer = _raw(make_server(), request_line)
    assert answer.startswith(status_line + b"\r\n") and answer.endswith(b"\r\n\r\n" + body)
