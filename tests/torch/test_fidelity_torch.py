"""The golden lifecycle scenarios against ``fakecomfy serve --executor torch --cpu``: the torch
executor keeps every behaviour a client observes. The scenario test is tests/test_fidelity.py's,
collected here over this module's ``report``."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from tests.test_fidelity import SCENARIOS, run_compare, serve_for_scoring  # noqa: E402
from tests.test_fidelity import test_scenario_matches_real_comfyui as test_scenario_matches_real_comfyui_on_torch  # noqa: E402,F401

pytestmark = pytest.mark.fidelity


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    # importing torch makes the server slower to start
    for url in serve_for_scoring(tmp_path_factory, "--executor", "torch", "--cpu", start_timeout=60):
        yield run_compare(url, SCENARIOS)
