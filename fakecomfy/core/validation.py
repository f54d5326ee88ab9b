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

import math
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from fakecomfy import protocol
from fakecomfy.core.catalog import NodeCatalog, NodeDef
from fakecomfy.core.files import FileStore

ANY_TYPE = "*"
MATCH_TYPE = "COMFY_MATCHTYPE_V3"
COMBO_TYPE = "COMBO"
AUTOGROW_TYPE = "COMFY_AUTOGROW_V3"
DYNAMIC_COMBO_TYPE = "COMFY_DYNAMICCOMBO_V3"
DYNAMIC_SLOT_TYPE = "COMFY_DYNAMICSLOT_V3"
# Combo errors list the options only up to this many.
MAX_LISTED_OPTIONS = 20
# Validation depth (nodes on the recursion stack) at which real ComfyUI, which recurses once per
# link under Python's default limit of 1000 frames, runs into RecursionError; approximate.
RECURSION_DEPTH_LIMIT = 970
# ComfyUI converts widget values of these types (a failure is ``invalid_input_type``).
_CONVERTERS: dict[str, Callable[[Any], Any]] = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


class ValidationError(TypedDict):
    type: str
    message: str
    details: str
    extra_info: dict[str, Any]


class NodeErrors(TypedDict):
    errors: list[ValidationError]
    dependent_outputs: list[str]
    class_type: str


NodeResult = tuple[bool, list[ValidationError]]
# A node's check: yields the ids of linked nodes to validate, is sent their results (or has their
# exception thrown in), returns the node's own result.
_NodeCheck = Generator[Any, NodeResult, NodeResult]


@dataclass
class ValidationResult:
    """What ``validate_prompt`` decided. ``prompt`` is the prompt given, converted in place."""

    ok: bool
    error: ValidationError | None
    node_errors: dict[str, NodeErrors]
    good_outputs: list[str]
    prompt: Any


class MalformedPromptError(Exception):
    """The prompt is shaped so that real ComfyUI fails with a 500 instead of answering."""


def error(kind: str, message: str, details: str, extra_info: dict[str, Any] | None = None) -> ValidationError:
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info or {}}


def types_compatible(received_type: Any, input_type: Any, strict: bool = False) -> bool:
    """ComfyUI's link type check: may an output of ``received_type`` feed an ``input_type`` input?

    Types are comma-separated unions ("INT,FLOAT"); ``*`` and the V3 match type accept anything;
    a list (a combo output) feeds a ``COMBO`` input. Non-strict: the unions need only overlap;
    strict: every received type must be accepted.
    """
    if received_type == input_type:
        return True
    if ANY_TYPE in (received_type, input_type) or MATCH_TYPE in (received_type, input_type):
        return True
    if isinstance(received_type, list) and input_type == COMBO_TYPE:
        return True
    if not isinstance(received_type, str) or not isinstance(input_type, str):
        return False
    received = {t.strip() for t in received_type.split(",")}
    accepted = {t.strip() for t in input_type.split(",")}
    if ANY_TYPE in received or ANY_TYPE in accepted:
        return True
    return received <= accepted if strict else bool(received & accepted)


def full_type_name(exc: BaseException) -> str:
    """The exception class as ComfyUI names it (builtins without their module)."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def validate_prompt(prompt: Any, partial_execution_targets: Any, catalog: NodeCatalog,
                    files: FileStore) -> ValidationResult:
    """Validate a prompt the way ComfyUI does before queueing it.

    Raises :class:`MalformedPromptError` where real ComfyUI crashes (a prompt that is not an
    object, a node that is a number, an unhashable class_type, ...).
    """
    definitions = _Definitions(catalog)
    try:
        found = _find_outputs(prompt, partial_execution_targets, definitions)
    except (TypeError, KeyError, IndexError) as exc:  # Python failing inside real's first loop
        raise MalformedPromptError(str(exc)) from exc
    if not isinstance(found, list):
        return ValidationResult(False, found, {}, [], prompt)
    return _Validator(prompt, definitions, files).validate_outputs(found)


# ---- the first pass: class types and output nodes --------------------------------------------
def _find_outputs(prompt: Any, partial: Any, definitions: _Definitions) -> list[str] | ValidationError:
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


class _Definitions:
    """Node definitions for one validation, each read (with its live file lists) once."""

    def __init__(self, catalog: NodeCatalog) -> None:
        self.catalog = catalog
        self._cache: dict[Any, NodeDef | None] = {}

    def get(self, class_type: Any) -> NodeDef | None:
        if class_type not in self._cache:
            # Shared, read-only definitions: validation never mutates them (errors echo parts).
            self._cache[class_type] = self.catalog.definition(class_type) if class_type in self.catalog else None
        return self._cache[class_type]

    def require(self, class_type: Any) -> NodeDef:
        definition = self.get(class_type)
        if definition is None:
            raise KeyError(class_type)
        return definition

    def return_types(self, class_type: Any) -> tuple[Any, ...] | list[Any]:
        """RETURN_TYPES: a tuple for classic nodes, a list for V3 ones (their IndexError says so)."""
        definition = self.require(class_type)
        outputs = list(definition.get("output") or [])
        return outputs if is_v3(definition) else tuple(outputs)


def is_v3(definition: NodeDef) -> bool:
    """Whether /object_info describes a V3 (schema-defined) node: only those list output_matchtypes."""
    return "output_matchtypes" in definition


# ---- the second pass: each output and what it links to ---------------------------------------
class _Validator:
    def __init__(self, prompt: dict[str, Any], definitions: _Definitions, files: FileStore) -> None:
        self.prompt = prompt
        self.definitions = definitions
        self.files = files
        self.validated: dict[str, NodeResult] = {}

    def validate_outputs(self, outputs: list[str]) -> ValidationResult:
        good: list[str] = []
        failed: list[tuple[str, list[ValidationError]]] = []
        node_errors: dict[str, NodeErrors] = {}
        for output_id in outputs:
            try:
                ok, reasons = self.validate_node(output_id)
            except Exception as exc:
                ok, reasons = False, [_exception_error(exc)]
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

    def validate_node(self, node_id: str) -> NodeResult:
        """Validate a node and everything it links to; raises what real validation would raise."""
        if node_id in self.validated:
            return self.validated[node_id]
        stack: list[tuple[str, _NodeCheck]] = [(node_id, self._check(node_id))]
        reply: NodeResult | None = None
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
                result: NodeResult = done.value
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
                found = self._check_value(inputs, name, value, input_type, extra, name in own_inputs)
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
            except Exception as exc:
                valid = False
                self.validated[source_id] = (False, [_exception_error(exc, name, config, value)])
        if custom is not None:
            errors.extend(custom.run(inputs, class_inputs, received_types, self.files))
        return (not errors and valid), errors

    @staticmethod
    def _check_value(inputs: dict[str, Any], name: str, value: Any, input_type: Any, extra: dict[str, Any],
                     custom_checked: bool) -> ValidationError | None:
        """Unwrap and convert a widget value in place, then check range and options."""
        if isinstance(value, dict) and "__value__" in value:
            value = inputs[name] = value["__value__"]
        converter = _CONVERTERS.get(input_type) if isinstance(input_type, str) else None
        if converter is not None:
            try:
                value = inputs[name] = converter(value)
            except Exception as exc:
                return error(protocol.ERR_INVALID_INPUT_TYPE,
                             protocol.MSG_INVALID_INPUT_TYPE.format(input_type=input_type),
                             protocol.DETAILS_INVALID_INPUT_TYPE.format(input_name=name, value=value, exception=exc),
                             {"input_name": name, "input_config": [input_type, extra],
                              "received_value": value, "exception_message": str(exc)})
        if custom_checked:  # the node's own validation takes over this input
            return None
        config: list[Any] | None = [input_type, extra]
        bad = {"input_name": name, "input_config": config, "received_value": value}
        if "min" in extra and value < extra["min"]:
            message = protocol.MSG_VALUE_SMALLER_THAN_MIN.format(value=value, minimum=extra["min"])
            return error(protocol.ERR_VALUE_SMALLER_THAN_MIN, message, name, bad)
        if "max" in extra and value > extra["max"]:
            message = protocol.MSG_VALUE_BIGGER_THAN_MAX.format(value=value, maximum=extra["max"])
            return error(protocol.ERR_VALUE_BIGGER_THAN_MAX, message, name, bad)
        if not isinstance(input_type, list) and input_type != COMBO_TYPE:
            return None
        options = input_type if isinstance(input_type, list) else extra.get("options", [])
        if value in options:
            return None
        listed = str(options)
        if len(options) > MAX_LISTED_OPTIONS:  # real never echoes long (file) lists
            listed = protocol.DETAILS_LIST_LENGTH.format(length=len(options))
            bad["input_config"] = None
        details = protocol.DETAILS_VALUE_NOT_IN_LIST.format(input_name=name, value=value, options=listed)
        return error(protocol.ERR_VALUE_NOT_IN_LIST, protocol.MSG_VALUE_NOT_IN_LIST, details, bad)


def _exception_error(exc: Exception, input_name: str | None = None, config: list[Any] | None = None,
                     link: Any = None) -> ValidationError:
    """``exception_during_validation`` (on an output), or ``..._inner_...`` (on a linked node)."""
    tb = traceback.format_tb(exc.__traceback__)
    if input_name is None:
        return error(protocol.ERR_EXCEPTION_DURING_VALIDATION, protocol.MSG_EXCEPTION_DURING_VALIDATION,
                     str(exc), {"exception_type": full_type_name(exc), "traceback": tb})
    return error(protocol.ERR_EXCEPTION_DURING_INNER_VALIDATION, protocol.MSG_EXCEPTION_DURING_INNER_VALIDATION,
                 str(exc), {"input_name": input_name, "input_config": config, "exception_message": str(exc),
                            "exception_type": full_type_name(exc), "traceback": tb, "linked_node": link})


# ---- input definitions ------------------------------------------------------------------------
def input_names(class_inputs: Mapping[str, Any]) -> Iterator[str]:
    """Required then optional input names, each once."""
    seen: set[str] = set()
    for section in ("required", "optional"):
        for name in class_inputs.get(section) or {}:
            if name not in seen:
                seen.add(name)
                yield name


def input_info(class_inputs: Mapping[str, Any], name: str) -> tuple[Any, str | None, dict[str, Any]]:
    """(type, category, options dict) of one input; the options are ``{}`` when the spec has none."""
    for section in ("required", "optional", "hidden"):
        specs = class_inputs.get(section)
        if specs and name in specs:
            spec = specs[name]
            if isinstance(spec, str):  # hidden inputs are bare type names
                return spec, section, {}
            return spec[0], section, spec[1] if len(spec) > 1 else {}
    return None, None, {}


def finalize_inputs(class_inputs: Mapping[str, Any], live: Any) -> dict[str, Any]:
    """A V3 node's inputs with its dynamic ones (autogrow, dynamic combo/slot) expanded against the
    inputs the prompt gives, as ``prefix.name`` entries; hidden inputs are dropped."""
    out: dict[str, Any] = {"required": {}, "optional": {}}
    for section, specs in class_inputs.items():
        if section != "hidden":
            _expand(out, live, {section: specs}, [])
    return out


def _expand(out: dict[str, Any], live: Any, sections: Mapping[str, Any], prefix: list[str]) -> None:
    for section, specs in sections.items():
        for name, spec in specs.items():
            kind, path = spec[0], ".".join([*prefix, name])
            if kind == AUTOGROW_TYPE:
                template = spec[1]["template"]
                if "names" in template:
                    names = list(template["names"])
                else:
                    names = [f"{template['prefix']}{i}" for i in range(template["max"])]
                item = [list(group.values())[0] for group in template["input"].values()][-1]
                grown: dict[str, dict[str, Any]] = {}
                for i, item_name in enumerate(names):
                    if ".".join([*prefix, name, item_name]) in live:
                        grown.setdefault("required" if i < template["min"] else "optional", {})[item_name] = item
                _expand(out, live, grown, [*prefix, name])
            elif kind in (DYNAMIC_COMBO_TYPE, DYNAMIC_SLOT_TYPE):
                if path not in live:
                    continue
                if kind == DYNAMIC_SLOT_TYPE:
                    nested = spec[1]["inputs"]
                else:
                    chosen = [o for o in spec[1]["options"] if o["key"] == live[path]]
                    if not chosen:
                        continue
                    nested = chosen[0]["inputs"]
                _expand(out, live, nested, [*prefix, name])
                out[section][path] = spec
            else:
                out[section][path] = spec


# ---- the core nodes' own validation (VALIDATE_INPUTS / validate_inputs) -----------------------
@dataclass(frozen=True)
class CustomValidator:
    """A node's own input validation. The inputs it takes skip the min/max/options checks;
    taking ``input_types`` also skips the link type checks."""

    function: str  # its qualified name, for Python's missing-argument message
    params: tuple[str, ...]
    check: Callable[[dict[str, Any], FileStore], Any]
    optional: frozenset[str] = field(default_factory=frozenset)

    def run(self, inputs: Any, class_inputs: Mapping[str, Any], received_types: dict[str, Any],
            files: FileStore) -> list[ValidationError]:
        given: dict[str, Any] = {}
        for name in inputs:
            value = inputs[name]
            category = input_info(class_inputs, name)[1]
            if _is_link(value):
                given[name] = None  # not computed at validation time
            elif category is not None:
                given[name] = value
        args = {name: value for name, value in given.items() if name in self.params}
        if "input_types" in self.params:
            args["input_types"] = received_types
        missing = [p for p in self.params if p not in args and p not in self.optional]
        if missing:
            raise TypeError(_missing_arguments(self.function, missing))
        verdict = self.check(args, files)
        if verdict is True:
            return []
        errors = []
        for name in args:
            details = name if verdict is False else protocol.DETAILS_CUSTOM_VALIDATION.format(
                input_name=name, reason=verdict)
            errors.append(error(protocol.ERR_CUSTOM_VALIDATION_FAILED, protocol.MSG_CUSTOM_VALIDATION_FAILED,
                                details, {"input_name": name}))
        return errors


def _is_link(value: Any) -> bool:
    """ComfyUI's is_link: ``[str, number]`` (a bool counts as a number)."""
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], (int, float)))


def _missing_arguments(function: str, names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) == 1:
        listed = quoted[0]
    elif len(quoted) == 2:
        listed = f"{quoted[0]} and {quoted[1]}"
    else:
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    return protocol.PY_MISSING_ARGUMENTS.format(function=function, count=len(names),
                                                plural="" if len(names) == 1 else "s", names=listed)


def _file_exists(kind: str, param: str) -> Callable[[dict[str, Any], FileStore], Any]:
    def check(args: dict[str, Any], files: FileStore) -> Any:
        name = args[param]
        if not isinstance(name, str):  # real calls name.endswith(...)
            raise AttributeError(protocol.PY_NO_ATTRIBUTE.format(type_name=type(name).__name__,
                                                                 attribute="endswith"))
        try:
            exists = files.annotated_exists(name)
        except ValueError:  # an embedded NUL: os.path.exists says False
            exists = False
        return True if exists else protocol.REASON_INVALID_FILE.format(kind=kind, name=name)

    return check


_CAMERA_AXES = ("horizontal_movement", "vertical_movement", "pan", "tilt", "roll", "zoom")
_TRIPO_TASK_TYPES = ("MODEL_TASK_ID", "RIG_TASK_ID", "RETARGET_TASK_ID")


def _camera_controls(args: dict[str, Any], files: FileStore) -> Any:
    if any(not math.isclose(args[axis], 0.0) for axis in _CAMERA_AXES):
        return True
    return protocol.REASON_CAMERA_CONTROL


def _tripo_task_type(args: dict[str, Any], files: FileStore) -> Any:
    if args["input_types"]["original_model_task_id"] not in _TRIPO_TASK_TYPES:
        return protocol.REASON_TRIPO_TASK_TYPE
    return True


def _aspect_ratio(args: dict[str, Any], files: FileStore) -> Any:
    """Flux Pro Ultra: ``X:Y`` with positive integer parts, from 1:4 to 4:1 inclusive (errors raise)."""
    text = args["aspect_ratio"]
    if not isinstance(text, str):
        raise AttributeError(protocol.PY_NO_ATTRIBUTE.format(type_name=type(text).__name__, attribute="split"))
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(protocol.ERR_ASPECT_RATIO_FORMAT.format(value=text))
    try:
        a, b = int(parts[0].strip()), int(parts[1].strip())
    except ValueError as exc:
        raise ValueError(protocol.ERR_ASPECT_RATIO_INTEGERS.format(value=text)) from exc
    if a <= 0 or b <= 0:
        raise ValueError(protocol.ERR_ASPECT_RATIO_POSITIVE.format(a=a, b=b))
    ratio, low, high = a / b, 1 / 4, 4 / 1
    for bound, outside in ((low, ratio < low), (high, ratio > high)):
        if outside:
            raise ValueError(protocol.ERR_ASPECT_RATIO_BOUND.format(ratio=ratio, op="≤", bound=bound))
    return True


CUSTOM_VALIDATORS: dict[str, CustomValidator] = {
    "LoadImage": CustomValidator("LoadImage.VALIDATE_INPUTS", ("image",), _file_exists("image", "image")),
    "LoadImageMask": CustomValidator("LoadImageMask.VALIDATE_INPUTS", ("image",), _file_exists("image", "image")),
    # inherits LoadImage's method
    "LoadImageOutput": CustomValidator("LoadImage.VALIDATE_INPUTS", ("image",), _file_exists("image", "image")),
    "LoadLatent": CustomValidator("LoadLatent.VALIDATE_INPUTS", ("latent",), _file_exists("latent", "latent")),
    "LoadVideo": CustomValidator("LoadVideo.validate_inputs", ("file",), _file_exists("video", "file")),
    "CustomCombo": CustomValidator("CustomComboNode.validate_inputs", ("choice",), lambda args, files: True),
    "KlingCameraControls": CustomValidator("KlingCameraControls.validate_inputs", _CAMERA_AXES, _camera_controls),
    "TripoConversionNode": CustomValidator("TripoConversionNode.validate_inputs", ("input_types",),
                                           _tripo_task_type),
    "FluxProUltraImageNode": CustomValidator("FluxProUltraImageNode.validate_inputs", ("aspect_ratio",),
                                             _aspect_ratio),
}
