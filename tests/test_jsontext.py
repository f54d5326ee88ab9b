"""jsontext.dumps must write exactly what json.dumps writes with its defaults (aiohttp's and
ComfyUI's choice), since clients see those bytes in every response and message."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.jsontext import dumps, make_dumps, number, string

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"

VALUES: list[Any] = [
    None, True, 0, -7, 2**70, 1.5, 1e300, -0.0, float("inf"), float("-inf"), "", "plain",
    "é ü \u2028 \U0001f600 \x00 \"quoted\" \\ /", [], {}, [1, [2, [3, {}]]],
    {"a": 1, "b": [None, False], "c": {"d": "e"}}, {1: "int key", 2.5: "float key", None: "null key"},
    {True: "bool key", False: "other bool key"},
    {"type": "progress_state", "data": {"prompt_id": "p", "nodes": {"1": {"value": 1.0, "max": 1.0}}}},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_nan_is_written_like_json_dumps() -> None:
    assert dumps([math.nan]) == json.dumps([math.nan]) == "[NaN]"


def test_unencodable_values_raise_type_error_like_json_dumps() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": object()})
    with pytest.raises(TypeError):
        dumps({(1, 2): "tuple key"})


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="needs ../shared/golden")
def test_every_golden_document_round_trips_to_the_same_text() -> None:
    seen = 0
    for path in sorted(GOLDEN.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert dumps(document) == json.dumps(document), path.name
        seen += 1
    assert seen > 0


@pytest.mark.parametrize("text", ["", "1", "EmptyImage.0", "é ü", '"quoted" \\ back', "\u2028\x00\x1f", "😀"])
def test_string_is_json_dumps_of_a_str(text: str) -> None:
    assert string(text) == json.dumps(text)


@pytest.mark.parametrize("value", [0, 1, -7, 10**30, 0.0, -0.0, 0.5, 1 / 3, 1e300, 5e-324, math.inf, -math.inf,
                                   math.nan, True, False, None, "3"])
def test_number_is_json_dumps_of_a_progress_value(value: Any) -> None:
    assert number(value) == json.dumps(value)


@pytest.mark.parametrize("value", [*VALUES, [{"b": 1, "a": [object]}, 2]], ids=range(len(VALUES) + 1))
def test_make_dumps_with_sorted_keys_and_a_default_matches_json_dumps(value: Any) -> None:
    sorted_repr = make_dumps(sort_keys=True, default=repr)
    try:
        expected = json.dumps(value, sort_keys=True, default=repr)
    except TypeError:  # keys of mixed types cannot be sorted: both refuse
        with pytest.raises(TypeError):
            sorted_repr(value)
        return
    assert sorted_repr(value) == expected
