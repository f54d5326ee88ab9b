"""``create_executor`` builds the torch family when PyTorch is there and says how to get it
when it is not (these tests run without PyTorch too)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fakecomfy.executors import create_executor
from tests.test_numpy_nodes import make_env


def test_without_pytorch_the_error_names_the_extra(base_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ValueError, match=r"pip install 'fakecomfy\[torch\]'"):
        create_executor("torch", make_env(base_dir))


def test_an_unknown_executor_lists_the_available_ones(base_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown executor 'jax'; available: numpy, torch"):
        create_executor("jax", make_env(base_dir))


def test_with_pytorch_the_torch_family_runs(base_dir: Path) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install 'fakecomfy[torch]')")
    executor = create_executor("torch", make_env(base_dir))
    assert executor.name == "torch"
