"""Utility nodes: primitives and the string helpers."""
from __future__ import annotations

from typing import Any

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy.registry import single, timed


def primitive(ctx: NodeContext, value: Any, **_: Any) -> NodeResult:
    return single(value)


def string_concatenate(ctx: NodeContext, string_a: str, string_b: str, delimiter: str, **_: Any) -> NodeResult:
    return single(delimiter.join((string_a, string_b)))


def string_substring(ctx: NodeContext, string: str, start: int, end: int, **_: Any) -> NodeResult:
    return single(string[start:end])


def string_length(ctx: NodeContext, string: str, **_: Any) -> NodeResult:
    return single(len(string))


_CASES = {"UPPERCASE": str.upper, "lowercase": str.lower, "Capitalize": str.capitalize, "Title Case": str.title}
_TRIMS = {"Both": str.strip, "Left": str.lstrip, "Right": str.rstrip}


def case_converter(ctx: NodeContext, string: str, mode: str, **_: Any) -> NodeResult:
    return single(_CASES.get(mode, str)(string))


def string_trim(ctx: NodeContext, string: str, mode: str, **_: Any) -> NodeResult:
    return single(_TRIMS.get(mode, str)(string))


def string_replace(ctx: NodeContext, string: str, find: str, replace: str, **_: Any) -> NodeResult:
    return single(string.replace(find, replace))


def string_contains(ctx: NodeContext, string: str, substring: str, case_sensitive: bool = True,
                    **_: Any) -> NodeResult:
    if not case_sensitive:
        string, substring = string.lower(), substring.lower()
    return single(substring in string)


def string_compare(ctx: NodeContext, string_a: str, string_b: str, mode: str, case_sensitive: bool = True,
                   **_: Any) -> NodeResult:
    if not case_sensitive:
        string_a, string_b = string_a.lower(), string_b.lower()
    if mode == "Starts With":
        return single(string_a.startswith(string_b))
    if mode == "Ends With":
        return single(string_a.endswith(string_b))
    return single(string_a == string_b)


NODES: dict[str, NodeFunction] = {
    "PrimitiveInt": timed(primitive),
    "PrimitiveFloat": timed(primitive),
    "PrimitiveString": timed(primitive),
    "PrimitiveStringMultiline": timed(primitive),
    "PrimitiveBoolean": timed(primitive),
    "StringConcatenate": timed(string_concatenate),
    "StringSubstring": timed(string_substring),
    "StringLength": timed(string_length),
    "CaseConverter": timed(case_converter),
    "StringTrim": timed(string_trim),
    "StringReplace": timed(string_replace),
    "StringContains": timed(string_contains),
    "StringCompare": timed(string_compare),
}
