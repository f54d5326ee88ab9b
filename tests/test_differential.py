"""The fake answers the differential groups as the reference did (tests/differential/).

Each group's raw requests were sent to a real ComfyUI 0.8.0 running on the CPU beside the
project (``--base-directory`` holding ``../shared/fixtures``, serving the frontend it pins) and
its answers recorded in ``tests/differential/recorded/``; here the same requests go to a fresh
fake over the same files, serving the frontend the way ``fakecomfy serve`` does with the
``[ui]`` extra installed. Record a group again with
``python -m tests.differential.harness record GROUP --target URL``.
"""
from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecomfy import Settings, create_app
from fakecomfy.routes import frontend
from fakecomfy.testing import ServerThread
from tests.conftest import SHARED
from tests.differential.harness import RECORDED, differences

HAS_UI = importlib.util.find_spec(frontend.FRONTEND_PACKAGE) is not None
# groups whose answers come from the frontend's files: without the [ui] extra the fake has none
NEEDS_UI = {"static"}
GROUPS = [pytest.param(g, marks=pytest.mark.skipif(g in NEEDS_UI and not HAS_UI,
                                                   reason="the [ui] extra (comfyui-frontend-package) is not installed"))
          for g in sorted(p.stem for p in RECORDED.glob("*.json"))]

pytestmark = [pytest.mark.fake_only, pytest.mark.skipif(not (SHARED / "fixtures").is_dir(),
                                                        reason="../shared/fixtures is not beside the checkout")]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[ServerThread]:
    """A fake over a base directory like the reference's (the shared input and models only),
    serving the installed frontend like ``fakecomfy serve``."""
    base = tmp_path / "base"
    for folder in ("input", "models"):
        shutil.copytree(SHARED / "fixtures" / folder, base / folder)
    settings = Settings(base_directory=base, log_requests=False, front_end=True)
    server = ServerThread(create_app(settings)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("group", GROUPS)
def test_the_fake_answers_like_the_reference(group: str, fake: ServerThread) -> None:
    problems = differences(group, fake.url)
    assert not problems, f"{len(problems)} answers differ from the reference's:\n" + "\n".join(problems)
