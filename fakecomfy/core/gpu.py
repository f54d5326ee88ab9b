"""A simulated GPU: a device profile's VRAM managed the way ComfyUI's model management
manages a real card's, and the seconds its work takes.

Memory follows ComfyUI 0.8's rules (comfy/model_management.py), re-stated here:

- Models (a checkpoint's UNet, text encoder and VAE, each its nominal size) are moved to the
  card when a node first uses them and stay there between prompts. Before a load, models the
  load does not use are unloaded until the load, 1.1 times over, plus the working memory fits;
  real unloads the models that are only partly on the card first, then the smaller before the
  larger. A model already on the card gives weights back when a larger run needs the room.
  Models whose loader outputs the output cache dropped (real keeps what the last prompt used)
  leave RAM and the card; naming them again reads them from disk again.
- The working memory of sampling is ComfyUI's own estimate, ``memory_required``: latent
  area x rows x dtype bytes x 0.01 x the family's memory_usage_factor, in MiB. Where the
  weights and the estimate do not both fit, the weights are loaded partly (real's "lowvram"
  loading, on by default on NVIDIA cards): what stays off the card is copied over on every
  model call, which costs time. ``--gpu-only`` / ``--highvram`` never split, ``--novram``
  always keeps the weights off the card, ``--lowvram`` also runs text encoders on the CPU.
- Cond and uncond go through the model together when 1.5 times their estimate fits in the free
  memory, else one at a time (real's calc_cond_batch). A model call really takes 1.5 times
  the estimate (the margin real allows for itself): where even one cond's call does not fit,
  the node fails with torch's CUDA out-of-memory error, and all models are unloaded.
- ``/system_stats`` shows what torch would: ``vram_free`` is the card's free memory plus
  torch's cached but unused blocks, ``torch_vram_total`` what torch's allocator holds. Freed
  memory stays cached by torch until models are unloaded or the prompt ends.

A profile of type ``cpu`` keeps everything in RAM, as real ComfyUI does with ``--cpu``.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.faults import OOM_TYPE, exception_from, oom_message
from fakecomfy.core.gpu_profiles import GIB, MIB, DeviceProfile, Family, family

EXTRA_RESERVED = 400 * MIB  # real's default VRAM kept back for other programs (Linux)
MIN_INFERENCE = int(0.8 * GIB)  # real's minimum_inference_memory, before the reserve
CFG_MARGIN = 1.5  # real batches cond and uncond when 1.5 x their estimate fits
# A ControlNet runs a copy of the UNet's encoder beside it: its paper measures 34 % more time per
# (training) iteration (Zhang et al. 2023, arXiv:2302.05543, section 3.3); used for a sampler step.
CONTROLNET_COST = 0.34
CPU_ALLOC_ERROR = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                   "you tried to allocate {bytes} bytes.")


class VramState(Enum):
    """ComfyUI's VRAM states, from its flags."""

    NORMAL = "NORMAL_VRAM"
    LOW = "LOW_VRAM"
    NONE = "NO_VRAM"
    HIGH = "HIGH_VRAM"
    DISABLED = "DISABLED"


@dataclass
class Loaded:
    """One model part on the card: its key, size and the bytes actually resident."""

    key: tuple[str, str]  # (part, file name): ("unet", "sd_xl_base_1.0.safetensors"), ("controlnet", ...)
    size: int
    resident: int
    warm: bool = False  # has run once since it was moved to the card

    @property
    def offloaded(self) -> int:
        return self.size - self.resident


@dataclass(frozen=True)
class Work:
    """What a node's use of the device costs: seconds before it starts (loading), and seconds
    of its own work (per sampler step for samplers, once for other nodes)."""

    before_s: float = 0.0
    work_s: float = 0.0


class OutOfMemory(Exception):
    """Raised by a simulated allocation that does not fit; ``error`` is what the node raises."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class SimulatedDevice:
    """A device profile's card as ComfyUI's model management sees it. Thread-safe: the worker
    changes it, /system_stats reads it."""

    def __init__(self, profile: DeviceProfile, *, lowvram: bool = False, novram: bool = False,
                 highvram: bool = False, gpu_only: bool = False, reserve_vram_gb: float | None = None,
                 time_scale: float = 1.0) -> None:
        self.profile = profile
        self.time_scale = time_scale
        self.gpu_only = gpu_only
        if profile.is_cpu:
            self.state = VramState.DISABLED
        elif lowvram:
            self.state = VramState.LOW
        elif novram:
            self.state = VramState.NONE
        elif highvram or gpu_only:
            self.state = VramState.HIGH
        else:
            self.state = VramState.NORMAL
        self.extra_reserved = EXTRA_RESERVED if reserve_vram_gb is None else int(reserve_vram_gb * GIB)
        self._lock = threading.RLock()
        self.reset()

    # ---- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Nothing loaded, nothing cached, every model cold: the card as the server started."""
        with self._lock:
            self.loaded: list[Loaded] = []  # most recently loaded first, as real keeps them
            self.in_ram: dict[tuple[str, str], int] = {}  # parts read from disk, by key
            self.working = 0
            self.cached = 0  # torch's reserved but unused bytes

    @property
    def capacity(self) -> int:
        return self.profile.ram_total if self.profile.is_cpu else self.profile.vram_total

    @property
    def active(self) -> int:
        return sum(m.resident for m in self.loaded) + self.working

    def free(self) -> int:
        """Real's get_free_memory: what torch can still allocate (its cache included)."""
        if self.profile.is_cpu:
            return self._ram_free()
        return self.capacity - self.profile.non_torch_vram - self.active

    def _ram_free(self) -> int:
        """RAM: the parts loaders read and that are not on the card (on a CPU device, every
        part and the working memory), besides what the machine uses anyway."""
        if self.profile.is_cpu:
            parts = dict(self.in_ram)
            for m in self.loaded:
                parts[m.key] = max(parts.get(m.key, 0), m.size)
            used = sum(parts.values()) + self.working
        else:
            used = sum(self.in_ram.values()) - sum(m.resident for m in self.loaded if m.key in self.in_ram)
        return max(0, self.profile.ram_total - self.profile.ram_used - used)

    def seconds(self, s: float) -> float:
        return s * self.time_scale

    # ---- reports ----------------------------------------------------------------------------
    def torch_version(self) -> str:
        """The version real reports without torch, with a CUDA build's tag on a card."""
        release = protocol.TORCH_VERSION.partition("+")[0]
        return protocol.TORCH_VERSION if self.profile.is_cpu else f"{release}+cu128"

    def devices(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.profile.is_cpu:
                free = self._ram_free()
                return [{"name": "cpu", "type": "cpu", "index": None, "vram_total": self.profile.ram_total,
                         "vram_free": free, "torch_vram_total": self.profile.ram_total, "torch_vram_free": free}]
            reserved = self.active + self.cached
            return [{"name": self.profile.device_name, "type": self.profile.device_type, "index": 0,
                     "vram_total": self.capacity, "vram_free": self.free(),
                     "torch_vram_total": reserved, "torch_vram_free": self.cached}]

    def describe(self) -> dict[str, Any]:
        """The control plane's view: VRAM state, free bytes and the models on the card, most
        recently loaded first."""
        with self._lock:
            return {"vram_state": self.state.value, "vram_total": self.capacity, "vram_free": self.free(),
                    "models": [{"part": m.key[0], "name": m.key[1], "size": m.size, "resident": m.resident}
                               for m in self.loaded]}

    def ram(self) -> tuple[int, int]:
        """(ram_total, ram_free) of the simulated machine."""
        with self._lock:
            return self.profile.ram_total, self._ram_free()

    # ---- model management -------------------------------------------------------------------
    def read(self, parts: list[tuple[str, str, int]]) -> float:
        """Parts (part, name, bytes) a node output: those not in RAM yet were read from disk;
        the seconds that took. (A LoRA or a model-sampling node outputs a model already there.)"""
        with self._lock:
            fresh = [(p, n, b) for p, n, b in parts if (p, n) not in self.in_ram]
            for part, name, size in fresh:
                self.in_ram[(part, name)] = size
            return self.seconds(sum(b for _, _, b in fresh) / (self.profile.speed.disk_gb_per_s * 1e9))

    def keep(self, live: set[tuple[str, str]]) -> None:
        """Only these parts still exist (the output cache dropped the others' loaders): the rest
        leave RAM and the card, as real's dead models do at its next load."""
        with self._lock:
            gone = [m for m in self.loaded if m.key not in live]
            if gone:
                self.cached += sum(m.resident for m in gone)
                self.loaded = [m for m in self.loaded if m.key in live]
            self.in_ram = {k: v for k, v in self.in_ram.items() if k in live}

    def unload_all(self) -> None:
        """Real's unload_all_models (after an OOM, and /free with unload_models)."""
        with self._lock:
            self.loaded.clear()
            self.working = 0
            self.cached = 0

    def prompt_done(self) -> None:
        """The worker's cache release after a prompt: torch's unused blocks go back."""
        with self._lock:
            self.working = 0
            self.cached = 0

    def _evict(self, needed: int, keep: set[tuple[str, str]]) -> None:
        """Real's free_memory: unload models not kept until ``needed`` bytes are free."""
        candidates = sorted((i for i, m in enumerate(self.loaded) if m.key not in keep),
                            key=lambda i: (-self.loaded[i].offloaded, self.loaded[i].size, i))
        dropped = set()
        for i in candidates:
            if self.free() > needed:
                break
            dropped.add(i)
            self.loaded[i].resident = 0
        if dropped:
            self.loaded = [m for i, m in enumerate(self.loaded) if i not in dropped]
            self.cached = 0  # real empties torch's cache after unloading

    def load(self, key: tuple[str, str], size: int, memory_required: int = 0,
             minimum_required: int | None = None) -> float:
        """Real's load_models_gpu for one model part: seconds spent moving weights to the card.
        Raises :class:`OutOfMemory` where ``--gpu-only`` leaves no room for the whole model."""
        with self._lock:
            entry = next((m for m in self.loaded if m.key == key), None)
            if entry is not None:
                self.loaded.remove(entry)
            else:
                entry = Loaded(key, size, 0)
            if self.profile.is_cpu:  # real's CPU device: everything already in RAM, nothing moves
                entry.resident = size
                self.loaded.insert(0, entry)
                return 0.0
            reserve = self.extra_reserved
            inference = MIN_INFERENCE + reserve
            extra = max(inference, memory_required + reserve)
            minimum = extra if minimum_required is None else max(inference, minimum_required + reserve)
            self.loaded.insert(0, entry)
            self._evict(int((size - entry.resident) * 1.1) + extra, keep={key})
            if self.free() < minimum:
                self._evict(minimum, keep={key})
            target = self._resident_target(size, entry.resident, minimum)
            moved = target - entry.resident
            if self.state == VramState.HIGH and moved > self.free():
                raise OutOfMemory(self.oom_error(moved))
            entry.resident = target  # a model already there may give some of its weights back
            self.cached = max(0, self.cached - moved)  # weights given back stay in torch's cache
            return self.seconds(max(0, moved) / (self.profile.speed.upload_gb_per_s * 1e9))

    def _resident_target(self, size: int, loaded: int, minimum: int) -> int:
        if self.state == VramState.NONE:
            return 0
        if self.state == VramState.HIGH:
            return size
        available = self.free() + loaded
        return min(size, max(0, available - minimum))

    def oom_error(self, allocate: int) -> BaseException:
        """The exception a real card raises for an allocation of ``allocate`` bytes."""
        if self.profile.is_cpu:
            return exception_from("RuntimeError", CPU_ALLOC_ERROR.format(bytes=allocate))
        allocated = self.active
        reserved = allocated + self.cached
        sizes = {"allocate": allocate, "device": 0, "total": self.capacity,
                 "free": max(0, self.capacity - self.profile.non_torch_vram - reserved),
                 "used": reserved + self.profile.non_torch_vram, "allocated": allocated,
                 "reserved": self.cached}
        return exception_from(OOM_TYPE, oom_message(sizes))

    # ---- the work of nodes --------------------------------------------------------------------
    def estimate(self, fam: Family, rows: int, area: int) -> int:
        """Real's memory_required for ``rows`` latents of ``area`` latent pixels (bytes)."""
        return int(rows * area * self.profile.dtype_bytes * 0.01 * fam.memory_factor * MIB)

    def sampling(self, name: str, fam: Family, batch: int, area: int, pixels: int, conds: int,
                 evals_per_step: float, controls: Sequence[tuple[str, int]] = ()) -> Work:
        """A sampler over ``batch`` latents: loading its model, then seconds per step.
        ``conds``: predictions per model evaluation (2 with a negative at cfg != 1);
        ``controls``: the ControlNets (name, bytes) its conditioning applies, loaded with it."""
        with self._lock:
            key = ("unet", name)
            one = self.estimate(fam, batch, area)
            both = self.estimate(fam, batch * conds, area)
            inference = MIN_INFERENCE + self.extra_reserved  # real's prepare_sampling adds it
            before = 0.0
            for control, size in controls:  # real loads them in the same call as the model
                before += self.load(("controlnet", control), size, memory_required=both + inference,
                                    minimum_required=one + inference)
            before += self.load(key, fam.unet_bytes, memory_required=both + inference,
                                minimum_required=one + inference)
            entry = next(m for m in self.loaded if m.key == key)
            if not entry.warm:
                entry.warm = True
                before += self.seconds(self.profile.speed.first_run_s)
            together = conds == 1 or both * CFG_MARGIN < self.free()
            calls, rows = (1, batch * conds) if together else (conds, batch)
            peak = int(self.estimate(fam, rows, area) * CFG_MARGIN)
            if peak > self.free():
                raise OutOfMemory(self.oom_error(peak))
            self.working = peak
            speed = self.profile.speed
            call = speed.call_seconds(fam.speed_key, rows, pixels, fam.reference_pixels)
            call *= 1 + CONTROLNET_COST * len(controls)
            offloaded = entry.offloaded + sum(m.offloaded for m in self.loaded if m.key[0] == "controlnet"
                                              and m.key[1] in {c for c, _ in controls})
            stream = offloaded / (speed.upload_gb_per_s * 1e9)
            return Work(before, self.seconds(evals_per_step * calls * (call + stream)))

    def finish_work(self) -> None:
        """A node's working memory is freed (torch keeps it cached)."""
        with self._lock:
            self.cached += self.working
            self.working = 0

    def text_encode(self, fam: Family, name: str) -> Work:
        with self._lock:
            if self.state in (VramState.LOW, VramState.NONE) and not self.gpu_only:
                return Work(0.0, self.seconds(self.profile.speed.text_encode_s * 10))  # on the CPU
            before = self.load(("clip", name), fam.clip_bytes)
            return Work(before, self.seconds(self.profile.speed.text_encode_s))

    def vae(self, fam: Family, name: str, megapixels: float, decode: bool, per_item: int) -> Work:
        """VAE decode/encode of ``megapixels`` in all; ``per_item`` real's memory estimate of one
        image (real decodes as many at a time as fit and never runs out: it falls back to tiles)."""
        with self._lock:
            before = self.load(("vae", name), fam.vae_bytes, memory_required=per_item)
            rate = self.profile.speed.vae_decode_s_per_mp if decode else self.profile.speed.vae_encode_s_per_mp
            self.working = min(per_item, max(0, self.free()))
            return Work(before, self.seconds(rate * megapixels))


__all__ = ["CFG_MARGIN", "CONTROLNET_COST", "CPU_ALLOC_ERROR", "EXTRA_RESERVED", "MIN_INFERENCE", "Loaded",
           "OutOfMemory", "SimulatedDevice", "VramState", "Work", "family"]
