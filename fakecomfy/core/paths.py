"""Where files live: ComfyUI's directory layout and its model folder registry."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fakecomfy.settings import Settings

# ComfyUI's supported_pt_extensions.
MODEL_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})

# (folder name, sub-directories of models/ that feed it, extensions or None for "any file").
# Order is ComfyUI's registration order, which GET /models reports verbatim.
MODEL_FOLDERS: tuple[tuple[str, tuple[str, ...], frozenset[str] | None], ...] = (
    ("checkpoints", ("checkpoints",), MODEL_EXTENSIONS),
    ("configs", ("configs",), frozenset({".yaml"})),
    ("loras", ("loras",), MODEL_EXTENSIONS),
    ("vae", ("vae",), MODEL_EXTENSIONS),
    ("text_encoders", ("text_encoders", "clip"), MODEL_EXTENSIONS),
    ("diffusion_models", ("unet", "diffusion_models"), MODEL_EXTENSIONS),
    ("clip_vision", ("clip_vision",), MODEL_EXTENSIONS),
    ("style_models", ("style_models",), MODEL_EXTENSIONS),
    ("embeddings", ("embeddings",), MODEL_EXTENSIONS),
    ("diffusers", ("diffusers",), frozenset({"folder"})),
    ("vae_approx", ("vae_approx",), MODEL_EXTENSIONS),
    ("controlnet", ("controlnet", "t2i_adapter"), MODEL_EXTENSIONS),
    ("gligen", ("gligen",), MODEL_EXTENSIONS),
    ("upscale_models", ("upscale_models",), MODEL_EXTENSIONS),
    ("latent_upscale_models", ("latent_upscale_models",), MODEL_EXTENSIONS),
    ("custom_nodes", (), frozenset()),
    ("hypernetworks", ("hypernetworks",), MODEL_EXTENSIONS),
    ("photomaker", ("photomaker",), MODEL_EXTENSIONS),
    ("classifiers", ("classifiers",), frozenset({""})),
    ("model_patches", ("model_patches",), MODEL_EXTENSIONS),
    ("audio_encoders", ("audio_encoders",), MODEL_EXTENSIONS),
)

# Model configs older ComfyUI releases shipped in models/configs (0.8.0 ships none, so none are
# listed): kept as stand-ins a loader still finds by name.
STOCK_CONFIGS_DIR = Path(__file__).resolve().parent.parent / "data" / "configs"
# Folders ComfyUI's main.py also feeds from output/ (folder name, output sub-directory), after
# their models/ directories: where its model-saving nodes write.
OUTPUT_MODEL_FOLDERS = (("checkpoints", "checkpoints"), ("text_encoders", "clip"), ("vae", "vae"),
                        ("diffusion_models", "diffusion_models"), ("loras", "loras"))

# Folders GET /experiment/models leaves out.
EXPERIMENT_EXCLUDED = frozenset({"configs", "custom_nodes"})
FILE_TYPES = ("output", "input", "temp")


@dataclass
class FolderPaths:
    """Resolved directories of one server, the equivalent of ComfyUI's ``folder_paths``."""

    base: Path
    input: Path
    output: Path
    temp: Path
    user: Path
    model_dirs: dict[str, list[Path]] = field(default_factory=dict)
    extensions: dict[str, frozenset[str] | None] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, base: Path) -> FolderPaths:
        base = base.resolve()
        paths = cls(
            base=base,
            input=(settings.input_directory or base / "input").resolve(),
            output=(settings.output_directory or base / "output").resolve(),
            temp=(settings.temp_directory or base / "temp").resolve(),
            user=(settings.user_directory or base / "user").resolve(),
        )
        models = base / "models"
        for name, subdirs, exts in MODEL_FOLDERS:
            if name == "custom_nodes":
                paths.model_dirs[name] = [base / "custom_nodes"]
            else:
                paths.model_dirs[name] = [models / sub for sub in subdirs]
            paths.extensions[name] = exts
        for name, sub in OUTPUT_MODEL_FOLDERS:
            paths.model_dirs[name].append(paths.output / sub)
        return paths

    def create_dirs(self) -> None:
        for d in (self.input, self.output, self.temp, self.user):
            d.mkdir(parents=True, exist_ok=True)
        for dirs in self.model_dirs.values():
            for d in dirs:
                if not _is_within(d, self.output):  # real makes output's model folders only to save
                    d.mkdir(parents=True, exist_ok=True)

    def folder_names(self) -> list[str]:
        return list(self.model_dirs)

    def type_dir(self, file_type: str) -> Path | None:
        """Directory of a /view or upload ``type`` (output, input, temp); None if unknown."""
        return {"output": self.output, "input": self.input, "temp": self.temp}.get(file_type)

    def list_models(self, folder: str) -> list[str]:
        """Relative paths ('/' separated) of the files a model folder offers, sorted like ComfyUI."""
        found: set[str] = set()
        exts = self.extensions.get(folder)
        for root in self.model_dirs.get(folder, []):
            for rel in _walk_files(root):
                if _extension_ok(rel, exts):
                    found.add(rel)
        return sorted(found)

    def find_model(self, folder: str, name: str) -> Path | None:
        """Absolute path of ``name`` inside a model folder, never outside it (a stock config
        is found too, though not listed)."""
        roots = self.model_dirs.get(folder, [])
        for root in [*roots, STOCK_CONFIGS_DIR] if folder == "configs" else roots:
            candidate = (root / name).resolve()
            if _is_within(candidate, root.resolve()) and candidate.is_file():
                return candidate
        return None


def _extension_ok(rel: str, exts: frozenset[str] | None) -> bool:
    if not exts:  # empty set: every file counts (ComfyUI's custom_nodes)
        return True
    suffix = os.path.splitext(rel)[1].lower()
    return suffix in exts or ("" in exts and suffix == "")


def _walk_files(root: Path) -> list[str]:
    out: list[str] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            out.append(rel.replace(os.sep, "/"))
    return out


def _is_within(path: Path, root: Path) -> bool:
    try:
        return os.path.commonpath([str(path), str(root)]) == str(root)
    except ValueError:
        return False


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when the absolute ``path`` lies inside ``root`` (both are normalised first)."""
    return _is_within(Path(os.path.abspath(path)), Path(os.path.abspath(root)))


def visible_files_newest_first(directory: Path) -> list[str]:
    """Names of the files directly in ``directory``, hidden ones left out, newest first (an
    OSError where the directory cannot be read, as real lets it escape)."""
    with os.scandir(directory) as entries:
        found = [e for e in entries if e.is_file() and not e.name.startswith(".")]
    return [e.name for e in sorted(found, key=lambda e: -e.stat().st_mtime)]
