"""Save targets (``core/files/save_paths.py``): SaveImage's prefixes and counters, remembered
without a folder scan while nobody else touched the folder."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fakecomfy.core.files import FileStore, SaveOutsideOutputError
from fakecomfy.core.paths import FolderPaths
from fakecomfy.settings import Settings


def test_save_image_path_counts_per_prefix(store: FileStore, paths: FolderPaths) -> None:
    target = store.save_image_path("run/basic")
    assert (target.folder, target.filename, target.counter, target.subfolder) == (
        paths.output / "run", "basic", 1, "run")
    for name in ("basic_00001_.png", "basic_00007_.png", "basic_x_.png", "basics_00042_.png"):
        (paths.output / "run" / name).write_bytes(b"")
    assert store.save_image_path("run/basic").counter == 8


@pytest.mark.parametrize(
    ("prefix", "subfolder", "filename"),
    [("deep/er/x", "deep/er", "x"), ("a/../norm", "", "norm"), ("trail/", "", "trail"), ("plain", "", "plain")],
)
def test_save_image_path_normalises_the_prefix(store: FileStore, prefix: str, subfolder: str, filename: str) -> None:
    target = store.save_image_path(prefix)
    assert (target.subfolder, target.filename) == (subfolder, filename)
    assert target.folder.is_dir()


def test_trailing_slash_prefix_always_restarts_at_one(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "trail_00001_.png").write_bytes(b"")
    assert store.save_image_path("trail/").counter == 1
    assert store.save_image_path("trail").counter == 2


def test_save_image_path_expands_size_and_date(store: FileStore) -> None:
    today = time.strftime("%Y-%m-%d")
    target = store.save_image_path("%year%-%month%-%day%/w%width%_h%height%", 48, 24)
    assert (target.subfolder, target.filename) == (today, "w48_h24")
    assert store.save_image_path("%date:yyyy-MM-dd%").filename == "%date:yyyy-MM-dd%"


def test_save_outside_output_is_refused(store: FileStore, paths: FolderPaths) -> None:
    with pytest.raises(SaveOutsideOutputError) as info:
        store.save_image_path("../escape")
    assert str(info.value).startswith("**** ERROR: Saving image outside the output folder is not allowed.")
    assert not (paths.base / "escape").exists()


def test_save_counter_is_remembered_and_still_sees_files_added_by_others(tmp_path: Path) -> None:
    settings = Settings(base_directory=tmp_path)
    store = FileStore(FolderPaths.from_settings(settings, tmp_path))
    store.paths.create_dirs()
    first = store.save_image_path("run/img")
    (first.folder / "img_00001_.png").write_bytes(b"x")
    store.saved(first, ["img_00001_.png"])
    assert store.save_image_path("run/img").counter == 2
    # another process writes a higher counter: the folder changed, so it is rescanned
    (first.folder / "img_00007_.png").write_bytes(b"x")
    assert store.save_image_path("run/img").counter == 8
    # %batch_num% names never match the counter scan, so the counter does not advance
    batch = store.save_image_path("run/b%batch_num%")
    (batch.folder / "b0_00001_.png").write_bytes(b"x")
    store.saved(batch, ["b0_00001_.png"])
    assert store.save_image_path("run/b%batch_num%").counter == 1


@pytest.mark.parametrize("prefix", ["ComfyUI", "run/img", "../output/up"], ids=["no-subfolder", "subfolder", "dotdot"])
def test_a_remembered_counter_needs_no_folder_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   prefix: str) -> None:
    """After a save is recorded, the next counter comes from memory while the folder is
    unchanged, whatever the prefix looks like (no subfolder, a subfolder, a '..' that stays in)."""
    settings = Settings(base_directory=tmp_path)
    store = FileStore(FolderPaths.from_settings(settings, tmp_path))
    store.paths.create_dirs()
    scans: list[str] = []
    real_listdir = os.listdir

    def counted_listdir(path: str) -> list[str]:  # the folder scan behind a counter
        scans.append(str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", counted_listdir)
    first = store.save_image_path(prefix)
    name = f"{first.filename}_{first.counter:05}_.png"
    first.write(name, b"x")
    store.saved(first, [name])
    scans.clear()
    second = store.save_image_path(prefix)
    assert second.counter == first.counter + 1
    assert scans == []
