"""The package type-checks (STYLE: types as documentation, checked in CI)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_package_passes_mypy() -> None:
    if shutil.which("mypy") is None and not (ROOT / ".venv" / "bin" / "mypy").exists():
        pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "fakecomfy"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
