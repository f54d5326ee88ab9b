"""The nodes' own validation (``core/validation/custom.py``): the loaders' file checks and the
API nodes' argument checks."""
from __future__ import annotations

from typing import Any

import pytest

from tests.validation.prompts import only_error, save


def load_image(name: Any) -> dict[str, Any]:
    return {"class_type": "LoadImage", "inputs": {"image": name}}


def test_load_image_missing_file(check: Any) -> None:
    err = only_error(check({"1": load_image("missing.png"), "2": save()}), "1")
    assert err == {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                   "details": "image - Invalid image file: missing.png", "extra_info": {"input_name": "image"}}


@pytest.mark.parametrize("name", ["example.png", "example.png [input]"])
def test_load_image_existing_file_skips_the_combo_check(check: Any, name: str) -> None:
    assert check({"1": load_image(name), "2": save()}).ok


def test_load_image_mask(check: Any) -> None:
    mask = {"class_type": "LoadImageMask", "inputs": {"image": "nope.png", "channel": "alpha"}}
    result = check({"1": mask, "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 0]}}, "3": save("2")})
    assert only_error(result, "1")["details"] == "image - Invalid image file: nope.png"


def test_load_image_without_image_raises_inside_its_validation(check: Any) -> None:
    result = check({"1": {"class_type": "LoadImage", "inputs": {}}, "2": save()})
    err = only_error(result, "1")
    assert err["type"] == "exception_during_inner_validation"
    assert err["details"] == "LoadImage.VALIDATE_INPUTS() missing 1 required positional argument: 'image'"


def test_camera_controls_report_every_argument(check: Any) -> None:
    axes = dict.fromkeys(["horizontal_movement", "vertical_movement", "pan", "tilt", "roll", "zoom"], 0)
    controls: dict[str, Any] = {"class_type": "KlingCameraControls",
                                "inputs": {"camera_control_type": "simple", **axes}}
    result = check({"1": controls, "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}})
    errors = result.node_errors["1"]["errors"]
    assert [e["extra_info"]["input_name"] for e in errors] == list(axes)
    assert errors[0]["details"] == ("horizontal_movement - Invalid camera control configs: "
                                    "at least one of the values must be non-zero")
    controls["inputs"]["zoom"] = 1
    assert check({"1": controls, "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}).ok
