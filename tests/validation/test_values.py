"""Widget values (``core/validation/values.py``): lenient conversion stored in the prompt, ranges
and options, as ComfyUI 0.8.0 checks them."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.core.paths import FolderPaths
from tests.validation.prompts import empty_image, only_error, save


@pytest.mark.parametrize("value,expected", [("16", 16), (16.9, 16), ({"__value__": 16}, 16), (True, 1),
                                            (" 16 ", 16)], ids=["str", "float", "wrapped", "bool", "spaces"])
def test_lenient_int_conversion_is_stored(check: Any, value: Any, expected: int) -> None:
    prompt = {"1": empty_image(width=value), "2": save()}
    result = check(prompt)
    assert result.ok
    assert prompt["1"]["inputs"]["width"] == expected and result.prompt is prompt


def test_other_conversions(check: Any) -> None:
    prompt = {"1": {"class_type": "SolidMask", "inputs": {"value": "0.5", "width": 8, "height": 8}},
              "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 0]}},
              "3": save("2", filename_prefix={"a": 1})}
    assert check(prompt).ok
    assert prompt["1"]["inputs"]["value"] == 0.5
    assert prompt["3"]["inputs"]["filename_prefix"] == "{'a': 1}"  # Python's str()


def test_invalid_int(check: Any) -> None:
    err = only_error(check({"1": empty_image(width="abc"), "2": save()}), "1")
    assert err == {"type": "invalid_input_type", "message": "Failed to convert an input value to a INT value",
                   "details": "width, abc, invalid literal for int() with base 10: 'abc'",
                   "extra_info": {"input_name": "width",
                                  "input_config": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}],
                                  "received_value": "abc",
                                  "exception_message": "invalid literal for int() with base 10: 'abc'"}}


@pytest.mark.parametrize("width,kind,message", [
    (99999, "value_bigger_than_max", "Value 99999 bigger than max of 16384"),
    (0, "value_smaller_than_min", "Value 0 smaller than min of 1"),
    ("0", "value_smaller_than_min", "Value 0 smaller than min of 1"),
], ids=["max", "min", "converted-first"])
def test_int_range(check: Any, width: Any, kind: str, message: str) -> None:
    err = only_error(check({"1": empty_image(width=width), "2": save()}), "1")
    assert (err["type"], err["message"], err["details"]) == (kind, message, "width")
    assert err["extra_info"]["received_value"] == int(width)


def test_float_range_message(check: Any) -> None:
    result = check({"1": {"class_type": "SolidMask", "inputs": {"value": 1.5, "width": 8, "height": 8}},
                    "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 0]}}, "3": save("2")})
    err = only_error(result, "1")
    assert err["message"] == "Value 1.5 bigger than max of 1.0"
    assert err["extra_info"]["input_config"] == ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}]


def test_two_errors_on_one_node_are_both_listed(check: Any) -> None:
    result = check({"1": empty_image(width=0, height=99999), "2": save()})
    assert sorted(e["details"] for e in result.node_errors["1"]["errors"]) == ["height", "width"]


def test_legacy_combo_not_in_list(check: Any) -> None:
    scale = {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bogus", "width": 8,
                                                    "height": 8, "crop": "disabled"}}
    err = only_error(check({"1": empty_image(), "2": scale, "3": save("2")}), "2")
    assert err["details"] == ("upscale_method: 'bogus' not in "
                              "['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']")
    assert err["extra_info"]["input_config"] == [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"], {}]


def test_live_checkpoint_list(check: Any, paths: FolderPaths) -> None:
    result = check({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "nope.safetensors"}},
                    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                    "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
                    "4": save("3")})
    names = paths.list_models("checkpoints")
    err = only_error(result, "1")
    assert err["details"] == f"ckpt_name: 'nope.safetensors' not in {names}"
    assert err["extra_info"]["input_config"][0] == names
    assert result.node_errors["1"]["dependent_outputs"] == ["4"]


def test_v3_combo_options(check: Any) -> None:
    rotate = {"class_type": "ImageRotate", "inputs": {"image": ["1", 0], "rotation": "sideways"}}
    err = only_error(check({"1": empty_image(), "2": rotate, "3": save("2")}), "2")
    assert err["details"] == "rotation: 'sideways' not in ['none', '90 degrees', '180 degrees', '270 degrees']"
    assert err["extra_info"]["input_config"][0] == "COMBO"


def test_long_combo_lists_are_not_echoed(check: Any) -> None:
    select = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "nope"}}
    preview = {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}
    err = only_error(check({"1": select, "2": preview}), "1")
    count = len(err["details"].split("(list of length ")[1].rstrip(")"))
    assert count > 0 and err["details"].startswith("sampler_name: 'nope' not in (list of length ")
    assert err["extra_info"]["input_config"] is None
