"""What real ComfyUI calls to run each built-in node, and the keyword arguments that call takes.

Real passes a node every linked input, declared or not (undeclared widget values it drops), as a
keyword argument of the node's method, so a link the method does not take fails the node with
Python's own words: ``SaveImage.save_images() got an unexpected keyword argument 'extra'``. The
method is named by the class that defines it (PreviewImage runs the one it inherits from
SaveImage): facts of real's node classes kept in ``data/node_functions.json``. Nodes not listed
there (custom nodes from a captured ``/object_info``) take whatever they are given.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

DATA_FILE = "data/node_functions.json"


@dataclass(frozen=True)
class NodeFunctionSignature:
    """``qualname``: the method as Python names it; ``params``: its keyword arguments, or None
    where it takes any (``**kwargs``)."""

    qualname: str
    params: frozenset[str] | None

    def unexpected(self, names: Iterable[str], declared: Iterable[str]) -> TypeError | None:
        """Python's error for the first of ``names`` (in call order) the method does not take;
        declared inputs always reach it (a V3 node's dynamic ones nested under their group)."""
        if self.params is None:
            return None
        known = set(declared)
        for name in names:
            if name not in known and name not in self.params:
                return TypeError(f"{self.qualname}() got an unexpected keyword argument '{name}'")
        return None


@functools.cache
def _table() -> dict[str, NodeFunctionSignature]:
    text = resources.files("fakecomfy").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return {class_type: NodeFunctionSignature(qualname, None if params is None else frozenset(params))
            for class_type, (qualname, params) in json.loads(text)["functions"].items()}


def node_function(class_type: str) -> NodeFunctionSignature | None:
    """The method real runs for a built-in node class, or None for a class it does not ship."""
    return _table().get(class_type)
