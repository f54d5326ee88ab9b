"""FileStore (``core/files/store.py``, ``locations.py``): what nodes read, annotated names and
the type directories."""
from __future__ import annotations

import pytest

from fakecomfy.core.files import FileStore, split_annotation
from fakecomfy.core.paths import FolderPaths
from tests.files.samples import RED


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.png [input]", ("a.png", "input")), ("a.png [output]", ("a.png", "output")),
     ("a.png [temp]", ("a.png", "temp")), ("a.png", ("a.png", None)), ("a.png [other]", ("a.png [other]", None)),
     ("a.png[input]", ("a.pn", "input"))],
)
def test_split_annotation(name: str, expected: tuple[str, str | None]) -> None:
    assert split_annotation(name) == expected


def test_input_images_lists_root_image_files_sorted(store: FileStore, paths: FolderPaths) -> None:
    for name in ("b.png", "a.jpg", "c.webp", "notes.txt", "model.safetensors", "noext"):
        (paths.input / name).write_bytes(b"x")
    (paths.input / "sub").mkdir()
    (paths.input / "sub" / "deep.png").write_bytes(b"x")
    (paths.input / "dir.png").mkdir()
    assert store.input_images() == ["a.jpg", "b.png", "c.webp"]


def test_annotated_path_and_exists(store: FileStore, paths: FolderPaths) -> None:
    (paths.output / "o.png").write_bytes(RED)
    assert store.annotated_path("o.png [output]") == paths.output / "o.png"
    assert store.annotated_path("o.png") == paths.input / "o.png"
    assert store.annotated_path("o.png", default_type="temp") == paths.temp / "o.png"
    assert store.annotated_exists("o.png [output]") and not store.annotated_exists("o.png")


def test_output_path(store: FileStore, paths: FolderPaths) -> None:
    assert store.output_path("temp", "", "t.png") == paths.temp / "t.png"
    assert store.output_path("output", "run/x", "o.png") == paths.output / "run" / "x" / "o.png"
    with pytest.raises(ValueError, match="bogus"):
        store.output_path("bogus", "", "x.png")
