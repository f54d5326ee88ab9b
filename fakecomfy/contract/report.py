"""What a contract run found: one :class:`Check` per request or WebSocket exchange, gathered in a
:class:`Report` that prints itself as text, JSON or Markdown."""
from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class Outcome(str, enum.Enum):
    """A check's result; the value is what the reports print."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"

    def __str__(self) -> str:  # f-strings print the value on every Python version
        return str(self.value)


@dataclass
class Check:
    name: str
    outcome: Outcome
    operation: str = ""
    request: str = ""
    status: int | None = None
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def first(self) -> str:
        return self.problems[0] if self.problems else self.note

    @property
    def headline(self) -> str:
        """``PASS  GET /system_stats -> 200``: the line the text report and the progress log print."""
        return f"{self.outcome}  {self.name}" + (f" -> {self.status}" if self.status is not None else "")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome.value}


def judged(problems: list[str]) -> Outcome:
    """FAIL when there are problems, else PASS."""
    return Outcome.FAIL if problems else Outcome.PASS


@dataclass
class Report:
    target: str
    token: str
    destructive: bool
    checks: list[Check] = field(default_factory=list)
    duration_s: float = 0.0

    def counts(self) -> dict[str, int]:
        return {o.value.lower(): sum(c.outcome is o for c in self.checks) for o in Outcome}

    @property
    def ok(self) -> bool:
        return not any(c.outcome is Outcome.FAIL for c in self.checks)

    @property
    def verdict(self) -> str:
        return "OK" if self.ok else "DEVIATIONS"

    def summary(self) -> str:
        n = self.counts()
        return (f"contract {self.verdict}: {n['pass']} passed, {n['fail']} failed, {n['skip']} skipped "
                f"against {self.target} in {self.duration_s:.1f} s")

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "token": self.token, "destructive": self.destructive,
                "ok": self.ok, "summary": self.counts(), "duration_s": round(self.duration_s, 3),
                "checks": [c.to_json() for c in self.checks]}

    def text(self) -> str:
        lines = []
        for c in self.checks:
            lines.append(c.headline)
            if c.outcome is Outcome.FAIL:
                lines.append(f"      first deviation: {c.first}")
                if c.request:
                    lines.append(f"      request: {c.request}")
                if len(c.problems) > 1:
                    lines.append(f"      (+{len(c.problems) - 1} more)")
            elif c.outcome is Outcome.SKIP and c.note:
                lines.append(f"      {c.note}")
        lines.append(self.summary())
        return "\n".join(lines)

    def markdown(self) -> str:
        n = self.counts()
        out = [f"# fakecomfy contract report: {self.target}", "",
               f"**{self.verdict}**: {n['pass']} passed, {n['fail']} failed, "
               f"{n['skip']} skipped in {self.duration_s:.1f} s (token `{self.token}`, "
               f"destructive: {'yes' if self.destructive else 'no'}).", "",
               "| Result | Check | Operation | HTTP | First deviation / note |",
               "|---|---|---|---|---|"]
        for c in self.checks:
            cell = c.first.replace("|", "\\|").replace("\n", " ")
            status = "" if c.status is None else c.status
            out.append(f"| {c.outcome} | `{c.name}` | {c.operation} | {status} | {cell} |")
        failed = [c for c in self.checks if c.outcome is Outcome.FAIL]
        if failed:
            out += ["", "## Deviations", ""]
            for c in failed:
                out += [f"### {c.name}", "", f"Request: `{c.request}`", ""]
                out += [f"- {p}" for p in c.problems] + [""]
        return "\n".join(out) + "\n"

    def write(self, path: Path) -> None:
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        elif path.suffix.lower() == ".md":
            path.write_text(self.markdown(), encoding="utf-8")
        else:
            raise ValueError(f"report file must end in .json or .md: {path}")


__all__ = ["Check", "Outcome", "Report", "judged"]
