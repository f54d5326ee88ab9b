"""How ComfyUI names an exception class in the ``exception_type`` of its error documents."""
from __future__ import annotations


def exception_type_name(exc: BaseException) -> str:
    """ComfyUI's ``full_type_name``: the qualified class name, prefixed by its module unless that
    is ``builtins`` (``KeyError``, ``safetensors_rust.SafetensorError``).

    Real ComfyUI names exceptions this one way in validation errors and in ``execution_error``.
    """
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
