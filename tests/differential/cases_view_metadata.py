"""``GET /view_metadata/{folder_name}?filename=``: which names find a model file (real ComfyUI
roots every name at ``/`` and takes the path relative to it, so leading slashes and ``..``
segments never leave the folder), the folder names, and what a name that is no file answers."""
from __future__ import annotations

from tests.differential.harness import Step


def meta(name: str, query: str, folder: str = "checkpoints", body: str = "text", prefix: str = "") -> Step:
    return Step(name, "GET", f"{prefix}/view_metadata/{folder}{query}", body=body)


STEPS = [
    meta("plain", "?filename=fake.safetensors"),
    meta("plain_other_file", "?filename=random_sd15.safetensors"),
    meta("api_prefix", "?filename=fake.safetensors", prefix="/api"),
    # ---- names rooted at / ----------------------------------------------------------------
    meta("leading_slash", "?filename=/fake.safetensors"),
    meta("two_leading_slashes", "?filename=//fake.safetensors"),
    meta("three_leading_slashes", "?filename=///fake.safetensors"),
    meta("dotdot_encoded", "?filename=..%2Ffake.safetensors"),
    meta("dotdot_plain", "?filename=../fake.safetensors"),
    meta("dotdot_all_encoded", "?filename=%2E%2E%2Ffake.safetensors"),
    meta("dotdot_twice", "?filename=../../fake.safetensors"),
    meta("dotdot_into_same_folder", "?filename=../checkpoints/fake.safetensors"),
    meta("dotdot_up_to_models", "?filename=../../models/checkpoints/fake.safetensors"),
    meta("inner_dotdot", "?filename=sub/../fake.safetensors"),
    meta("dot_segment", "?filename=./fake.safetensors"),
    meta("inner_double_slash", "?filename=.//fake.safetensors"),
    meta("missing_subfolder", "?filename=sub/fake.safetensors"),
    meta("absolute_path_of_the_file", "?filename=/work/ref/base/models/checkpoints/fake.safetensors"),
    meta("backslash", "?filename=..%5Cfake.safetensors"),
    meta("leading_backslash", "?filename=%5Cfake.safetensors"),
    meta("long_name", "?filename=" + "n" * 300 + ".safetensors"),
    meta("long_path", "?filename=" + "/".join(["d" * 200] * 30) + ".safetensors"),
    meta("nul_in_name", "?filename=fake%00.safetensors"),
    meta("nul_at_end", "?filename=fake.safetensors%00"),
    meta("plus_in_name", "?filename=fake+.safetensors"),
    # ---- the filename parameter -------------------------------------------------------------
    meta("missing_filename", ""),
    meta("empty_filename", "?filename="),
    meta("filename_without_value", "?filename"),
    meta("other_parameter_only", "?name=fake.safetensors"),
    meta("upper_case_extension", "?filename=fake.SAFETENSORS"),
    meta("no_extension", "?filename=fake"),
    meta("just_the_extension", "?filename=.safetensors"),
    meta("not_a_model_file", "?filename=example.png"),
    meta("input_file_by_traversal", "?filename=../../input/example.png"),
    meta("repeated_first_missing", "?filename=nope.safetensors&filename=fake.safetensors"),
    meta("repeated_first_found", "?filename=fake.safetensors&filename=nope.safetensors"),
    meta("filename_upper_case_key", "?FILENAME=fake.safetensors"),
    # ---- folder names ------------------------------------------------------------------------
    meta("folder_loras", "?filename=fake.safetensors", folder="loras"),
    meta("folder_vae", "?filename=fake.safetensors", folder="vae"),
    meta("folder_unet_legacy", "?filename=fake.safetensors", folder="unet"),
    meta("folder_clip_legacy", "?filename=fake.safetensors", folder="clip"),
    meta("folder_unknown", "?filename=fake.safetensors", folder="nope"),
    meta("folder_upper_case", "?filename=fake.safetensors", folder="CHECKPOINTS"),
    meta("folder_encoded_letter", "?filename=fake.safetensors", folder="check%70oints"),
    meta("folder_dotdot_encoded", "?filename=fake.safetensors", folder="..%2Fcheckpoints"),
    meta("folder_empty", "?filename=fake.safetensors", folder=""),
    meta("folder_trailing_slash", "?filename=fake.safetensors", folder="checkpoints/"),
    meta("folder_with_subpath", "?filename=fake.safetensors", folder="checkpoints/x"),
    meta("folder_custom_nodes", "?filename=fake.safetensors", folder="custom_nodes"),
    meta("folder_configs", "?filename=fake.safetensors", folder="configs"),
]
