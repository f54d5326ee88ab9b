"""The node catalog: built-in definitions, our prose, live file lists, captured catalogs."""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakecomfy import Settings
from fakecomfy.core.catalog import CatalogError, NodeCatalog, builtin
from fakecomfy.core.paths import FolderPaths
from tests.conftest import SHARED

INTERFACE = SHARED / "fixtures" / "object_info_0.8.0_interface.json"
GOLDEN = SHARED / "golden" / "object_info_core.json"
needs_shared = pytest.mark.skipif(not (INTERFACE.is_file() and GOLDEN.is_file()),
                                  reason="the shared ComfyUI fixtures are not present")

MakeCatalog = Callable[..., NodeCatalog]


@pytest.fixture
def make_catalog(base_dir: Path) -> MakeCatalog:
    def make(*extra_files: Path, base: Path = base_dir) -> NodeCatalog:
        paths = FolderPaths.from_settings(Settings(base_directory=base), base)
        paths.create_dirs()
        return NodeCatalog(paths, list(extra_files))

    return make


@pytest.fixture
def catalog(make_catalog: MakeCatalog) -> NodeCatalog:
    return make_catalog()


def combo_options(catalog: NodeCatalog, class_type: str, name: str) -> list[Any]:
    node = catalog.node(class_type)
    assert node is not None, class_type
    for section in ("required", "optional"):
        spec = node["input"].get(section, {}).get(name)
        if spec is not None:
            return list(spec[0]) if isinstance(spec[0], list) else list(spec[1]["options"])
    raise AssertionError(f"{class_type} has no input {name}")


def without_prose(nodes: dict[str, Any]) -> dict[str, Any]:
    """The interface facts only, the way the comparator sees them: each node's description,
    every tooltip and the output tooltips replaced by their JSON type; key order kept."""
    out: dict[str, Any] = {}
    for name, node in nodes.items():
        facts = _tooltips_typed(node)
        facts["description"] = type(node["description"]).__name__
        if isinstance(node.get("output_tooltips"), list):
            facts["output_tooltips"] = [type(t).__name__ for t in node["output_tooltips"]]
        out[name] = facts
    return out


def _tooltips_typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: type(v).__name__ if k == "tooltip" else _tooltips_typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tooltips_typed(v) for v in value]
    return value


def without_file_lists(nodes: dict[str, Any], live: dict[str, dict[str, str]]) -> dict[str, Any]:
    nodes = json.loads(json.dumps(nodes))
    for class_type, inputs in live.items():
        node = nodes.get(class_type)
        for specs in (node or {}).get("input", {}).values():
            for name in inputs:
                if isinstance(specs, dict) and name in specs:
                    spec = specs[name]
                    if isinstance(spec[0], list):
                        spec[0] = []
                    else:
                        spec[1]["options"] = []
    return nodes


# ---- the built-in catalog ---------------------------------------------------------------------
def test_builtin_catalog_lists_all_545_nodes_in_comfyui_order(catalog: NodeCatalog) -> None:
    names = catalog.class_types()
    assert len(names) == len(catalog) == 545
    assert names[:4] == ["KSampler", "CheckpointLoaderSimple", "CLIPTextEncode", "CLIPSetLastLayer"]
    assert "SaveImageWebsocket" in catalog and "NoSuchNode" not in catalog


@needs_shared
def test_data_matches_the_interface_capture_except_prose_and_file_lists() -> None:
    source = json.loads(INTERFACE.read_text(encoding="utf-8"))
    nodes, live = builtin()
    ours = json.dumps(without_prose(without_file_lists(nodes, live)))
    theirs = json.dumps(without_prose(without_file_lists(source, live)))
    assert ours == theirs  # as strings: key order counts


def test_every_piece_of_prose_is_ours_and_not_empty() -> None:
    nodes, _ = builtin()
    for name, node in nodes.items():
        assert isinstance(node["description"], str) and node["description"], name
        for tooltip in node.get("output_tooltips") or []:
            assert tooltip is None or tooltip, name
        for section, specs in node["input"].items():
            for input_name, spec in specs.items():
                if section != "hidden" and len(spec) > 1 and "tooltip" in spec[1]:
                    assert isinstance(spec[1]["tooltip"], str) and spec[1]["tooltip"], (name, input_name)


@needs_shared
def test_no_comfyui_prose_is_copied() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    theirs: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in ("description", "tooltip") and isinstance(v, str) and len(v) > 20:
                    theirs.add(v)
                elif k == "output_tooltips":
                    theirs.update(t for t in v if isinstance(t, str) and len(t) > 20)
                else:
                    collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect([step["response"].get("json") for step in golden["steps"]])
    assert len(theirs) > 10
    data = json.dumps(builtin()[0], ensure_ascii=False)
    assert [t for t in theirs if t in data] == []


# ---- the golden transcript ----------------------------------------------------------------------
@needs_shared
def test_golden_nodes_match_field_for_field(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    base = tmp_path / "recording"
    shutil.copytree(SHARED / "fixtures" / "models", base / "models")
    catalog = make_catalog(base=base)
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    compared = 0
    for step in golden["steps"]:
        name = step["request"]["path"].rsplit("/", 1)[1]
        want = step["response"]["json"]
        got = catalog.node(name)
        assert json.dumps(without_prose({name: got} if got is not None else {})) == json.dumps(without_prose(want))
        compared += 1
    assert compared == 6


# ---- live file lists ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("class_type", "input_name", "directory", "filename"),
    [
        ("CheckpointLoaderSimple", "ckpt_name", "checkpoints", "new.safetensors"),
        ("CheckpointLoader", "config_name", "configs", "my-own-config.yaml"),
        ("LoraLoader", "lora_name", "loras", "sub/style.safetensors"),
        ("CreateHookLoraModelOnly", "lora_name", "loras", "style.pt"),
        ("CLIPLoader", "clip_name", "clip", "legacy_clip.safetensors"),
        ("QuadrupleCLIPLoader", "clip_name4", "text_encoders", "llama.safetensors"),
        ("UNETLoader", "unet_name", "unet", "legacy_unet.safetensors"),
        ("DiffControlNetLoader", "control_net_name", "t2i_adapter", "adapter.pth"),
        ("UpscaleModelLoader", "model_name", "upscale_models", "2x.pth"),
        ("HypernetworkLoader", "hypernetwork_name", "hypernetworks", "h.pt"),
        ("ModelPatchLoader", "name", "model_patches", "patch.safetensors"),
        ("GLIGENLoader", "gligen_name", "gligen", "g.safetensors"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." not in v else None,
)
def test_an_empty_model_file_dropped_into_its_folder_is_offered(
    catalog: NodeCatalog, base_dir: Path, class_type: str, input_name: str, directory: str, filename: str
) -> None:
    assert filename not in combo_options(catalog, class_type, input_name)
    target = base_dir / "models" / directory / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")
    options = combo_options(catalog, class_type, input_name)
    assert filename in options and options == sorted(options)
    assert json.dumps(filename) in json.dumps(catalog.object_info()[class_type])


def test_file_with_a_foreign_extension_is_not_a_model(catalog: NodeCatalog, base_dir: Path) -> None:
    (base_dir / "models" / "loras" / "readme.txt").write_text("x")
    assert "readme.txt" not in combo_options(catalog, "LoraLoader", "lora_name")


def test_vae_loader_offers_files_then_complete_tiny_vaes_then_pixel_space(catalog: NodeCatalog, base_dir: Path) -> None:
    approx = base_dir / "models" / "vae_approx"
    (approx / "taesd_decoder.safetensors").write_bytes(b"")
    (approx / "taesdxl_decoder.pth").write_bytes(b"")
    (approx / "taesdxl_encoder.pth").write_bytes(b"")
    (approx / "taehv.safetensors").write_bytes(b"")
    vaes = sorted(p.name for p in (base_dir / "models" / "vae").iterdir())
    assert combo_options(catalog, "VAELoader", "vae_name") == [*vaes, "taehv.safetensors", "taesdxl", "pixel_space"]
    (approx / "taesd_encoder.safetensors").write_bytes(b"")
    assert combo_options(catalog, "VAELoader", "vae_name")[-3:] == ["taesd", "taesdxl", "pixel_space"]


def test_vae_loader_keeps_its_options_free_spec(catalog: NodeCatalog) -> None:
    node = catalog.node("VAELoader")
    assert node is not None
    assert len(node["input"]["required"]["vae_name"]) == 1


def test_train_lora_appends_none_to_the_loras(catalog: NodeCatalog, base_dir: Path) -> None:
    loras = sorted(p.name for p in (base_dir / "models" / "loras").iterdir())
    assert combo_options(catalog, "TrainLoraNode", "existing_lora") == [*loras, "[None]"]


def test_diffusers_loader_offers_folders_holding_a_model_index(catalog: NodeCatalog, base_dir: Path) -> None:
    root = base_dir / "models" / "diffusers"
    (root / "sd15" / "unet").mkdir(parents=True)
    (root / "sd15" / "model_index.json").write_text("{}")
    (root / "not_a_model").mkdir()
    assert combo_options(catalog, "DiffusersLoader", "model_path") == ["sd15"]


def test_load_image_lists_top_level_images_and_load_image_mask_every_file(catalog: NodeCatalog, base_dir: Path) -> None:
    inp = base_dir / "input"
    (inp / "b.webp").write_bytes(b"")
    (inp / "a.JPG").write_bytes(b"")
    (inp / "notes.txt").write_text("x")
    (inp / "sub").mkdir()
    (inp / "sub" / "nested.png").write_bytes(b"")
    assert combo_options(catalog, "LoadImage", "image") == ["a.JPG", "b.webp", "example.png"]
    assert combo_options(catalog, "LoadImageMask", "image") == ["a.JPG", "b.webp", "example.png", "notes.txt"]


def test_other_input_folder_lists(catalog: NodeCatalog, base_dir: Path) -> None:
    inp = base_dir / "input"
    (inp / "z.latent").write_bytes(b"")
    (inp / "clip.mp4").write_bytes(b"")
    (inp / "3d" / "cars").mkdir(parents=True)
    (inp / "3d" / "cars" / "car.GLB").write_bytes(b"")
    (inp / "3d" / "readme.md").write_text("x")
    (inp / "faces" / "left").mkdir(parents=True)
    assert combo_options(catalog, "LoadLatent", "latent") == ["z.latent"]
    assert combo_options(catalog, "LoadVideo", "file") == ["clip.mp4"]
    assert combo_options(catalog, "Load3D", "model_file") == ["3d/cars/car.GLB"]
    assert combo_options(catalog, "LoadImageDataSetFromFolder", "folder") == ["3d", "3d/cars", "faces", "faces/left"]


def test_catalog_creates_the_3d_input_folder_like_comfyui(catalog: NodeCatalog, base_dir: Path) -> None:
    assert (base_dir / "input" / "3d").is_dir()
    assert combo_options(catalog, "LoadImageTextDataSetFromFolder", "folder") == ["3d"]


def test_document_inputs_default_to_their_first_file(catalog: NodeCatalog, base_dir: Path) -> None:
    node = catalog.node("OpenAIInputFiles")
    assert node is not None and list(node["input"]["required"]["file"][1]) == ["tooltip", "multiselect", "options"]
    (base_dir / "input" / "b.pdf").write_bytes(b"%PDF")
    (base_dir / "input" / "a.txt").write_text("hello")
    (base_dir / "input" / "c.doc").write_text("x")
    spec = catalog.node("GeminiInputFiles")["input"]["required"]["file"]  # type: ignore[index]
    assert list(spec[1]) == ["tooltip", "default", "multiselect", "options"]
    assert spec[1]["default"] == "a.txt" and spec[1]["options"] == ["a.txt", "b.pdf"]


# ---- caching ------------------------------------------------------------------------------------
def test_bytes_are_json_dumps_of_the_document(catalog: NodeCatalog) -> None:
    data = catalog.object_info_bytes()
    assert data == json.dumps(json.loads(data)).encode()
    assert catalog.object_info() == json.loads(data)


def test_cached_document_is_reused_until_a_directory_changes(catalog: NodeCatalog, base_dir: Path) -> None:
    old = time.time() - 3600
    for d in [base_dir, *(p for p in base_dir.rglob("*") if p.is_dir())]:
        os.utime(d, (old, old))
    first = catalog.object_info_bytes()
    assert catalog.object_info_bytes() is first
    (base_dir / "models" / "checkpoints" / "zz_new.safetensors").write_bytes(b"")
    second = catalog.object_info_bytes()
    assert second is not first and b'"zz_new.safetensors"' in second
    assert b'"zz_new.safetensors"' not in first


def test_a_change_inside_a_subfolder_is_seen(catalog: NodeCatalog, base_dir: Path) -> None:
    sub = base_dir / "models" / "loras" / "styles"
    sub.mkdir()
    old = time.time() - 3600
    for d in [base_dir, *(p for p in base_dir.rglob("*") if p.is_dir())]:
        os.utime(d, (old, old))
    assert b"styles/ink.safetensors" not in catalog.object_info_bytes()
    (sub / "ink.safetensors").write_bytes(b"")
    assert b'"styles/ink.safetensors"' in catalog.object_info_bytes()


def test_node_returns_a_fresh_copy(catalog: NodeCatalog) -> None:
    node = catalog.node("KSampler")
    assert node is not None
    node["input"]["required"].clear()
    assert catalog.node("KSampler")["input"]["required"]  # type: ignore[index]
    assert catalog.node("NoSuchNode") is None


# ---- captured catalogs --------------------------------------------------------------------------
def write_capture(path: Path, nodes: dict[str, Any]) -> Path:
    path.write_text(json.dumps(nodes), encoding="utf-8")
    return path


def custom_node(name: str, **fields: Any) -> dict[str, Any]:
    node = {
        "input": {"required": {"style": [["ink", "oil"], {"tooltip": "Style."}]}},
        "input_order": {"required": ["style"]},
        "output": ["IMAGE"], "output_is_list": [False], "output_name": ["IMAGE"],
        "name": name, "display_name": name, "description": "", "python_module": "custom_nodes.demo",
        "category": "demo", "output_node": False,
    }
    node.update(fields)
    return node


def test_captured_nodes_are_added_after_the_builtin_ones(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    catalog = make_catalog(write_capture(tmp_path / "a.json", {"DemoNode": custom_node("DemoNode")}))
    assert len(catalog) == 546 and catalog.class_types()[-1] == "DemoNode"
    assert combo_options(catalog, "DemoNode", "style") == ["ink", "oil"]
    assert catalog.node("DemoNode")["python_module"] == "custom_nodes.demo"  # type: ignore[index]


def test_captured_node_replaces_the_builtin_in_place_and_later_files_win(make_catalog: MakeCatalog,
                                                                         tmp_path: Path) -> None:
    first = write_capture(tmp_path / "a.json", {"KSampler": custom_node("KSampler", display_name="Mine")})
    second = write_capture(tmp_path / "b.json", {"KSampler": custom_node("KSampler", display_name="Theirs")})
    catalog = make_catalog(first, second)
    assert catalog.class_types()[0] == "KSampler"
    assert catalog.node("KSampler")["display_name"] == "Theirs"  # type: ignore[index]
    assert json.loads(catalog.object_info_bytes())["KSampler"]["display_name"] == "Theirs"


def test_captured_file_lists_become_live_only_where_known(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    stale = custom_node("CheckpointLoaderSimple")
    stale["input"] = {"required": {"ckpt_name": [["their_machine.safetensors"], {"tooltip": "t"}]}}
    own = custom_node("DemoLoader")
    own["input"] = {"required": {"ckpt_name": [["their_machine.safetensors"]]}}
    catalog = make_catalog(write_capture(tmp_path / "a.json", {"CheckpointLoaderSimple": stale, "DemoLoader": own}))
    assert "their_machine.safetensors" not in combo_options(catalog, "CheckpointLoaderSimple", "ckpt_name")
    assert "sd_xl_base_1.0.safetensors" in combo_options(catalog, "CheckpointLoaderSimple", "ckpt_name")
    assert combo_options(catalog, "DemoLoader", "ckpt_name") == ["their_machine.safetensors"]


def test_captured_input_that_is_no_longer_a_combo_is_served_as_captured(make_catalog: MakeCatalog,
                                                                        tmp_path: Path) -> None:
    changed = custom_node("LoraLoader")
    changed["input"] = {"required": {"lora_name": ["STRING", {"default": "x"}]}}
    catalog = make_catalog(write_capture(tmp_path / "a.json", {"LoraLoader": changed}))
    assert catalog.node("LoraLoader")["input"]["required"]["lora_name"] == ["STRING", {"default": "x"}]  # type: ignore[index]


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "expected a JSON object"), ("{not json", "cannot read"),
     ('{"X": {"output": []}}', "no 'input' object")],
    ids=["list", "not-json", "not-a-node"],
)
def test_unusable_capture_fails_loudly(make_catalog: MakeCatalog, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        make_catalog(path)


def test_missing_capture_fails_loudly(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        make_catalog(tmp_path / "absent.json")
