"""The nodes' own input validation (``VALIDATE_INPUTS`` / ``validate_inputs``) that real ComfyUI
runs for core and API nodes: file checks of the loaders, and the API nodes' argument checks."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.files import FileStore
from fakecomfy.core.validation.definitions import input_info
from fakecomfy.core.validation.errors import ValidationError, error
from fakecomfy.core.validation.link_types import is_link


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
            if is_link(value):
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
