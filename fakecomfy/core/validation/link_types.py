"""What a link is, and which output types may feed which input types: ComfyUI's check of a
link's two ends."""
from __future__ import annotations

from typing import Any

ANY_TYPE = "*"
MATCH_TYPE = "COMFY_MATCHTYPE_V3"
COMBO_TYPE = "COMBO"


def is_link(value: Any) -> bool:
    """ComfyUI's test for a link: ``[str, int | float]`` by isinstance.

    A bool is an int to Python, so ``["1", false]`` links to output 0 and ``["1", true]`` to
    output 1. Validation and execution both use this test, so what validation accepts as a link
    the graph follows as one. A float slot is a link too: validation fails on it (a tuple index),
    while on an input the node does not declare it reaches execution and fails there.
    """
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], (int, float)))


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
