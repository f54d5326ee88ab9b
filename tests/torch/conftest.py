"""What the torch family's server tests share: a server running the torch executor."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakecomfy.core import defaults
from fakecomfy.settings import Settings
from fakecomfy.testing import FakeComfy
from tests.torch.parity_cases import INPUT_NAME, input_png


@pytest.fixture(scope="module")
def comfy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeComfy]:
    """A server with ``executor="torch"`` over the default stand-ins, with the parity cases'
    input picture uploaded; one per test module."""
    base = tmp_path_factory.mktemp("torch_server")
    defaults.populate(base)
    with FakeComfy.start(Settings(base_directory=base, executor="torch", log_requests=False)) as handle:
        (handle.input_dir / INPUT_NAME).write_bytes(input_png())
        yield handle
