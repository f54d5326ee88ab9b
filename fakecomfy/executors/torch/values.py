"""The torch executor's value conventions, and the bridge to the numpy family's values.

Values between nodes are what real ComfyUI passes: IMAGE float32 ``[B, H, W, C]`` in 0..1, MASK
float32 ``[B, H, W]``, LATENT ``{"samples": float32 [B, C, H/8, W/8], ...}``, CONDITIONING
``[[float32 [1, 77, D], {"pooled_output": float32 [1, P], ...}]]``. Model objects (MODEL, CLIP,
VAE, ...) are the numpy family's stand-ins (see ``fakecomfy.executors.numpy.values``) unless a
torch node makes its own.

Nodes the torch family does not compute itself run the numpy family's implementation:
:func:`to_numpy` turns every tensor of their inputs into an array (sharing memory; nodes never
write into their inputs) and :func:`to_torch` turns every array of their outputs into a tensor.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fakecomfy.executors.numpy.values import describe_with


def to_numpy(value: Any) -> Any:
    """``value`` with every tensor inside it (dicts, lists, tuples) as a numpy array."""
    return _map_leaves(value, torch.Tensor, lambda t: t.detach().cpu().numpy())


def to_torch(value: Any) -> Any:
    """``value`` with every numpy array inside it (dicts, lists, tuples) as a CPU tensor."""
    return _map_leaves(value, np.ndarray, tensor_of)


def _map_leaves(value: Any, leaf: type, convert: Callable[[Any], Any]) -> Any:
    if isinstance(value, leaf):
        return convert(value)
    if isinstance(value, dict):
        return {k: _map_leaves(v, leaf, convert) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_leaves(v, leaf, convert) for v in value)
    return value


def tensor_of(array: np.ndarray) -> Any:
    """A tensor of ``array``'s values: shared when torch can share it, copied otherwise
    (read-only and broadcast arrays, which ``torch.from_numpy`` would only warn about)."""
    if array.flags.writeable and array.flags.c_contiguous and array.dtype.byteorder in "=|":
        return torch.from_numpy(array)
    return torch.from_numpy(np.array(array, order="C"))


def describe(value: Any) -> str:
    """``str(value)`` as ComfyUI prints it in ``execution_error.current_inputs``: tensors as torch
    prints them, our private keys left out."""
    return describe_with(value, _tensor_text)


def _tensor_text(value: Any) -> str | None:
    if isinstance(value, torch.Tensor):
        return str(value)
    if isinstance(value, np.ndarray):
        return str(tensor_of(value))
    return None


def repeat_to(batch: Any, size: int) -> Any:
    """ComfyUI's ``repeat_to_batch_size``: cut or tile along the first axis."""
    if batch.shape[0] > size:
        return batch[:size]
    if batch.shape[0] < size:
        reps = -(-size // batch.shape[0])
        return batch.repeat((reps,) + (1,) * (batch.ndim - 1))[:size]
    return batch
