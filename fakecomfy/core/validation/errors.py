"""The error documents prompt validation produces, and the failure it cannot answer."""
from __future__ import annotations

import traceback
from typing import Any, TypedDict

from fakecomfy import protocol
from fakecomfy.exception_names import exception_type_name


class ValidationError(TypedDict):
    type: str
    message: str
    details: str
    extra_info: dict[str, Any]


class NodeErrors(TypedDict):
    errors: list[ValidationError]
    dependent_outputs: list[str]
    class_type: str


class MalformedPromptError(Exception):
    """The prompt is shaped so that real ComfyUI fails with a 500 instead of answering."""


def error(kind: str, message: str, details: str, extra_info: dict[str, Any] | None = None) -> ValidationError:
    """One error document, ``extra_info`` ``{}`` when not given."""
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info or {}}


def exception_error(exc: Exception, input_name: str | None = None, config: list[Any] | None = None,
                    link: Any = None) -> ValidationError:
    """``exception_during_validation`` (on an output), or ``..._inner_...`` (on a linked node)."""
    tb = traceback.format_tb(exc.__traceback__)
    if input_name is None:
        return error(protocol.ERR_EXCEPTION_DURING_VALIDATION, protocol.MSG_EXCEPTION_DURING_VALIDATION,
                     str(exc), {"exception_type": exception_type_name(exc), "traceback": tb})
    return error(protocol.ERR_EXCEPTION_DURING_INNER_VALIDATION, protocol.MSG_EXCEPTION_DURING_INNER_VALIDATION,
                 str(exc), {"input_name": input_name, "input_config": config, "exception_message": str(exc),
                            "exception_type": exception_type_name(exc), "traceback": tb, "linked_node": link})
