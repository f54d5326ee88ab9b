"""``json.dumps`` with its default arguments, byte for byte, for the hot paths.

``json.dumps`` builds a new C encoder for every call; one built once does the same work for
about half the cost, which matters for the dozen messages every prompt sends. No circular
check: what we encode comes from parsed JSON and our own dicts, never a cycle.
"""
from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any


def make_dumps(sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``functools.partial(json.dumps, sort_keys=..., default=...)``, byte for byte, with its C
    encoder built once (json.dumps and JSONEncoder.encode build one per call)."""
    # the _json accelerator's pieces (None on a Python built without it)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    c_encode_basestring_ascii = getattr(json.encoder, "c_encode_basestring_ascii", None)
    if c_make_encoder is None or c_encode_basestring_ascii is None:  # pragma: no cover
        return json.JSONEncoder(sort_keys=sort_keys, default=default).encode
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    #  allow_nan): json.dumps' defaults, markers=None meaning check_circular=False
    encoder = c_make_encoder(None, default or json.JSONEncoder().default, c_encode_basestring_ascii, None,
                             ": ", ", ", sort_keys, False, True)

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    return dumps


dumps = make_dumps()
# json.dumps of one str (the C escaper json.dumps ends up calling), for ids spliced into texts
string: Callable[[str], str] = getattr(json.encoder, "c_encode_basestring_ascii", None) or \
    json.encoder.py_encode_basestring_ascii


def number(value: Any) -> str:
    """json.dumps of a progress value: ints and finite floats directly, anything else encoded."""
    kind = type(value)
    if kind is int or (kind is float and value - value == 0):  # inf - inf and NaN are NaN
        return repr(value)
    return dumps(value)
