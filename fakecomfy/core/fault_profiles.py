"""Fault profiles: a named set of faults a server holds from its start and again after every reset.

A profile is a JSON file: a list of faults in the control plane's shape (``POST
/_fakecomfy/faults``), or an object with a ``description`` and that list as ``faults``. The
shipped ones live in ``fakecomfy/data/fault_profiles/`` (``slow``, ``flaky``, ``oom``, ``hang``,
``unreliable``); ``--fault-profile`` takes one of their names or a file's path.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakecomfy.core.faults import Fault, FaultSpecError, fault_from

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "fault_profiles"


class FaultProfileError(ValueError):
    """A fault profile that cannot be used: an unknown name, an unreadable file, a bad fault."""


@dataclass(frozen=True)
class FaultProfile:
    """A loaded profile: its name (a shipped name or the file's stem) and its faults' JSON."""

    name: str
    description: str
    specs: tuple[dict[str, Any], ...]

    def faults(self) -> list[Fault]:
        """Fresh faults (none fired yet), with ids ``NAME-1``, ``NAME-2``... unless a spec has one."""
        out = []
        for number, spec in enumerate(self.specs, 1):
            fault = fault_from(spec)
            fault.id = fault.id or f"{self.name}-{number}"
            out.append(fault)
        return out


def shipped_fault_profiles() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))


def load_fault_profile(name_or_path: str) -> FaultProfile:
    """A shipped profile by name, else the JSON file at that path; :class:`FaultProfileError`
    says what is wrong."""
    shipped = SHIPPED_DIR / f"{name_or_path}.json"
    if "/" not in name_or_path and "\\" not in name_or_path and shipped.is_file():
        path, name = shipped, name_or_path
    else:
        path, name = Path(name_or_path), Path(name_or_path).stem
        if not path.is_file():
            raise FaultProfileError(f"unknown fault profile {name_or_path!r}; shipped: "
                                    f"{', '.join(shipped_fault_profiles())} (or a JSON file's path)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FaultProfileError(f"fault profile {path}: {exc}") from None
    description = ""
    if isinstance(data, dict):
        description = str(data.get("description", ""))
        data = data.get("faults")
    if not isinstance(data, list):
        raise FaultProfileError(f"fault profile {path}: expected a list of faults (or an object with one "
                                f"as \"faults\"), got {type(data).__name__}")
    for number, spec in enumerate(data, 1):
        try:
            fault_from(spec)
        except (FaultSpecError, TypeError) as exc:
            raise FaultProfileError(f"fault profile {path}: fault {number}: {exc}") from None
    return FaultProfile(name, description, tuple(data))


__all__ = ["SHIPPED_DIR", "FaultProfile", "FaultProfileError", "load_fault_profile", "shipped_fault_profiles"]
