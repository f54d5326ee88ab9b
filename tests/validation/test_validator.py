"""validate_prompt (``core/validation/validator.py``): class types and outputs, required inputs,
links and the exceptions they raise, and graph shape, as ComfyUI 0.8.0 reports them."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.core.validation import MalformedPromptError
from fakecomfy.core.validation.validator import RECURSION_DEPTH_LIMIT
from tests.validation.prompts import empty_image, invert, only_error, save

Prompt = dict[str, Any]


# ---- class types and outputs --------------------------------------------------------------------
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


# ---- links and the exceptions they raise --------------------------------------------------------
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
    depth = RECURSION_DEPTH_LIMIT + 5
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
