"""One Settings object, fed by CLI flags (named like ComfyUI's ``main.py``) and FAKECOMFY_* variables."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_UPLOAD_MB = 100


@dataclass
class Settings:
    """Everything that shapes one fakecomfy server.

    Directory fields left as ``None`` are derived from ``base_directory`` exactly like ComfyUI
    derives them from its own install directory (``input/``, ``output/``, ``temp/``, ``user/``,
    ``models/``).
    """

    listen: str = "127.0.0.1"
    port: int = 8188
    base_directory: Path | None = None
    input_directory: Path | None = None
    output_directory: Path | None = None
    temp_directory: Path | None = None
    user_directory: Path | None = None
    multi_user: bool = False
    # None: CORS off and the Origin check on. A string: the Access-Control-Allow-Origin value.
    enable_cors_header: str | None = None
    # None: ComfyUI's default of 100 MB, reported as an int; a value is reported as a float.
    max_upload_size: float | None = None
    disable_metadata: bool = False
    object_info_files: list[Path] = field(default_factory=list)
    # The web frontend at / (fakecomfy.routes.frontend): a folder holding its index.html, like
    # ComfyUI's --front-end-root; else, with ``front_end`` on, the installed
    # comfyui-frontend-package (the ``[ui]`` extra), which ``fakecomfy serve`` turns on. Off, and
    # with no folder, / is fakecomfy's own page.
    front_end_root: Path | None = None
    front_end: bool = False
    executor: str = "numpy"
    # ComfyUI's --cpu: the torch executor runs on the CPU even where CUDA is available.
    cpu: bool = False
    node_times: dict[str, float] = field(default_factory=dict)
    # A simulated GPU (fakecomfy.core.gpu): a shipped profile's name or a profile file's path.
    # None: no simulated device, every node instant unless node_times says otherwise.
    device_profile: str | None = None
    # Multiplies every simulated device time (0.1: ten times faster than the card; 0: instant).
    device_time_scale: float = 1.0
    # ComfyUI's VRAM options, applied to the simulated device as real applies them to its card.
    lowvram: bool = False
    novram: bool = False
    highvram: bool = False
    gpu_only: bool = False
    reserve_vram: float | None = None  # GB kept free for other programs (real's default: 0.4 GiB)
    # A named set of faults (or a file of them) in force from the start and again after each reset.
    fault_profile: str | None = None
    log_requests: bool = True
    # The control plane over HTTP under /_fakecomfy/ (its Python side is always there).
    control_api: bool = True
    # Check every HTTP answer and WebSocket message against the bundled contract and record
    # deviations (fakecomfy.contract.middleware); FAKECOMFY_SPEC_CHECK=1 turns it on for every
    # Settings made in the process, which is how the test suite checks everything it provokes.
    spec_check: bool = field(default_factory=lambda: os.environ.get("FAKECOMFY_SPEC_CHECK") == "1")

    def __post_init__(self) -> None:
        # Accept plain strings for directories (Settings(base_directory="/tmp/comfy")).
        for name in ("base_directory", "input_directory", "output_directory", "temp_directory",
                     "user_directory", "front_end_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))
        self.object_info_files = [Path(p) for p in self.object_info_files]

    @property
    def max_upload_bytes(self) -> int:
        mb = DEFAULT_MAX_UPLOAD_MB if self.max_upload_size is None else self.max_upload_size
        return round(mb * 1024 * 1024)

    @property
    def reported_max_upload_size(self) -> int | float:
        """The value /features reports: an int by default, a float once the flag is given."""
        if self.max_upload_size is None:
            return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
        return float(self.max_upload_size) * 1024 * 1024

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_TRUE = {"1", "true", "yes", "on"}


def parse_node_times(items: list[str]) -> dict[str, float]:
    """Parse ``CLASS=SECONDS`` items (also comma-separated) into a mapping."""
    times: dict[str, float] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"expected CLASS=SECONDS, got {part!r}")
            times[name.strip()] = float(value)
    return times


def env_defaults(environ: dict[str, str] | None = None) -> dict[str, object]:
    """Settings values found in FAKECOMFY_* environment variables."""
    env = os.environ if environ is None else environ
    out: dict[str, object] = {}
    text = {
        "FAKECOMFY_LISTEN": "listen",
        "FAKECOMFY_EXECUTOR": "executor",
        "FAKECOMFY_DEVICE_PROFILE": "device_profile",
        "FAKECOMFY_FAULT_PROFILE": "fault_profile",
    }
    paths = {
        "FAKECOMFY_BASE_DIRECTORY": "base_directory",
        "FAKECOMFY_INPUT_DIRECTORY": "input_directory",
        "FAKECOMFY_OUTPUT_DIRECTORY": "output_directory",
        "FAKECOMFY_TEMP_DIRECTORY": "temp_directory",
        "FAKECOMFY_USER_DIRECTORY": "user_directory",
        "FAKECOMFY_FRONT_END_ROOT": "front_end_root",
    }
    for var, name in text.items():
        if env.get(var):
            out[name] = env[var]
    for var, name in paths.items():
        if env.get(var):
            out[name] = Path(env[var])
    if env.get("FAKECOMFY_PORT"):
        out["port"] = int(env["FAKECOMFY_PORT"])
    if env.get("FAKECOMFY_MULTI_USER"):
        out["multi_user"] = env["FAKECOMFY_MULTI_USER"].lower() in _TRUE
    if env.get("FAKECOMFY_CONTROL_API"):
        out["control_api"] = env["FAKECOMFY_CONTROL_API"].lower() in _TRUE
    if env.get("FAKECOMFY_FRONT_END"):
        out["front_end"] = env["FAKECOMFY_FRONT_END"].lower() in _TRUE
    if env.get("FAKECOMFY_CPU"):
        out["cpu"] = env["FAKECOMFY_CPU"].lower() in _TRUE
    for var, name in (("FAKECOMFY_LOWVRAM", "lowvram"), ("FAKECOMFY_NOVRAM", "novram"),
                      ("FAKECOMFY_HIGHVRAM", "highvram"), ("FAKECOMFY_GPU_ONLY", "gpu_only")):
        if env.get(var):
            out[name] = env[var].lower() in _TRUE
    if env.get("FAKECOMFY_RESERVE_VRAM"):
        out["reserve_vram"] = float(env["FAKECOMFY_RESERVE_VRAM"])
    if env.get("FAKECOMFY_DEVICE_TIME_SCALE"):
        out["device_time_scale"] = float(env["FAKECOMFY_DEVICE_TIME_SCALE"])
    if env.get("FAKECOMFY_DISABLE_METADATA"):
        out["disable_metadata"] = env["FAKECOMFY_DISABLE_METADATA"].lower() in _TRUE
    if "FAKECOMFY_ENABLE_CORS_HEADER" in env:
        out["enable_cors_header"] = env["FAKECOMFY_ENABLE_CORS_HEADER"] or "*"
    if env.get("FAKECOMFY_MAX_UPLOAD_SIZE"):
        out["max_upload_size"] = float(env["FAKECOMFY_MAX_UPLOAD_SIZE"])
    if env.get("FAKECOMFY_OBJECT_INFO"):
        out["object_info_files"] = [Path(p) for p in env["FAKECOMFY_OBJECT_INFO"].split(os.pathsep) if p]
    if env.get("FAKECOMFY_NODE_TIME"):
        out["node_times"] = parse_node_times([env["FAKECOMFY_NODE_TIME"]])
    return out
