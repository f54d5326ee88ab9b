"""Docs that run: the README's Python examples work against a real server."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fakecomfy.testing import ServerThread
from tests.conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, make_server: Callable[..., ServerThread], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    srv = make_server()
    code = BLOCKS[index].replace("127.0.0.1:8188", f"127.0.0.1:{srv.port}")
    code = code.replace('"/tmp/comfy"', repr(str(tmp_path / "comfy")))
    monkeypatch.chdir(ROOT)
    exec(compile(code, f"README block {index}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.strip(), "the example prints its result"
