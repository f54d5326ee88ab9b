"""The fake answers the differential groups as the reference did (tests/differential/).

Each group's raw requests were sent to a real ComfyUI 0.8.0 running on the CPU beside the
project (``--base-directory`` holding ``../shared/fixtures``) and its answers recorded in
``tests/differential/recorded/``; here the same requests go to a fresh fake over the same files.
Record a group again with ``python -m tests.differential.harness record GROUP --target URL``.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecomfy import Settings, create_app
from fakecomfy.testing import ServerThread
from tests.conftest import SHARED
from tests.differential.harness import RECORDED, differences

GROUPS = sorted(p.stem for p in RECORDED.glob("*.json"))

pytestmark = [pytest.mark.fake_only, pytest.mark.skipif(not (SHARED / "fixtures").is_dir(),
                                                        reason="../shared/fixtures is not beside the checkout")]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[ServerThread]:
    """A fake over a base directory like the reference's: the shared input and models only."""
    base = tmp_path / "base"
    for folder in ("input", "models"):
        shutil.copytree(SHARED / "fixtures" / folder, base / folder)
    server = ServerThread(create_app(Settings(base_directory=base, log_requests=False))).start()
    yield server
    server.stop()


@pytest.mark.parametrize("group", GROUPS)
def test_the_fake_answers_like_the_reference(group: str, fake: ServerThread) -> None:
    problems = differences(group, fake.url)
    assert not problems, f"{len(problems)} answers differ from the reference's:\n" + "\n".join(problems)
