"""MASK nodes on tensors, and the nodes that move pixels between IMAGE and MASK."""
from __future__ import annotations

from typing import Any

import torch

from fakecomfy.executors.base import NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.numpy import mask_nodes as numpy_mask_nodes
from fakecomfy.executors.numpy.registry import single, timed
from fakecomfy.executors.torch.adapted import adapt

IMAGE_CHANNELS = ("red", "green", "blue", "alpha")


def image_to_mask(ctx: NodeContext, image: Any, channel: str, **_: Any) -> NodeResult:
    return single(image[:, :, :, IMAGE_CHANNELS.index(channel)])


def mask_to_image(ctx: NodeContext, mask: Any, **_: Any) -> NodeResult:
    return single(mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).movedim(1, -1).expand(-1, -1, -1, 3))


def solid_mask(ctx: NodeContext, value: float, width: int, height: int, **_: Any) -> NodeResult:
    return single(torch.full((1, height, width), value, dtype=torch.float32))


def invert_mask(ctx: NodeContext, mask: Any, **_: Any) -> NodeResult:
    return single(1.0 - mask)


def threshold_mask(ctx: NodeContext, mask: Any, value: float, **_: Any) -> NodeResult:
    return single((mask > value).float())


NODES: dict[str, NodeFunction] = {
    "ImageToMask": timed(image_to_mask),
    "MaskToImage": timed(mask_to_image),
    "SolidMask": timed(solid_mask),
    "InvertMask": timed(invert_mask),
    "ThresholdMask": timed(threshold_mask),
    # the same float32 products as real's in-place tensor ones (ramps applied edge by edge)
    "FeatherMask": adapt(numpy_mask_nodes.NODES["FeatherMask"]),
    # real grows masks with scipy's grey dilation on numpy arrays
    "GrowMask": adapt(numpy_mask_nodes.NODES["GrowMask"]),
}
