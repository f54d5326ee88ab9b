"""Model-free graphs save the same pixels on the torch executor as on real ComfyUI.

The expected digests were recorded from a real ComfyUI 0.8.0 (``tests/torch/parity_cases.py``
says how); the graphs cover every upscale method, blur, sharpen, invert, alpha masks, the mask
nodes, outpaint padding, masked compositing and batching.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch", reason="the torch executor's tests need PyTorch (pip install 'fakecomfy[torch]')")

from fakecomfy.settings import Settings  # noqa: E402
from fakecomfy.testing import FakeComfy  # noqa: E402
from tests.torch.parity_cases import CASES, INPUT_NAME, RECORDED, input_png, pixel_digest  # noqa: E402

EXPECTED: dict[str, list[str]] = json.loads(RECORDED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def comfy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeComfy]:
    base = tmp_path_factory.mktemp("torch_parity")
    with FakeComfy.start(Settings(base_directory=base, executor="torch", log_requests=False)) as handle:
        (handle.input_dir / INPUT_NAME).write_bytes(input_png())
        yield handle


def test_every_case_was_recorded() -> None:
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_saved_pixels_match_real(comfy: FakeComfy, case: str) -> None:
    prompt_id = comfy.submit(CASES[case])
    comfy.wait(prompt_id)
    assert [pixel_digest(data) for data in comfy.image_bytes(prompt_id)] == EXPECTED[case]
