"""Info routes: /system_stats, /features, /models, /embeddings, /experiment/models, /view_metadata."""
from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from fakecomfy.core.safetensors import build_file

REAL_FOLDERS = [
    "checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision",
    "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models",
    "latent_upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers",
    "model_patches", "audio_encoders",
]


def test_system_stats_has_the_real_shape(client: TestClient) -> None:
    body = client.get("/system_stats").json()
    assert list(body) == ["system", "devices"]
    assert list(body["system"]) == [
        "os", "ram_total", "ram_free", "comfyui_version", "required_frontend_version",
        "installed_templates_version", "required_templates_version", "python_version",
        "pytorch_version", "embedded_python", "argv",
    ]
    assert body["system"]["comfyui_version"] == "0.8.0"
    assert isinstance(body["system"]["ram_total"], int) and body["system"]["ram_total"] > 0
    device = body["devices"][0]
    assert device["name"] == "cpu" and device["type"] == "cpu" and device["index"] is None


def test_features_match_real_defaults(client: TestClient) -> None:
    r = client.get("/api/features")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.text == ('{"supports_preview_metadata": true, "max_upload_size": 104857600, '
                      '"extension": {"manager": {"supports_v4": true}}}')


def test_models_lists_the_21_folders_in_registration_order(client: TestClient) -> None:
    assert client.get("/models").json() == REAL_FOLDERS


def test_model_folder_lists_dropped_files_sorted_and_recursively(client: TestClient, base_dir: Path) -> None:
    (base_dir / "models" / "loras" / "sub").mkdir(parents=True)
    (base_dir / "models" / "loras" / "sub" / "b.safetensors").write_bytes(b"")
    (base_dir / "models" / "loras" / "a.pt").write_bytes(b"")
    (base_dir / "models" / "loras" / "notes.txt").write_bytes(b"")
    loras = client.get("/models/loras").json()
    assert "a.pt" in loras and "sub/b.safetensors" in loras and "notes.txt" not in loras
    assert loras == sorted(loras)


def test_text_encoders_include_the_legacy_clip_dir(client: TestClient, base_dir: Path) -> None:
    (base_dir / "models" / "clip").mkdir(exist_ok=True)
    (base_dir / "models" / "clip" / "old_clip.safetensors").write_bytes(b"")
    assert "old_clip.safetensors" in client.get("/models/text_encoders").json()


def test_unknown_model_folder_is_empty_404(client: TestClient) -> None:
    r = client.get("/models/no_such_folder")
    assert r.status_code == 404 and r.content == b"" and "content-type" not in r.headers


def test_default_directory_has_standard_workflow_models(client: TestClient) -> None:
    assert "v1-5-pruned-emaonly.ckpt" in client.get("/models/checkpoints").json()
    assert "sd_xl_base_1.0.safetensors" in client.get("/models/checkpoints").json()
    for folder in ("vae", "loras", "controlnet", "upscale_models"):
        assert client.get(f"/models/{folder}").json(), folder


def test_embeddings_are_names_without_extension(client: TestClient, base_dir: Path) -> None:
    assert client.get("/embeddings").json() == []
    (base_dir / "models" / "embeddings" / "easynegative.safetensors").write_bytes(b"")
    assert client.get("/embeddings").json() == ["easynegative"]


def test_experiment_models_excludes_configs_and_custom_nodes(client: TestClient, base_dir: Path) -> None:
    body = client.get("/experiment/models").json()
    names = [e["name"] for e in body]
    assert names == [n for n in REAL_FOLDERS if n not in ("configs", "custom_nodes")]
    ckpt = next(e for e in body if e["name"] == "checkpoints")
    root = base_dir.resolve()  # output/checkpoints too, where real's model-saving nodes write
    assert ckpt["folders"] == [str(root / "models" / "checkpoints"), str(root / "output" / "checkpoints")]


def test_experiment_model_files_report_size_and_path_index(client: TestClient) -> None:
    entries = client.get("/experiment/models/checkpoints").json()
    entry = next(e for e in entries if e["name"] == "sd_xl_base_1.0.safetensors")
    assert list(entry) == ["name", "pathIndex", "modified", "created", "size"]
    assert entry["pathIndex"] == 0 and entry["size"] > 8
    assert client.get("/experiment/models/nope").status_code == 404


def test_view_metadata_reads_the_header_only(client: TestClient, base_dir: Path) -> None:
    path = base_dir / "models" / "checkpoints" / "meta.safetensors"
    path.write_bytes(build_file({"w": [2]}, {"format": "pt", "note": "hi"}))
    r = client.get("/view_metadata/checkpoints", params={"filename": "meta.safetensors"})
    assert r.json() == {"format": "pt", "note": "hi"}


def test_view_metadata_404s(client: TestClient, base_dir: Path) -> None:
    (base_dir / "models" / "checkpoints" / "nometa.safetensors").write_bytes(build_file({"w": [1]}))
    (base_dir / "models" / "checkpoints" / "junk.safetensors").write_bytes(b"not a safetensors file")
    for folder, params in [
        ("checkpoints", {}),
        ("checkpoints", {"filename": "v1-5-pruned-emaonly.ckpt"}),
        ("checkpoints", {"filename": "missing.safetensors"}),
        ("nope", {"filename": "sd_xl_base_1.0.safetensors"}),
        ("checkpoints", {"filename": "nometa.safetensors"}),
        ("checkpoints", {"filename": "junk.safetensors"}),
        ("checkpoints", {"filename": "../loras/epiNoiseoffset_v2.safetensors"}),
    ]:
        r = client.get(f"/view_metadata/{folder}", params=params)
        assert r.status_code == 404 and r.content == b"", (folder, params)


def test_stock_empty_documents(client: TestClient) -> None:
    for path in ("/workflow_templates", "/i18n", "/global_subgraphs", "/api/i18n"):
        assert client.get(path).json() == {}
    assert client.get("/extensions").json() == []


def test_index_page_is_html_with_no_cache(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html"
    assert r.headers["cache-control"] == "no-cache"
    assert b"fakecomfy" in r.content


def test_model_configs_list_only_the_base_directory_like_a_fresh_install(client: TestClient, base_dir: Path) -> None:
    assert client.get("/models/configs").json() == []  # ComfyUI 0.8.0 ships no configs
    (base_dir / "models" / "configs" / "mine.yaml").write_text("x")
    assert client.get("/models/configs").json() == ["mine.yaml"]
    opts = client.get("/object_info/CheckpointLoader").json()["CheckpointLoader"]["input"]["required"]
    assert opts["config_name"][0] == ["mine.yaml"]
