"""The numpy executor's value conventions, and the stand-ins for ComfyUI's model objects.

- IMAGE: float32 ``[B, H, W, C]`` in 0..1 (C is 3, or 4 with alpha).
- MASK: float32 ``[B, H, W]`` in 0..1.
- LATENT: ``{"samples": float32 [B, C, H/8, W/8]}`` (``[B, C, T, h, w]`` for video), plus
  ComfyUI's optional ``noise_mask`` and ``batch_index``, plus :data:`PICTURE_KEY` when a
  sampler drew it (what VAEDecode shows).
- CONDITIONING: ``[[cond float32 [1, 77, D], {"pooled_output": float32 [1, P], TEXT_KEY: text}]]``.
- MODEL, CLIP, VAE, ...: small objects whose ``str()`` reads like the real object's
  (``<comfy.sd.VAE object at 0x...>``), since ``execution_error.current_inputs`` shows it.

Values are never changed in place: a node may hand back one of its inputs as its output, and the
engine caches outputs across prompts.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

# Keys of ours inside ComfyUI-shaped values; ComfyUI-style copies (``dict(latent)``) keep them.
PICTURE_KEY = "fakecomfy_picture"
TEXT_KEY = "fakecomfy_text"
PRIVATE_KEYS = frozenset({PICTURE_KEY, TEXT_KEY})

LATENT_SCALE = 8  # pixels per latent cell

# Per architecture: latent channels, text embedding width, pooled width.
ARCHITECTURES: dict[str, tuple[int, int, int]] = {
    "sd15": (4, 768, 768),
    "sd2": (4, 1024, 1024),
    "sdxl": (4, 2048, 1280),
    "sdxl_refiner": (4, 1280, 1280),
    "sd3": (16, 4096, 2048),
    "flux": (16, 4096, 768),
}


class ComfyObject:
    """Base of the stand-ins: prints like Python's default repr of the real ComfyUI class."""

    comfy_class: ClassVar[str] = "object"

    def __repr__(self) -> str:
        return f"<{self.comfy_class} object at {id(self):#x}>"

    __str__ = __repr__


@dataclass(eq=False, repr=False)
class Model(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.model_patcher.ModelPatcher"
    arch: str
    name: str
    patches: tuple[str, ...] = ()

    @property
    def latent_channels(self) -> int:
        return ARCHITECTURES.get(self.arch, ARCHITECTURES["sd15"])[0]

    def patched(self, patch: str) -> Model:
        return Model(self.arch, self.name, (*self.patches, patch))


@dataclass(eq=False, repr=False)
class Clip(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.sd.CLIP"
    arch: str
    name: str
    layer: int = -1
    patches: tuple[str, ...] = ()

    @property
    def widths(self) -> tuple[int, int]:
        """(text embedding width, pooled width)."""
        _, width, pooled = ARCHITECTURES.get(self.arch, ARCHITECTURES["sd15"])
        return width, pooled


@dataclass(eq=False, repr=False)
class Vae(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.sd.VAE"
    name: str
    latent_channels: int = 4


@dataclass(eq=False, repr=False)
class ControlNet(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.controlnet.ControlNet"
    name: str


@dataclass(eq=False, repr=False)
class UpscaleModel(ComfyObject):
    comfy_class: ClassVar[str] = "spandrel.__helpers.model_descriptor.ImageModelDescriptor"
    name: str
    scale: int = 4


@dataclass(eq=False, repr=False)
class ClipVision(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.clip_vision.ClipVisionModel"
    name: str


@dataclass(eq=False, repr=False)
class Sampler(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.samplers.KSAMPLER"
    name: str


@dataclass(eq=False, repr=False)
class Noise(ComfyObject):
    comfy_class: ClassVar[str] = "comfy_extras.nodes_custom_sampler.Noise_RandomNoise"
    seed: int
    enabled: bool = True


@dataclass(eq=False, repr=False)
class Guider(ComfyObject):
    comfy_class: ClassVar[str] = "comfy.samplers.CFGGuider"
    model: Model
    positive: list[Any]
    negative: list[Any] | None
    cfg: float


@dataclass(eq=False, repr=False)
class Opaque(ComfyObject):
    """Any other object type (HOOKS, STYLE_MODEL, a custom node's type...)."""

    comfy_class: ClassVar[str] = "fakecomfy.Opaque"
    type_name: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<fakecomfy.{self.type_name} object at {id(self):#x}>"

    __str__ = __repr__


@dataclass(frozen=True, eq=False, repr=False)
class Picture:
    """The pixels a sampler drew for a latent; VAEDecode shows them while they still fit."""

    pixels: np.ndarray  # float32 [B, H, W, 3]
    seed: int

    def __repr__(self) -> str:
        return f"<fakecomfy.Picture {'x'.join(map(str, self.pixels.shape))} seed={self.seed}>"


# ---- text and conditioning ------------------------------------------------------------------
def text_rng(*parts: object) -> np.random.Generator:
    """A generator seeded from ``parts`` (stable across processes, unlike ``hash()``)."""
    key = "\0".join(str(p) for p in parts).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little"))


def encode_text(clip: Clip, text: str, **extra: Any) -> list[list[Any]]:
    """CONDITIONING for ``text``: deterministic embeddings shaped like ``clip``'s."""
    width, pooled_width = clip.widths
    rng = text_rng(clip.arch, clip.layer, clip.patches, text)
    cond = rng.standard_normal((1, 77, width), dtype=np.float32)
    pooled = rng.standard_normal((1, pooled_width), dtype=np.float32)
    return [[cond, {"pooled_output": pooled, **extra, TEXT_KEY: text}]]


def conditioning_text(conditioning: Any) -> str:
    """The prompt texts a CONDITIONING carries, joined (empty when there are none)."""
    texts: list[str] = []
    if isinstance(conditioning, list):
        for entry in conditioning:
            if isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], Mapping):
                text = entry[1].get(TEXT_KEY)
                if isinstance(text, str) and text.strip():
                    texts.append(text.strip())
    return ", ".join(texts)


def map_conditioning(conditioning: list[Any], update: Mapping[str, Any]) -> list[list[Any]]:
    """A copy of ``conditioning`` with ``update`` merged into every entry's options."""
    return [[entry[0], {**entry[1], **update}] for entry in conditioning]


# ---- latents --------------------------------------------------------------------------------
def empty_latent(batch: int, channels: int, height: int, width: int) -> dict[str, Any]:
    return {"samples": np.zeros((batch, channels, height, width), dtype=np.float32)}


def with_samples(latent: Mapping[str, Any], samples: np.ndarray, picture: Picture | None = None) -> dict[str, Any]:
    """``latent`` with new samples; the old picture goes unless a new one is given."""
    out = {k: v for k, v in latent.items() if k != PICTURE_KEY}
    out["samples"] = samples
    if picture is not None:
        out[PICTURE_KEY] = picture
    return out


def picture_of(latent: Mapping[str, Any]) -> Picture | None:
    """The drawn picture of ``latent`` when it still matches the samples' size and batch."""
    picture = latent.get(PICTURE_KEY)
    samples = latent.get("samples")
    if not isinstance(picture, Picture) or not isinstance(samples, np.ndarray) or samples.ndim != 4:
        return None
    b, _, h, w = samples.shape
    if picture.pixels.shape[:3] != (b, h * LATENT_SCALE, w * LATENT_SCALE):
        return None
    return picture


# ---- how ComfyUI prints values ----------------------------------------------------------------
def describe(value: Any) -> str:
    """``str(value)`` as ComfyUI would print the real value: arrays read as torch tensors,
    our private keys are left out."""
    return describe_with(value, _array_text)


def _array_text(value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        body = np.array2string(value, separator=", ", threshold=1000, edgeitems=3, prefix="tensor(")
        return f"tensor({body})"
    return None


def describe_with(value: Any, tensor_text: Callable[[Any], str | None]) -> str:
    """``str(value)`` of a node input as Python prints containers, with ``tensor_text`` giving
    the text of each value that stands for a tensor (None for any other value); an executor
    family passes how its tensors print."""
    if isinstance(value, str):
        return value

    def inner(value: Any) -> str:
        text = tensor_text(value)
        if text is not None:
            return text
        if isinstance(value, Mapping):
            items = ", ".join(f"{k!r}: {inner(v)}" for k, v in value.items() if k not in PRIVATE_KEYS)
            return "{" + items + "}"
        if isinstance(value, list):
            return "[" + ", ".join(inner(v) for v in value) + "]"
        if isinstance(value, tuple):
            joined = ", ".join(inner(v) for v in value)
            return f"({joined},)" if len(value) == 1 else f"({joined})"
        return repr(value)

    return inner(value)
