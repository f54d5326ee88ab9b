"""A widget value's check: unwrapped and converted in place, then its range and options."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.validation.errors import ValidationError, error
from fakecomfy.core.validation.link_types import COMBO_TYPE

# Combo errors list the options only up to this many.
MAX_LISTED_OPTIONS = 20
# ComfyUI converts widget values of these types (a failure is ``invalid_input_type``).
_CONVERTERS: dict[str, Callable[[Any], Any]] = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


def check_value(inputs: dict[str, Any], name: str, value: Any, input_type: Any, extra: dict[str, Any],
                custom_checked: bool) -> ValidationError | None:
    """Unwrap and convert a widget value in place, then check range and options.

    ``custom_checked``: the node's own validation takes this input, so only the conversion runs.
    """
    if isinstance(value, dict) and "__value__" in value:
        value = inputs[name] = value["__value__"]
    converter = _CONVERTERS.get(input_type) if isinstance(input_type, str) else None
    if converter is not None:
        try:
            value = inputs[name] = converter(value)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is invalid_input_type, like real
            return error(protocol.ERR_INVALID_INPUT_TYPE,
                         protocol.MSG_INVALID_INPUT_TYPE.format(input_type=input_type),
                         protocol.DETAILS_INVALID_INPUT_TYPE.format(input_name=name, value=value, exception=exc),
                         {"input_name": name, "input_config": [input_type, extra],
                          "received_value": value, "exception_message": str(exc)})
    if custom_checked:
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
