"""Prompt validation as ComfyUI 0.8.0 runs it on ``POST /prompt``: import from here.

``validator`` (``validate_prompt``: class types, then each output depth-first through its
links), ``definitions`` (node definitions, input specs, V3 dynamic inputs), ``values`` (widget
values: conversion, range, options), ``link_types`` (which output may feed which input),
``custom`` (the nodes' own ``VALIDATE_INPUTS``), ``errors`` (the error documents).
"""
from fakecomfy.core.validation.errors import MalformedPromptError, NodeErrors, ValidationError, error
from fakecomfy.core.validation.link_types import types_compatible
from fakecomfy.core.validation.validator import ValidationResult, validate_prompt

__all__ = [
    "MalformedPromptError",
    "NodeErrors",
    "ValidationError",
    "ValidationResult",
    "error",
    "types_compatible",
    "validate_prompt",
]
