"""Prompt validation (fakecomfy.core.validation) against ComfyUI 0.8.0's rules (facts 16, 17)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakecomfy import Settings
from fakecomfy.core import validation
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.files import FileStore
from fakecomfy.core.paths import FolderPaths
from fakecomfy.core.validation import MalformedPromptError, ValidationResult, types_compatible

Prompt = dict[str, Any]


@pytest.fixture
def paths(base_dir: Path) -> FolderPaths:
    found = FolderPaths.from_settings(Settings(base_directory=base_dir), base_dir)
    found.create_dirs()
    return found


@pytest.fixture
def check(paths: FolderPaths) -> Any:
    catalog, files = NodeCatalog(paths, []), FileStore(paths)

    def run(prompt: Any, partial: Any = None) -> ValidationResult:
        return validation.validate_prompt(prompt, partial, catalog, files)

    return run


def empty_image(**overrides: Any) -> dict[str, Any]:
    inputs = {"width": 64, "height": 64, "batch_size": 1, "color": 0, **overrides}
    return {"class_type": "EmptyImage", "inputs": inputs}


def save(source: Any = "1", **overrides: Any) -> dict[str, Any]:
    inputs = {"images": [source, 0] if isinstance(source, str) else source, "filename_prefix": "x", **overrides}
    return {"class_type": "SaveImage", "inputs": inputs}


def invert(source: str) -> dict[str, Any]:
    return {"class_type": "ImageInvert", "inputs": {"image": [source, 0]}}


def only_error(result: ValidationResult, node_id: str) -> dict[str, Any]:
    errors = result.node_errors[node_id]["errors"]
    assert len(errors) == 1, errors
    return dict(errors[0])


# ---- class types and outputs -------------------------------------------------------------------
def test_valid_prompt_is_accepted(check: Any) -> None:
    result = check({"1": empty_image(), "2": save()})
    assert (result.ok, result.error, result.node_errors, result.good_outputs) == (True, None, {}, ["2"])


def test_missing_class_type_wins_even_without_outputs(check: Any) -> None:
    result = check({"1": {"inputs": {}}})
    assert result.error == {"type": "invalid_prompt",
                            "message": "Cannot execute because a node is missing the class_type property.",
                            "details": "Node ID '#1'", "extra_info": {}}
    assert result.node_errors == {}


def test_first_bad_node_in_prompt_order_wins(check: Any) -> None:
    result = check({"2": save(), "9": {"class_type": "Nope", "inputs": {}}, "1": {"inputs": {}}})
    assert result.error["message"] == "Cannot execute because node Nope does not exist."
    assert result.error["details"] == "Node ID '#9'"


def test_unknown_class_type_is_shown_as_python_str(check: Any) -> None:
    result = check({"1": {"class_type": 1.5, "inputs": {}}})
    assert result.error["message"] == "Cannot execute because node 1.5 does not exist."


@pytest.mark.parametrize("prompt", [{}, {"1": empty_image()}, [], ""], ids=["empty", "no-output-node", "list", "str"])
def test_prompt_without_outputs(check: Any, prompt: Any) -> None:
    result = check(prompt)
    assert result.error == {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                            "extra_info": {}}


def test_partial_execution_targets_pick_outputs(check: Any) -> None:
    prompt = {"1": empty_image(), "2": save(), "3": save()}
    assert check(prompt, ["3"]).good_outputs == ["3"]
    assert check(prompt, ["1"]).error["type"] == "prompt_no_outputs"


def test_partial_execution_targets_string_is_a_substring_test(check: Any) -> None:
    # real ComfyUI evaluates `node_id in targets`
    assert check({"1": empty_image(), "2": save(), "3": save()}, "23").good_outputs == ["2", "3"]


@pytest.mark.parametrize("prompt", [
    [1], "abc", 5, None,
    {"1": 5}, {"1": None}, {"1": ["class_type"]}, {"1": "xclass_typex"},
    {"1": {"class_type": ["SaveImage"], "inputs": {}}},
], ids=["list", "str", "number", "null", "node-number", "node-null", "node-list", "node-str", "unhashable-class"])
def test_prompts_real_comfyui_crashes_on(check: Any, prompt: Any) -> None:
    with pytest.raises(MalformedPromptError):
        check(prompt)


def test_partial_execution_targets_number_crashes(check: Any) -> None:
    with pytest.raises(MalformedPromptError):
        check({"1": empty_image(), "2": save()}, 2)


@pytest.mark.parametrize("node", [[], "abc"], ids=["list", "str"])
def test_node_that_is_list_or_string_lacks_class_type(check: Any, node: Any) -> None:
    assert check({"1": node}).error["type"] == "invalid_prompt"


def test_string_node_ids(check: Any) -> None:
    result = check({"EmptyImage.0": empty_image(width=0), "SaveImage.0": save("EmptyImage.0")})
    assert list(result.node_errors) == ["EmptyImage.0"]
    assert result.node_errors["EmptyImage.0"]["dependent_outputs"] == ["SaveImage.0"]


# ---- required inputs and error.details ----------------------------------------------------------
def test_required_input_missing_on_output_is_in_details(check: Any) -> None:
    result = check({"2": {"class_type": "SaveImage", "inputs": {}}})
    assert result.error["type"] == "prompt_outputs_failed_validation"
    assert sorted(result.error["details"].split("\n")) == ["Required input is missing: filename_prefix",
                                                           "Required input is missing: images"]
    assert result.node_errors["2"]["errors"][0] == {
        "type": "required_input_missing", "message": "Required input is missing", "details": "images",
        "extra_info": {"input_name": "images"}}
    assert result.node_errors["2"]["class_type"] == "SaveImage"


def test_upstream_errors_leave_details_empty_and_list_only_errored_nodes(check: Any) -> None:
    no_color = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    result = check({"1": no_color, "3": invert("1"), "2": save("3")})
    assert result.error["details"] == ""
    assert list(result.node_errors) == ["1"]
    assert only_error(result, "1")["details"] == "color"
    assert result.node_errors["1"]["dependent_outputs"] == ["2"]


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


# ---- widget values ------------------------------------------------------------------------------
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


# ---- links --------------------------------------------------------------------------------------
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


def test_bad_linked_input(check: Any) -> None:
    err = only_error(check({"1": empty_image(), "2": save(["1", 0, 0])}), "2")
    assert err["type"] == "bad_linked_input" and err["details"] == "images"
    assert err["message"] == "Bad linked input, must be a length-2 list of [node_id, slot_index]"
    assert err["extra_info"]["received_value"] == ["1", 0, 0]


@pytest.mark.parametrize("link,details,exc_type", [
    (["99", 0], "'99'", "KeyError"), ([1, 0], "1", "KeyError"), (["1", 5], "tuple index out of range", "IndexError"),
    (["1", "a"], "tuple indices must be integers or slices, not str", "TypeError"),
], ids=["missing-node", "int-id", "missing-slot", "str-slot"])
def test_output_linking_badly_is_exception_during_validation(check: Any, link: Any, details: str,
                                                             exc_type: str) -> None:
    result = check({"1": empty_image(), "2": save(link)})
    err = only_error(result, "2")
    assert (err["type"], err["message"], err["details"]) == (
        "exception_during_validation", "Exception when validating node", details)
    assert err["extra_info"]["exception_type"] == exc_type and isinstance(err["extra_info"]["traceback"], list)
    assert result.error["details"] == f"Exception when validating node: {details}"


def test_v3_return_types_are_a_list(check: Any) -> None:
    rotate = {"class_type": "ImageRotate", "inputs": {"image": ["1", 0], "rotation": "none"}}
    err = only_error(check({"1": empty_image(), "2": rotate, "3": save(["2", 3])}), "3")
    assert err["details"] == "list index out of range"


def test_inner_exception_is_keyed_by_the_inner_node_with_the_outer_input_name(check: Any) -> None:
    result = check({"4": invert("99"), "5": save("4")})
    assert list(result.node_errors) == ["4"]
    entry = result.node_errors["4"]
    assert entry["class_type"] == "ImageInvert" and entry["dependent_outputs"] == ["5"]
    err = entry["errors"][0]
    assert (err["type"], err["message"], err["details"]) == (
        "exception_during_inner_validation", "Exception when validating inner node", "'99'")
    extra = err["extra_info"]
    assert (extra["input_name"], extra["linked_node"], extra["exception_type"]) == ("images", ["4", 0], "KeyError")
    assert extra["input_config"][0] == "IMAGE"
    assert result.error["details"] == ""


def test_node_without_inputs_key(check: Any) -> None:
    err = only_error(check({"2": {"class_type": "SaveImage"}}), "2")
    assert (err["type"], err["details"]) == ("exception_during_validation", "'inputs'")


# ---- custom validation --------------------------------------------------------------------------
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


# ---- graph shape --------------------------------------------------------------------------------
def test_cycle_fails_with_no_node_errors(check: Any) -> None:
    result = check({"3": invert("4"), "4": invert("3"), "5": save("4")})
    assert (result.ok, result.error["details"], result.node_errors) == (False, "", {})


def test_cycle_keeps_a_cycle_nodes_own_errors(check: Any) -> None:
    scale = {"class_type": "ImageScale", "inputs": {"image": ["4", 0], "upscale_method": "bogus", "width": 8,
                                                    "height": 8, "crop": "disabled"}}
    result = check({"3": scale, "4": invert("3"), "5": save("4")})
    assert list(result.node_errors) == ["3"]
    assert only_error(result, "3")["type"] == "value_not_in_list"


def test_long_chain_within_the_recursion_limit_is_fine(check: Any) -> None:
    prompt: Prompt = {"0": empty_image()}
    for i in range(1, 500):
        prompt[str(i)] = invert(str(i - 1))
    prompt["out"] = save("499")
    assert check(prompt).ok


def test_chain_past_the_recursion_limit_fails_like_real(check: Any) -> None:
    prompt: Prompt = {"0": empty_image()}
    depth = validation.RECURSION_DEPTH_LIMIT + 5
    for i in range(1, depth):
        prompt[str(i)] = invert(str(i - 1))
    prompt["out"] = save(str(depth - 1))
    result = check(prompt)
    assert not result.ok
    [entry] = result.node_errors.values()
    assert entry["errors"][0]["extra_info"]["exception_type"] == "RecursionError"


def test_partial_acceptance_keeps_good_outputs(check: Any) -> None:
    result = check({"1": empty_image(), "2": save(), "3": empty_image(width=0), "4": save("3")})
    assert (result.ok, result.error, result.good_outputs) == (True, None, ["2"])
    assert list(result.node_errors) == ["3"] and result.node_errors["3"]["dependent_outputs"] == ["4"]


def test_errored_nodes_collect_every_later_failing_output(check: Any) -> None:
    # real appends each failing output to every errored node validated so far
    result = check({"1": empty_image(width=0), "2": save("1"), "3": empty_image(height=0), "4": save("3")})
    assert result.node_errors["1"]["dependent_outputs"] == ["2", "4"]
    assert result.node_errors["3"]["dependent_outputs"] == ["4"]


def test_shared_upstream_node_is_validated_once(check: Any) -> None:
    result = check({"1": empty_image(width=0), "2": save(), "3": {"class_type": "PreviewImage",
                                                                     "inputs": {"images": ["1", 0]}}})
    assert result.node_errors["1"]["dependent_outputs"] == ["2", "3"]
    assert len(result.node_errors["1"]["errors"]) == 1
