"""``/view_metadata`` lookups (``core/files/model_metadata.py``): names rooted at ``/`` like
ComfyUI's ``get_full_path``, and the 404s and 500s of reading a safetensors header."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.core.files import FileError, FileStore
from fakecomfy.core.paths import FolderPaths


def write(paths: FolderPaths, name: str, raw: bytes, folder: str = "checkpoints") -> Path:
    path = paths.model_dirs[folder][0] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return path


def header(value: Any) -> bytes:
    raw = json.dumps(value).encode()
    return struct.pack("<Q", len(raw)) + raw


def status_of(store: FileStore, name: str | None, folder: str = "checkpoints") -> int:
    try:
        store.model_metadata(folder, name)
    except FileError as err:
        return err.status
    return 200


@pytest.fixture
def model(paths: FolderPaths) -> Path:
    return write(paths, "m.safetensors", header({"__metadata__": {"k": "v"}, "t": {}}))


@pytest.mark.parametrize("name", ["m.safetensors", "/m.safetensors", "//m.safetensors", "../m.safetensors",
                                  "../../m.safetensors", "a/../m.safetensors", "./m.safetensors"])
def test_names_are_rooted_at_slash_so_they_stay_in_the_folder(store: FileStore, model: Path, name: str) -> None:
    assert store.model_metadata("checkpoints", name) == {"k": "v"}


@pytest.mark.parametrize("name", ["../checkpoints/m.safetensors", "..\\m.safetensors", "sub/m.safetensors",
                                  "n" * 300 + ".safetensors", "m\x00.safetensors", "m.SAFETENSORS", "", None])
def test_names_that_find_no_file_are_a_404(store: FileStore, model: Path, name: str | None) -> None:
    assert status_of(store, name) == 404


def test_a_name_in_a_subfolder_is_found(store: FileStore, paths: FolderPaths) -> None:
    write(paths, "sub/x.safetensors", header({"__metadata__": {"a": "b"}}))
    assert store.model_metadata("checkpoints", "sub/x.safetensors") == {"a": "b"}
    assert status_of(store, "../checkpoints/sub/x.safetensors") == 404


def test_legacy_folder_names_reach_their_renamed_folders(store: FileStore, paths: FolderPaths) -> None:
    write(paths, "u.safetensors", header({"__metadata__": {}}), folder="diffusion_models")
    assert store.model_metadata("unet", "u.safetensors") == {}
    assert status_of(store, "u.safetensors", folder="nope") == 404


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (header({"t": {}}), 404),  # no __metadata__
        (struct.pack("<Q", 1024 * 1024 + 1) + b"{}", 404),  # a header real does not read
        (b"\x01\x02", 500),  # shorter than the length field
        (struct.pack("<Q", 0), 500),  # an empty header is not JSON
        (struct.pack("<Q", 3) + b"{x}", 500),
        (header(["__metadata__"]), 500),  # found by `in`, then a list indexed by a string
        (header(["other"]), 404),
        (header(7), 500),
    ],
    ids=["no-metadata", "header-too-long", "too-short", "empty-header", "not-json", "list-with-key",
         "list-without-key", "number"],
)
def test_headers_answer_what_real_answers(store: FileStore, paths: FolderPaths, raw: bytes, status: int) -> None:
    write(paths, "h.safetensors", raw)
    assert status_of(store, "h.safetensors") == status


def test_any_json_metadata_value_is_answered_as_it_is(store: FileStore, paths: FolderPaths) -> None:
    write(paths, "s.safetensors", header({"__metadata__": "text"}))
    assert store.model_metadata("checkpoints", "s.safetensors") == "text"
