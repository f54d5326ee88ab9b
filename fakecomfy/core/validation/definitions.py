"""Node definitions as validation reads them: cached lookups, RETURN_TYPES, and input specs
with a V3 node's dynamic inputs (autogrow, dynamic combo, dynamic slot) expanded."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fakecomfy.core.catalog import NodeCatalog, NodeDef

AUTOGROW_TYPE = "COMFY_AUTOGROW_V3"
DYNAMIC_COMBO_TYPE = "COMFY_DYNAMICCOMBO_V3"
DYNAMIC_SLOT_TYPE = "COMFY_DYNAMICSLOT_V3"


class NodeDefinitions:
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
                item = [next(iter(group.values())) for group in template["input"].values()][-1]
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
