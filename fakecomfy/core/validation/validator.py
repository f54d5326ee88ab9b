"""Prompt validation as ComfyUI 0.8.0 runs it on ``POST /prompt``, quirks included.

* Class types are checked over every node first; the first bad node (prompt order) wins.
* Each output node is validated depth-first through its links, each node once (results are
  cached across outputs). Widget values are converted in place, so the prompt that gets queued
  holds the converted values.
* Where real ComfyUI lets Python fail (a link to a missing node or slot, a node without
  ``inputs``, ...) the same Python exception is raised here and reported the same way:
  ``exception_during_validation`` on an output, ``exception_during_inner_validation`` keyed by
  the linked node but naming the *linking* node's input.
* Real validation recurses once per link. A dependency cycle, or a chain deeper than Python's
  recursion limit, ends in a ``RecursionError`` caught one level up; the nodes on a cycle come
  out invalid with no errors of their own. The recursion is a trampoline here, with real's
  approximate depth limit.
* Output order: real ComfyUI keeps outputs in a ``set`` (random order per process); this uses
  prompt order for outputs, ``dependent_outputs`` and ``good_outputs``, and declaration order
  for the inputs of a node.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.catalog import NodeCatalog
from fakecomfy.core.files import FileStore
from fakecomfy.core.validation.custom import CUSTOM_VALIDATORS
from fakecomfy.core.validation.definitions import NodeDefinitions, finalize_inputs, input_info, input_names, is_v3
from fakecomfy.core.validation.errors import (
    MalformedPromptError,
    NodeErrors,
    ValidationError,
    error,
    exception_error,
)
from fakecomfy.core.validation.link_types import types_compatible
from fakecomfy.core.validation.values import check_value

# Validation depth (nodes on the recursion stack) at which real ComfyUI, which recurses once per
# link under Python's default limit of 1000 frames, runs into RecursionError; approximate.
RECURSION_DEPTH_LIMIT = 970

# One node's validation: (valid, its own errors). A node can be invalid with no errors of its own
# (an input links to an invalid node).
NodeVerdict = tuple[bool, list[ValidationError]]
# A node's check: yields the ids of linked nodes to validate, is sent their verdicts (or has their
# exception thrown in), returns the node's own verdict.
_NodeCheck = Generator[Any, NodeVerdict, NodeVerdict]


@dataclass
class ValidationResult:
    """What ``validate_prompt`` decided. ``prompt`` is the prompt given, converted in place."""

    ok: bool
    error: ValidationError | None
    node_errors: dict[str, NodeErrors]
    good_outputs: list[str]
    prompt: Any


# Errors injected into a node's own validation: (node_id, class_type) -> errors (test faults).
InjectedErrors = Callable[[str, str], list[ValidationError]]


def validate_prompt(prompt: Any, partial_execution_targets: Any, catalog: NodeCatalog,
                    files: FileStore, injected: InjectedErrors | None = None) -> ValidationResult:
    """Validate a prompt the way ComfyUI does before queueing it; ``injected`` adds errors to
    nodes as if their own checks had found them.

    Raises :class:`MalformedPromptError` where real ComfyUI crashes (a prompt that is not an
    object, a node that is a number, an unhashable class_type, ...).
    """
    definitions = NodeDefinitions(catalog)
    try:
        found = _find_outputs(prompt, partial_execution_targets, definitions)
    except (TypeError, KeyError, IndexError) as exc:  # Python failing inside real's first loop
        raise MalformedPromptError(str(exc)) from exc
    if not isinstance(found, list):
        return ValidationResult(False, found, {}, [], prompt)
    return _Validator(prompt, definitions, files, injected).validate_outputs(found)


# ---- the first pass: class types and output nodes --------------------------------------------
def _find_outputs(prompt: Any, partial: Any, definitions: NodeDefinitions) -> list[str] | ValidationError:
    if not isinstance(prompt, dict):
        if prompt == [] or prompt == "":  # real iterates them: nothing, so no outputs
            return error(protocol.ERR_PROMPT_NO_OUTPUTS, protocol.MSG_PROMPT_NO_OUTPUTS, "")
        raise MalformedPromptError(f"prompt is a {type(prompt).__name__}")
    outputs: list[str] = []
    for node_id, node in prompt.items():
        if not isinstance(node, (dict, list, str)):
            raise TypeError(f"argument of type '{type(node).__name__}' is not iterable")
        if "class_type" not in node:  # Python's `in`: lists and strings take part too
            return error(protocol.ERR_INVALID_PROMPT, protocol.MSG_MISSING_CLASS_TYPE,
                         protocol.DETAILS_NODE_ID.format(node_id=node_id))
        if not isinstance(node, dict):
            raise TypeError(f"{type(node).__name__} indices must be integers")
        class_type = node["class_type"]
        if isinstance(class_type, (list, dict)):
            raise TypeError(f"unhashable type: '{type(class_type).__name__}'")
        definition = definitions.get(class_type)
        if definition is None:
            message = protocol.MSG_UNKNOWN_CLASS_TYPE.format(class_type=class_type)
            return error(protocol.ERR_INVALID_PROMPT, message, protocol.DETAILS_NODE_ID.format(node_id=node_id))
        if definition.get("output_node") is True and (partial is None or node_id in partial):
            outputs.append(node_id)
    if not outputs:
        return error(protocol.ERR_PROMPT_NO_OUTPUTS, protocol.MSG_PROMPT_NO_OUTPUTS, "")
    return outputs


# ---- the second pass: each output and what it links to ---------------------------------------
class _Validator:
    def __init__(self, prompt: dict[str, Any], definitions: NodeDefinitions, files: FileStore,
                 injected: InjectedErrors | None = None) -> None:
        self.prompt = prompt
        self.definitions = definitions
        self.files = files
        self.injected = injected
        self.validated: dict[str, NodeVerdict] = {}

    def validate_outputs(self, outputs: list[str]) -> ValidationResult:
        good: list[str] = []
        failed: list[tuple[str, list[ValidationError]]] = []
        node_errors: dict[str, NodeErrors] = {}
        for output_id in outputs:
            try:
                ok, reasons = self.validate_node(output_id)
            except Exception as exc:  # noqa: BLE001 - real turns a node's failure into exception_during_validation
                ok, reasons = False, [exception_error(exc)]
                self.validated[output_id] = (False, reasons)
            if ok:
                good.append(output_id)
                continue
            failed.append((output_id, reasons))
            # Quirk: every errored node validated so far gets this output as a dependent.
            for node_id, (node_ok, node_reasons) in self.validated.items():
                if node_ok or not node_reasons:
                    continue
                if node_id not in node_errors:
                    node_errors[node_id] = {"errors": node_reasons, "dependent_outputs": [],
                                            "class_type": self.prompt[node_id]["class_type"]}
                node_errors[node_id]["dependent_outputs"].append(output_id)
        if good:
            return ValidationResult(True, None, node_errors, good, self.prompt)
        lines = [protocol.DETAILS_ERROR_LINE.format(message=e["message"], details=e["details"])
                 for _, reasons in failed for e in reasons]
        failure = error(protocol.ERR_OUTPUTS_FAILED_VALIDATION, protocol.MSG_OUTPUTS_FAILED_VALIDATION,
                        "\n".join(lines))
        return ValidationResult(False, failure, node_errors, [], self.prompt)

    def validate_node(self, node_id: str) -> NodeVerdict:
        """Validate a node and everything it links to; raises what real validation would raise."""
        if node_id in self.validated:
            return self.validated[node_id]
        stack: list[tuple[str, _NodeCheck]] = [(node_id, self._check(node_id))]
        reply: NodeVerdict | None = None
        failure: Exception | None = None
        while True:
            current, check = stack[-1]
            try:
                if failure is not None:
                    exc, failure = failure, None
                    wanted = check.throw(exc)
                else:
                    wanted = check.send(reply)  # type: ignore[arg-type]  # None starts a check
            except StopIteration as done:
                result: NodeVerdict = done.value
                self.validated[current] = result
                stack.pop()
                if not stack:
                    return result
                reply = result
                continue
            except Exception as exc:
                stack.pop()
                if not stack:
                    raise
                failure = exc
                continue
            if wanted in self.validated:
                reply = self.validated[wanted]
            elif len(stack) >= RECURSION_DEPTH_LIMIT:
                failure = RecursionError(protocol.PY_RECURSION_LIMIT)
            else:
                stack.append((wanted, self._check(wanted)))
                reply = None

    def _check(self, node_id: str) -> _NodeCheck:
        node = self.prompt[node_id]
        inputs = node["inputs"]
        definition = self.definitions.require(node["class_type"])
        v3 = is_v3(definition)
        class_inputs: dict[str, Any] = definition["input"]
        if v3:
            class_inputs = finalize_inputs(class_inputs, inputs)
        custom = CUSTOM_VALIDATORS.get(node["class_type"])
        own_inputs = custom.params if custom is not None else ()
        errors: list[ValidationError] = []
        valid = True
        received_types: dict[str, Any] = {}
        for name in input_names(class_inputs):
            input_type, category, extra = input_info(class_inputs, name)
            if name not in inputs:
                if category == "required":
                    shown = name.split(".")[-1] if v3 else name
                    errors.append(error(protocol.ERR_REQUIRED_INPUT_MISSING,
                                        protocol.MSG_REQUIRED_INPUT_MISSING, shown, {"input_name": name}))
                continue
            value = inputs[name]
            config = [input_type, extra]
            if not isinstance(value, list):
                found = check_value(inputs, name, value, input_type, extra, name in own_inputs)
                if found is not None:
                    errors.append(found)
                continue
            if len(value) != 2:
                errors.append(error(protocol.ERR_BAD_LINKED_INPUT, protocol.MSG_BAD_LINKED_INPUT, name,
                                    {"input_name": name, "input_config": config, "received_value": value}))
                continue
            source_id = value[0]
            received = self.definitions.return_types(self.prompt[source_id]["class_type"])[value[1]]
            received_types[name] = received
            if "input_types" not in own_inputs and not types_compatible(received, input_type):
                details = protocol.DETAILS_RETURN_TYPE_MISMATCH.format(
                    input_name=name, received_type=received, input_type=input_type)
                errors.append(error(protocol.ERR_RETURN_TYPE_MISMATCH, protocol.MSG_RETURN_TYPE_MISMATCH, details,
                                    {"input_name": name, "input_config": config,
                                     "received_type": received, "linked_node": value}))
                continue
            try:
                source_ok, _ = yield source_id
                if not source_ok:
                    valid = False
            except Exception as exc:  # noqa: BLE001 - real turns an inner failure into exception_during_inner_validation
                valid = False
                self.validated[source_id] = (False, [exception_error(exc, name, config, value)])
        if custom is not None:
            errors.extend(custom.run(inputs, class_inputs, received_types, self.files))
        if self.injected is not None:
            errors.extend(self.injected(node_id, node["class_type"]))
        return (not errors and valid), errors
