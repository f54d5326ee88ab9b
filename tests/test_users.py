"""The user manager without HTTP: users, resolution, settings, userdata files and listings."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.core.users import (
    InvalidUsername,
    NotADirectory,
    PathOutsideRoot,
    UnknownUser,
    UserdataExists,
    UserdataNotFound,
    UserdataWriteFailed,
    UserManager,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "user"


@pytest.fixture
def single(user_dir: Path) -> UserManager:
    return UserManager(user_dir, multi_user=False)


@pytest.fixture
def multi(user_dir: Path) -> UserManager:
    return UserManager(user_dir, multi_user=True)


# ---- users -----------------------------------------------------------------------------------
def test_single_user_mode_has_only_default_and_its_directory(single: UserManager, user_dir: Path) -> None:
    assert single.users == {"default": "default"}
    assert (user_dir / "default").is_dir()
    assert single.migrated() is True


def test_multi_user_mode_starts_without_users_or_default_dir(multi: UserManager, user_dir: Path) -> None:
    assert multi.users == {}
    assert not (user_dir / "default").exists()


def test_new_user_id_is_sanitised_stripped_name_plus_uuid(multi: UserManager) -> None:
    user_id = multi.add_user("  run a/b.c  ")
    assert re.fullmatch(rf"run-a-b-c_{UUID}", user_id)
    assert multi.users[user_id] == "run a/b.c"


def test_runs_of_unsafe_characters_become_one_dash(multi: UserManager) -> None:
    assert re.fullmatch(rf"-x-y-_z-_{UUID}", multi.add_user("<x>?*y!_z.."))


def test_duplicate_check_compares_the_raw_name(multi: UserManager) -> None:
    first = multi.add_user("alice")
    with pytest.raises(InvalidUsername, match=r"^Duplicate username\.$"):
        multi.add_user("alice")
    padded = multi.add_user("  alice  ")  # accepted: a second user named "alice"
    assert padded != first
    assert list(multi.users.values()) == ["alice", "alice"]


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "username not provided"), ("  \t ", "username not provided"),
     ("__sys", "System User prefix not allowed"), ("  __sys", "System User prefix not allowed")],
    ids=["empty", "whitespace", "system-prefix", "system-prefix-after-strip"],
)
def test_invalid_names_are_refused_with_real_error_text(multi: UserManager, name: str, error: str) -> None:
    with pytest.raises(InvalidUsername) as err:
        multi.add_user(name)
    assert str(err.value) == error
    assert multi.users == {}


def test_users_json_survives_a_restart(multi: UserManager, user_dir: Path) -> None:
    user_id = multi.add_user("bob")
    assert json.loads((user_dir / "users.json").read_text()) == {user_id: "bob"}
    assert UserManager(user_dir, multi_user=True).users == {user_id: "bob"}


def test_single_user_mode_writes_users_json_but_never_reads_it(single: UserManager, user_dir: Path) -> None:
    with pytest.raises(InvalidUsername, match="Duplicate"):
        single.add_user("default")
    user_id = single.add_user("carol")
    assert json.loads((user_dir / "users.json").read_text()) == {"default": "default", user_id: "carol"}
    assert UserManager(user_dir, multi_user=False).users == {"default": "default"}


# ---- who is the user -------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "", "nobody", "__system"])
def test_single_user_mode_ignores_the_header(single: UserManager, header: str | None) -> None:
    assert single.resolve_user(header) == "default"


def test_multi_user_mode_needs_an_existing_id(multi: UserManager) -> None:
    user_id = multi.add_user("dave")
    assert multi.resolve_user(user_id) == user_id
    for header in [None, "default", "dave", "", "__system"]:
        with pytest.raises(UnknownUser):
            multi.resolve_user(header)


def test_default_is_a_name_like_any_other_in_multi_user_mode(multi: UserManager) -> None:
    user_id = multi.add_user("default")
    assert user_id.startswith("default_")
    with pytest.raises(UnknownUser):
        multi.resolve_user(None)


# ---- paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", ["../x.json", "../../etc/passwd", "/etc/passwd", "a/../../x", "..%2Fx"])
def test_paths_never_leave_the_user_root(single: UserManager, rel: str) -> None:
    with pytest.raises(PathOutsideRoot):
        single.resolve("default", rel)


def test_percent_names_are_decoded_once_more(single: UserManager, user_dir: Path) -> None:
    assert single.resolve("default", "d%2Fa.json") == str(user_dir / "default" / "d" / "a.json")


def test_another_users_root_is_outside_mine(multi: UserManager) -> None:
    a, b = multi.add_user("a"), multi.add_user("b")
    with pytest.raises(PathOutsideRoot):
        multi.resolve(b, f"../{a}/x.json")


# ---- settings --------------------------------------------------------------------------------
def test_settings_roundtrip_merges_and_sets_single_keys(single: UserManager, user_dir: Path) -> None:
    assert single.settings("default") == {}
    single.merge_settings("default", single.settings("default"), {"a": 1, "b": "x"})
    single.merge_settings("default", single.settings("default"), {"a": 2})
    single.set_setting("default", single.settings("default"), "c", [1, None])
    assert single.settings("default") == {"a": 2, "b": "x", "c": [1, None]}
    assert single.setting("default", "c") == [1, None]
    assert single.setting("default", "missing") is None
    stored = (user_dir / "default" / "comfy.settings.json").read_text()
    assert stored == json.dumps({"a": 2, "b": "x", "c": [1, None]}, indent=4)


def test_merging_a_non_object_is_a_type_error(single: UserManager) -> None:
    with pytest.raises(TypeError):
        single.merge_settings("default", {}, [1, 2])


def test_corrupt_settings_file_reads_as_empty(single: UserManager, user_dir: Path) -> None:
    (user_dir / "default" / "comfy.settings.json").write_text("{oops")
    assert single.settings("default") == {}


def test_settings_are_per_user(multi: UserManager, user_dir: Path) -> None:
    a, b = multi.add_user("a"), multi.add_user("b")
    multi.merge_settings(a, {}, {"k": 1})
    assert multi.settings(b) == {}
    assert (user_dir / a / "comfy.settings.json").is_file()
    assert not (user_dir / b / "comfy.settings.json").exists()


# ---- userdata files --------------------------------------------------------------------------
def test_write_then_read_existing(single: UserManager) -> None:
    path = single.writable("default", "d/a.json", overwrite=True)
    single.write(path, b"{}")
    assert single.existing("default", "d/a.json") == path
    assert single.relative("default", path, full_info=False) == "d/a.json"
    info = single.relative("default", path, full_info=True)
    assert isinstance(info, dict)
    assert info["path"] == "d/a.json" and info["size"] == 2 and isinstance(info["modified"], float)


def test_no_overwrite_of_an_existing_file(single: UserManager) -> None:
    single.write(single.writable("default", "a.json", overwrite=True), b"1")
    with pytest.raises(UserdataExists):
        single.writable("default", "a.json", overwrite=False)


def test_writing_onto_a_directory_fails(single: UserManager) -> None:
    path = single.writable("default", "d/x", overwrite=True)
    Path(path).mkdir()
    with pytest.raises(UserdataWriteFailed):
        single.write(path, b"1")


def test_looking_up_a_missing_file_creates_its_directory(single: UserManager, user_dir: Path) -> None:
    with pytest.raises(UserdataNotFound):
        single.existing("default", "made/missing.json")
    assert (user_dir / "default" / "made").is_dir()
    assert single.list_dir("default", "made", recurse=False, full_info=False, split=False) == []


def test_delete_and_delete_missing(single: UserManager) -> None:
    single.write(single.writable("default", "a.txt", overwrite=True), b"x")
    single.delete("default", "a.txt")
    with pytest.raises(UserdataNotFound):
        single.delete("default", "a.txt")


def test_move_renames_inside_the_root(single: UserManager, user_dir: Path) -> None:
    single.write(single.writable("default", "a.json", overwrite=True), b"1")
    single.write(single.writable("default", "b.json", overwrite=True), b"2")
    with pytest.raises(UserdataExists):
        single.move("default", "a.json", "b.json", overwrite=False)
    dest = single.move("default", "a.json", "new/c.json", overwrite=True)
    assert single.relative("default", dest, full_info=False) == "new/c.json"
    assert (user_dir / "default" / "new" / "c.json").read_bytes() == b"1"
    with pytest.raises(UserdataNotFound):
        single.move("default", "a.json", "d.json", overwrite=True)


# ---- listings --------------------------------------------------------------------------------
@pytest.fixture
def populated(single: UserManager) -> UserManager:
    for rel, data in [("r/a.json", b"{}"), ("r/sub/b.json", b"{}"), ("r/sub/deep/c.txt", b"c"),
                      ("r/.hidden", b"h")]:
        single.write(single.writable("default", rel, overwrite=True), data)
    return single


def test_listing_variants(populated: UserManager) -> None:
    def ls(**flags: bool) -> list[Any]:
        opts = {"recurse": False, "full_info": False, "split": False, **flags}
        return populated.list_dir("default", "r", **opts)

    assert ls() == ["a.json"]
    assert sorted(ls(recurse=True)) == ["a.json", "sub/b.json", "sub/deep/c.txt"]
    assert sorted(ls(recurse=True, split=True)) == [
        ["a.json", "a.json"], ["sub/b.json", "sub", "b.json"], ["sub/deep/c.txt", "sub", "deep", "c.txt"]]
    infos = ls(recurse=True, full_info=True)
    assert sorted(i["path"] for i in infos) == ["a.json", "sub/b.json", "sub/deep/c.txt"]
    assert populated.list_dir("default", "r/sub", recurse=False, full_info=False, split=False) == ["b.json"]


def test_listing_a_missing_directory_is_not_found(single: UserManager) -> None:
    with pytest.raises(UserdataNotFound):
        single.list_dir("default", "never", recurse=False, full_info=False, split=False)


def test_tree_is_recursive_directories_first(populated: UserManager) -> None:
    populated.write(populated.writable("default", "r/C.json", overwrite=True), b"")
    tree = populated.tree("default", "r")
    assert [(e["path"], e["type"]) for e in tree] == [
        ("r/sub/deep", "directory"), ("r/sub", "directory"), ("r/.hidden", "file"), ("r/a.json", "file"),
        ("r/sub/b.json", "file"), ("r/C.json", "file"), ("r/sub/deep/c.txt", "file")]
    assert list(tree[0]) == ["name", "path", "type"]
    assert tree[3] == {"name": "a.json", "path": "r/a.json", "type": "file", "size": 2,
                       "modified": tree[3]["modified"]}


def test_tree_of_a_new_user(multi: UserManager) -> None:
    user = multi.add_user("new")
    assert multi.tree(user, "") == []
    with pytest.raises(UserdataNotFound):
        multi.tree(user, "sub")


def test_tree_errors(populated: UserManager) -> None:
    with pytest.raises(NotADirectory):
        populated.tree("default", "r/a.json")
    with pytest.raises(PathOutsideRoot):
        populated.tree("default", "..")
