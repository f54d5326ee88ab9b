"""The CLI: flags named like ComfyUI's main.py, FAKECOMFY_* variables, and a real `serve` start."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fakecomfy.cli import main, settings_from_args
from fakecomfy.settings import Settings, env_defaults, parse_node_times
from tests.conftest import free_port


def _parse(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    import argparse

    from fakecomfy.cli import _serve_parser

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    _serve_parser(sub)
    return settings_from_args(parser.parse_args(["serve", *argv]), env or {})


def test_defaults_match_comfyui() -> None:
    s = _parse([])
    assert (s.listen, s.port, s.multi_user, s.enable_cors_header) == ("127.0.0.1", 8188, False, None)
    assert s.max_upload_bytes == 100 * 1024 * 1024


def test_comfyui_flags(tmp_path: Path) -> None:
    s = _parse(["--listen", "0.0.0.0", "--port", "9000", "--base-directory", str(tmp_path),
                "--multi-user", "--enable-cors-header", "--max-upload-size", "1.5", "--disable-metadata",
                "--node-time", "ImageBlur=3", "--node-time", "KSampler=0.5,VAEDecode=1"])
    assert s.listen == "0.0.0.0" and s.port == 9000 and s.base_directory == tmp_path
    assert s.multi_user and s.disable_metadata
    assert s.enable_cors_header == "*"
    assert s.max_upload_bytes == round(1.5 * 1024 * 1024)
    assert s.node_times == {"ImageBlur": 3.0, "KSampler": 0.5, "VAEDecode": 1.0}


def test_cors_flag_takes_an_origin() -> None:
    assert _parse(["--enable-cors-header", "http://example.test"]).enable_cors_header == "http://example.test"


def test_environment_variables_feed_settings_and_flags_win(tmp_path: Path) -> None:
    env = {"FAKECOMFY_PORT": "7000", "FAKECOMFY_MULTI_USER": "1", "FAKECOMFY_BASE_DIRECTORY": str(tmp_path),
           "FAKECOMFY_MAX_UPLOAD_SIZE": "2", "FAKECOMFY_NODE_TIME": "KSampler=1",
           "FAKECOMFY_ENABLE_CORS_HEADER": ""}
    s = _parse(["--port", "7001"], env)
    assert s.port == 7001 and s.multi_user and s.base_directory == tmp_path
    assert s.max_upload_size == 2.0 and s.node_times == {"KSampler": 1.0}
    assert s.enable_cors_header == "*"
    assert env_defaults({}) == {}


def test_bad_node_time_is_refused() -> None:
    with pytest.raises(ValueError, match="CLASS=SECONDS"):
        parse_node_times(["KSampler"])



def test_serve_prints_url_and_answers(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakecomfy", "--port", str(port), "--base-directory", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert any(re.search(rf"http://127\.0\.0\.1:{port}", line) for line in lines), lines
        deadline = time.monotonic() + 10
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/system_stats", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.json()["system"]["comfyui_version"] == "0.8.0"
        for sub in ("input", "output", "temp", "user", "models/checkpoints"):
            assert (tmp_path / sub).is_dir(), sub
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_quiet_serve_listens_when_it_prints_its_url_and_logs_no_connections(tmp_path: Path) -> None:
    """A script may connect as soon as the URL line appears (real prints its line once it
    listens); ``--quiet`` logs neither requests nor uvicorn's WebSocket connection lines."""
    import websocket

    proc = subprocess.Popen(
        [sys.executable, "-m", "fakecomfy", "serve", "--port", "0", "--quiet", "--base-directory", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"fakecomfy running at (http://\S+)", line)
            if found:
                break
        url = found.group(1) if found else ""
        assert requests.get(url + "/system_stats", timeout=5).status_code == 200  # no retry needed
        ws = websocket.create_connection(url.replace("http", "ws") + "/ws?clientId=quiet", timeout=5)
        ws.recv()
        ws.close()
        assert requests.get(url + "/queue", timeout=5).status_code == 200
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=10)[0]
    logged = [line for line in rest.splitlines() if "quiet" in line or "connection" in line or "GET" in line]
    assert logged == []


def test_default_directory_is_fresh_and_removed_on_exit() -> None:
    from starlette.testclient import TestClient

    from fakecomfy import create_app

    app = create_app(Settings(log_requests=False))
    base = app.state.model.paths.base
    assert (base / "input" / "example.png").is_file()
    with TestClient(app) as c:
        assert "v1-5-pruned-emaonly.safetensors" in c.get("/models/checkpoints").json()
    assert not base.exists()


def test_capture_saves_object_info(tmp_path: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server()
    out = tmp_path / "captured.json"
    assert main(["capture", srv.url, "-o", str(out)]) == 0
    import json

    data = json.loads(out.read_text())
    assert data == requests.get(srv.url + "/object_info", timeout=10).json()


def test_bad_object_info_file_stops_serve_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    out = subprocess.run([sys.executable, "-m", "fakecomfy", "serve", "--port", "0", "--base-directory",
                          str(tmp_path / "base"), "--object-info", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "expected a JSON object of node definitions" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_executor_stops_serve_with_a_clear_message(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "fakecomfy", "serve", "--port", "0", "--base-directory",
                          str(tmp_path / "base"), "--executor", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "unknown executor 'nope'; available: numpy" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_makes_full_collections_rarer_in_its_own_process(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """History keeps thousands of prompts alive; ``serve`` lets the cyclic GC walk them less
    often (its third threshold), leaves the first two as they are, and freezes what exists."""
    import gc

    import uvicorn

    from fakecomfy.cli import serve

    seen: list[tuple[tuple[int, ...], int]] = []

    def run(self: uvicorn.Server, sockets: list[Any] | None = None) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        for sock in sockets or []:
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    before = gc.get_threshold()
    try:
        serve(Settings(base_directory=tmp_path, port=0, listen="127.0.0.1", log_requests=False))
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
    assert [threshold for threshold, _ in seen] == [(before[0], before[1], 100)]
    assert seen[0][1] > 0  # the long-lived objects built so far are frozen before serving


def test_a_server_embedded_in_a_process_leaves_its_garbage_collector_alone() -> None:
    """Only ``fakecomfy serve`` tunes and freezes the GC (its own process); an app built and
    started in a user's test run changes neither."""
    import gc

    from starlette.testclient import TestClient

    from fakecomfy import create_app

    before = (gc.get_threshold(), gc.get_freeze_count())
    with TestClient(create_app(Settings(log_requests=False))) as c:
        assert c.get("/system_stats").status_code == 200
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
