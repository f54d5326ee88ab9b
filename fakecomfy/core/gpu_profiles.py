"""Device profiles: what a simulated GPU (:mod:`fakecomfy.core.gpu`) is, as data.

A profile is a small JSON file (``fakecomfy/data/device_profiles/*.json``, or any file a user
names): the device as ``/system_stats`` shows it, its VRAM and the machine's RAM, and a speed
model. Every figure in a shipped profile names its source in the file's ``sources``.

The speed model, for one model call over ``rows`` latents (the batch, twice when cfg batches
the conditional and unconditional predictions) of ``pixels`` pixels each::

    seconds = overhead_s + rows * (pixels / reference_pixels) ** PIXEL_EXPONENT / evals_per_s[family]

``evals_per_s`` is the card's model evaluations per second of one latent at the family's
reference size (SD1.5 512², SDXL/SD3/Flux 1024², video 832×480×81 frames); a published "it/s"
at cfg > 1 and batch 1 is two evaluations per step. A sampler step makes one such call (two
when cond and uncond do not fit together, more for second-order samplers); VAE decoding and
encoding take ``vae_decode_s_per_mp`` / ``vae_encode_s_per_mp`` seconds per megapixel, reading a
checkpoint ``disk_gb_per_s``, moving weights to the card ``upload_gb_per_s``.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

# The cost of a model call grows a little faster than its pixels (attention): fitted to the
# RTX 4090's SD1.5 figures at 512² and 1024² (batch 1) of the A1111 benchmark the profiles cite.
PIXEL_EXPONENT = 1.2
GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclass(frozen=True)
class Family:
    """What the simulation knows of a model family: its reference size for ``evals_per_s``,
    the nominal bytes of its parts (fp16 weights: parameters x 2), and ComfyUI's
    ``memory_usage_factor`` for the working memory of sampling."""

    reference_pixels: int
    unet_bytes: int
    clip_bytes: int
    vae_bytes: int
    memory_factor: float
    speed_key: str  # which evals_per_s entry a profile gives it


# Architectures as the loaders detect them (fakecomfy.executors.numpy.model_nodes). Parameter
# counts: SD1.5 UNet 860M, CLIP-L 123M, VAE 84M; SDXL UNet 2.57B, CLIP-L + OpenCLIP-bigG 818M;
# refiner UNet 2.26B + bigG 695M; SD3 medium MMDiT 2.03B + CLIP-L/G; Flux dev 11.9B + T5-XXL
# 4.9B + CLIP-L; Wan 2.1 1.3B (the factor of its width, 1536) + UMT5-XXL. The sums match the
# published checkpoint files (SD1.5 ~2.1 GB, SDXL 6.94 GB).
FAMILIES: dict[str, Family] = {
    "sd15": Family(512 * 512, 1_720_000_000, 246_000_000, 167_000_000, 1.0, "sd15"),
    "sd2": Family(768 * 768, 1_730_000_000, 708_000_000, 167_000_000, 1.0, "sd15"),
    "sdxl": Family(1024 * 1024, 5_135_000_000, 1_639_000_000, 167_000_000, 0.8, "sdxl"),
    "sdxl_refiner": Family(1024 * 1024, 4_520_000_000, 1_390_000_000, 167_000_000, 1.0, "sdxl"),
    "sd3": Family(1024 * 1024, 4_170_000_000, 1_640_000_000, 168_000_000, 1.6, "sd3"),
    "flux": Family(1024 * 1024, 23_800_000_000, 9_790_000_000 + 246_000_000, 168_000_000, 3.1, "flux"),
    "video": Family(832 * 480 * 81, 2_840_000_000, 11_400_000_000, 254_000_000, 0.69, "video"),
}
SPEED_KEYS = ("sd15", "sdxl", "sd3", "flux", "video")


def family(arch: str, frames: int = 1) -> Family:
    """The family of an architecture name; a latent with frames is a video model's."""
    if frames > 1:
        return FAMILIES["video"]
    return FAMILIES.get(arch, FAMILIES["sd15"])


@dataclass(frozen=True)
class Speed:
    evals_per_s: dict[str, float]
    overhead_s: float
    vae_decode_s_per_mp: float
    vae_encode_s_per_mp: float
    text_encode_s: float
    disk_gb_per_s: float
    upload_gb_per_s: float
    first_run_s: float  # once per model moved to the card: kernel selection, allocator warm-up

    def call_seconds(self, speed_key: str, rows: int, pixels: int, reference_pixels: int) -> float:
        """One model call over ``rows`` latents of ``pixels`` pixels each."""
        rate = self.evals_per_s[speed_key]
        return float(self.overhead_s + rows * (pixels / reference_pixels) ** PIXEL_EXPONENT / rate)


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    device_name: str  # as /system_stats shows it: "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync"
    device_type: str  # "cuda" or "cpu"
    vram_total: int  # bytes, as torch reports the card's total memory
    non_torch_vram: int  # bytes the driver and display hold outside torch
    ram_total: int
    ram_used: int  # bytes the system and other programs hold
    dtype_bytes: int  # 2: fp16/bf16 weights and activations; 4 on the CPU
    speed: Speed
    aliases: tuple[str, ...] = ()
    sources: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def is_cpu(self) -> bool:
        return self.device_type == "cpu"


class ProfileError(ValueError):
    """A profile that cannot be found or read."""


def _profile_dir() -> Any:
    return resources.files("fakecomfy").joinpath("data").joinpath("device_profiles")


@functools.lru_cache(maxsize=1)
def shipped() -> dict[str, DeviceProfile]:
    """The profiles that come with fakecomfy, by name (read once: profiles are frozen)."""
    found: dict[str, DeviceProfile] = {}
    for entry in sorted(_profile_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            profile = parse(json.loads(entry.read_text(encoding="utf-8")), entry.name)
            found[profile.name] = profile
    return found


def load(name_or_path: str, files: bool = True) -> DeviceProfile:
    """A shipped profile by name or alias, else (``files``) a profile file at that path."""
    profiles = shipped()
    wanted = name_or_path.strip().lower()
    for profile in profiles.values():
        if wanted == profile.name or wanted in profile.aliases:
            return profile
    path = Path(name_or_path).expanduser()
    if files and path.is_file():
        try:
            return parse(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError) as exc:
            raise ProfileError(f"device profile {path}: {exc}") from None
    names = ", ".join(sorted(profiles))
    other = "or a JSON file's path" if files else "a profile file only at start, with --device-profile"
    raise ProfileError(f"unknown device profile {name_or_path!r}; shipped: {names} ({other})")


def parse(data: Any, origin: str) -> DeviceProfile:
    """A profile from its JSON shape (see the shipped files); missing or odd fields fail loudly."""
    try:
        speed = data["speed"]
        rates = {key: float(speed["evals_per_s"][key]) for key in SPEED_KEYS}
        device = data["device"]
        return DeviceProfile(
            name=str(data["name"]).lower(),
            description=str(data.get("description", "")),
            device_name=str(device["name"]),
            device_type=str(device["type"]),
            vram_total=int(device["vram_total_mib"] * MIB),
            non_torch_vram=int(device.get("non_torch_vram_mib", 0) * MIB),
            ram_total=int(data["ram_total_gib"] * GIB),
            ram_used=int(data.get("ram_used_gib", 0) * GIB),
            dtype_bytes=int(data.get("dtype_bytes", 2)),
            speed=Speed(
                evals_per_s=rates,
                overhead_s=float(speed["overhead_s"]),
                vae_decode_s_per_mp=float(speed["vae_decode_s_per_mp"]),
                vae_encode_s_per_mp=float(speed["vae_encode_s_per_mp"]),
                text_encode_s=float(speed["text_encode_s"]),
                disk_gb_per_s=float(speed["disk_gb_per_s"]),
                upload_gb_per_s=float(speed["upload_gb_per_s"]),
                first_run_s=float(speed["first_run_s"]),
            ),
            aliases=tuple(str(a).lower() for a in data.get("aliases", ())),
            sources=tuple(dict(s) for s in data.get("sources", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"device profile {origin}: bad or missing field {exc}") from None


__all__ = ["FAMILIES", "GIB", "MIB", "PIXEL_EXPONENT", "SPEED_KEYS", "DeviceProfile", "Family", "ProfileError",
           "Speed", "family", "load", "parse", "shipped"]
