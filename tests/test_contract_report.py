"""fakecomfy.contract.report: the text, JSON and Markdown of a report, byte for byte as they were
when the outcomes were plain strings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakecomfy.contract.report import Check, Outcome, Report


@pytest.fixture
def report() -> Report:
    checks = [
        Check("GET /system_stats", Outcome.PASS, "getSystemStats", "GET /system_stats", 200),
        Check("WS event order", Outcome.PASS, "connectWebSocket", "POST /prompt", None, note="status executing"),
        Check("GET /api/queue", Outcome.FAIL, "getQueue", "GET /api/queue", 200, ["a | b\nc", "second"]),
        Check("WS greeting", Outcome.FAIL, "connectWebSocket", "", None, ["first frame is binary"]),
        Check("interrupt", Outcome.SKIP, "interrupt", note="only with --destructive"),
    ]
    return Report("http://h", "0123456789ab", False, checks, 1.23456)


def test_outcome_prints_as_its_value() -> None:
    assert (str(Outcome.FAIL), f"{Outcome.FAIL}", json.dumps([Outcome.FAIL])) == ("FAIL", "FAIL", '["FAIL"]')


def test_text_report(report: Report) -> None:
    assert report.text() == """\
PASS  GET /system_stats -> 200
PASS  WS event order
FAIL  GET /api/queue -> 200
      first deviation: a | b
c
      request: GET /api/queue
      (+1 more)
FAIL  WS greeting
      first deviation: first frame is binary
SKIP  interrupt
      only with --destructive
contract DEVIATIONS: 2 passed, 2 failed, 1 skipped against http://h in 1.2 s"""


def test_a_report_without_failures_is_ok(report: Report) -> None:
    report.checks = [c for c in report.checks if c.outcome is not Outcome.FAIL]
    assert report.ok
    assert report.text().endswith("\ncontract OK: 2 passed, 0 failed, 1 skipped against http://h in 1.2 s")


def test_markdown_report(report: Report, tmp_path: Path) -> None:
    report.write(tmp_path / "r.md")
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == """\
# fakecomfy contract report: http://h

**DEVIATIONS**: 2 passed, 2 failed, 1 skipped in 1.2 s (token `0123456789ab`, destructive: no).

| Result | Check | Operation | HTTP | First deviation / note |
|---|---|---|---|---|
| PASS | `GET /system_stats` | getSystemStats | 200 |  |
| PASS | `WS event order` | connectWebSocket |  | status executing |
| FAIL | `GET /api/queue` | getQueue | 200 | a \\| b c |
| FAIL | `WS greeting` | connectWebSocket |  | first frame is binary |
| SKIP | `interrupt` | interrupt |  | only with --destructive |

## Deviations

### GET /api/queue

Request: `GET /api/queue`

- a | b
c
- second

### WS greeting

Request: ``

- first frame is binary

"""


def test_json_report(report: Report, tmp_path: Path) -> None:
    def check(name: str, outcome: str, operation: str, request: str, status: int | None,
              problems: list[str], note: str) -> dict[str, object]:
        return {"name": name, "outcome": outcome, "operation": operation, "request": request,
                "status": status, "problems": problems, "note": note}

    report.write(tmp_path / "r.json")
    expected = {
        "target": "http://h", "token": "0123456789ab", "destructive": False, "ok": False,
        "summary": {"pass": 2, "fail": 2, "skip": 1}, "duration_s": 1.235,
        "checks": [
            check("GET /system_stats", "PASS", "getSystemStats", "GET /system_stats", 200, [], ""),
            check("WS event order", "PASS", "connectWebSocket", "POST /prompt", None, [], "status executing"),
            check("GET /api/queue", "FAIL", "getQueue", "GET /api/queue", 200, ["a | b\nc", "second"], ""),
            check("WS greeting", "FAIL", "connectWebSocket", "", None, ["first frame is binary"], ""),
            check("interrupt", "SKIP", "interrupt", "", None, [], "only with --destructive"),
        ],
    }
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == json.dumps(expected, indent=2)


def test_other_report_suffixes_are_refused(report: Report, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.json or \.md"):
        report.write(tmp_path / "r.txt")
