"""Input specs (``core/validation/definitions.py``): a V3 node's dynamic inputs are expanded
against the prompt and checked under their full names."""
from __future__ import annotations

from typing import Any

from tests.validation.prompts import empty_image, only_error, save


def test_v3_dynamic_input_missing_shows_last_name_part(check: Any) -> None:
    resize = {"class_type": "ResizeImageMaskNode",
              "inputs": {"input": ["1", 0], "resize_type": "scale dimensions", "resize_type.width": 8,
                         "resize_type.crop": "center", "scale_method": "area"}}
    result = check({"1": empty_image(), "2": resize, "3": save("2")})
    err = only_error(result, "2")
    assert (err["type"], err["details"], err["extra_info"]) == (
        "required_input_missing", "height", {"input_name": "resize_type.height"})


def test_v3_dynamic_combo_nested_values_are_checked(check: Any) -> None:
    resize = {"class_type": "ResizeImageMaskNode",
              "inputs": {"input": ["1", 0], "resize_type": "scale by multiplier", "resize_type.multiplier": 99,
                         "scale_method": "area"}}
    err = only_error(check({"1": empty_image(), "2": resize, "3": save("2")}), "2")
    assert err["type"] == "value_bigger_than_max" and err["extra_info"]["input_name"] == "resize_type.multiplier"


def test_v3_autogrow_inputs_are_checked_under_their_full_name(check: Any) -> None:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    batch: dict[str, Any] = {"class_type": "BatchImagesNode",
                             "inputs": {"images.image0": ["1", 0], "images.image1": ["2", 0]}}
    err = only_error(check({"1": empty_image(), "2": latent, "3": batch, "4": save("3")}), "3")
    assert err["details"] == "images.image1, received_type(LATENT) mismatch input_type(IMAGE)"
    batch["inputs"]["images.image1"] = ["1", 0]
    assert check({"1": empty_image(), "3": batch, "4": save("3")}).ok
