"""``fakecomfy contract URL``: the contract checks against the fake (or, with ``--comfy-url``, a
real ComfyUI), against a deliberately broken server, and what safe mode leaves behind."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakecomfy.cli import main
from fakecomfy.contract.client import PREFIX
from fakecomfy.contract.prompt import event_order_problems
from fakecomfy.testing import ServerThread


def test_contract_passes_and_writes_reports(target_url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "contract.json"
    assert main(["contract", target_url, "--report", str(report)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "contract OK:" in out and "FAIL" not in out
    assert "PASS  GET /api/system_stats" in out and "PASS  WS event order" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["ok"] is True and data["summary"]["fail"] == 0 and data["summary"]["pass"] > 50
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["WS no binary frames without preview_method"]["outcome"] == "PASS"
    assert {c["operation"] for c in data["checks"]} >= {"getSystemStats", "queuePrompt", "connectWebSocket",
                                                        "writeUserdataFile", "deleteUserdataFile"}
    # operations that change what the run did not create are skipped, not run
    skipped = {c["operation"] for c in data["checks"] if c["outcome"] == "SKIP"}
    assert {"interrupt", "freeMemory", "updateSettings"} <= skipped


@pytest.mark.fake_only
def test_markdown_report_and_generated_cases(make_server: Callable[..., ServerThread], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "contract.md"
    url = make_server().url
    assert main(["contract", url, "--report", str(report), "--max-examples", "3"]) == 0, capsys.readouterr().out
    text = report.read_text(encoding="utf-8")
    assert text.startswith(f"# fakecomfy contract report: {url}")
    assert "| PASS | `GET /system_stats` | getSystemStats | 200 |" in text
    assert "generated GET /history/{prompt_id}" in text and "**OK**" in text


@pytest.mark.fake_only
def test_safe_mode_leaves_no_userdata_and_keeps_history(make_server: Callable[..., ServerThread],
                                                        base_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    srv = make_server()
    settings_file = base_dir / "user" / "default" / "comfy.settings.json"
    settings_before = settings_file.read_bytes() if settings_file.exists() else None
    assert main(["contract", srv.url]) == 0, capsys.readouterr().out
    user_root = base_dir / "user" / "default"
    leftovers = [p for p in user_root.rglob("*") if PREFIX in str(p) and p.is_file()]
    assert leftovers == []
    # only an empty directory can remain: ComfyUI's API deletes files, not directories
    assert all(not any(d.iterdir()) for d in user_root.glob(f"{PREFIX}*"))
    assert (settings_file.read_bytes() if settings_file.exists() else None) == settings_before
    assert not list((base_dir / "output").rglob("*.png"))  # PreviewImage writes to temp/, not output/
    users = base_dir / "user" / "users.json"
    assert not users.exists() or PREFIX not in users.read_text()


# ---- a deliberately broken server ---------------------------------------------------------------
@pytest.fixture
def broken_server() -> Iterator[ServerThread]:
    async def system_stats(request: Request) -> JSONResponse:
        return JSONResponse({"system": {"os": "posix"}, "devices": "none"})  # wrong shape

    srv = ServerThread(Starlette(routes=[Route("/system_stats", system_stats),
                                         Route("/api/system_stats", system_stats)])).start()
    yield srv
    srv.stop()


@pytest.mark.fake_only
def test_broken_server_exits_1_and_names_the_deviation(broken_server: ServerThread, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "broken.json"
    assert main(["contract", broken_server.url, "--timeout", "5", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  GET /system_stats -> 200" in out
    block = out.split("FAIL  GET /system_stats -> 200", 1)[1].split("\nPASS", 1)[0].split("\nFAIL", 1)[0]
    assert "first deviation:" in block and "request: GET /system_stats" in block
    assert "contract DEVIATIONS:" in out.splitlines()[-2]
    data = json.loads(report.read_text(encoding="utf-8"))
    stats = next(c for c in data["checks"] if c["name"] == "GET /system_stats")
    assert stats["outcome"] == "FAIL" and stats["operation"] == "getSystemStats"
    assert any("devices" in p for p in stats["problems"])
    assert data["ok"] is False


def test_report_suffix_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"\.json or \.md"):
        main(["contract", "http://127.0.0.1:9", "--report", str(tmp_path / "r.txt")])


def test_event_order_problems() -> None:
    pid = "p"
    good = [("status", {}), ("execution_start", {"prompt_id": pid}), ("execution_cached", {"prompt_id": pid}),
            ("executing", {"node": "1", "prompt_id": pid}), ("executed", {"prompt_id": pid}),
            ("execution_success", {"prompt_id": pid}), ("status", {}), ("executing", {"node": None, "prompt_id": pid})]
    assert event_order_problems(good, pid) == []
    swapped = [good[0], good[2], good[1], *good[3:]]
    assert "no execution_cached after execution_start" in event_order_problems(swapped, pid)
    no_status = [e for i, e in enumerate(good) if i != 6]
    assert "no status between execution_success and executing null" in event_order_problems(no_status, pid)
