"""Link types (``core/validation/link_types.py``): which output may feed which input."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.core.validation import types_compatible
from tests.validation.prompts import only_error, save


def test_return_type_mismatch(check: Any) -> None:
    result = check({"1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                    "2": save()})
    err = only_error(result, "2")
    assert err["details"] == "images, received_type(LATENT) mismatch input_type(IMAGE)"
    assert err["extra_info"]["received_type"] == "LATENT" and err["extra_info"]["linked_node"] == ["1", 0]
    assert result.error["details"] == ("Return type mismatch between linked nodes: "
                                       "images, received_type(LATENT) mismatch input_type(IMAGE)")


def test_any_type_input_accepts_everything(check: Any) -> None:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    assert check({"1": latent, "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}).ok


@pytest.mark.parametrize("received,accepted,strict,expected", [
    ("IMAGE", "IMAGE", False, True), ("LATENT", "IMAGE", False, False), ("*", "IMAGE", False, True),
    ("IMAGE", "*", False, True), ("INT", "INT,FLOAT", False, True), ("STRING,INT", "INT", False, True),
    ("STRING,INT", "INT", True, False), ("INT", "FLOAT, INT", True, True), ("A,*", "B", False, True),
    (["a", "b"], "COMBO", False, True), (["a"], "STRING", False, False),
    ("COMFY_MATCHTYPE_V3", "IMAGE", False, True),
])
def test_types_compatible(received: Any, accepted: Any, strict: bool, expected: bool) -> None:
    assert types_compatible(received, accepted, strict) is expected
