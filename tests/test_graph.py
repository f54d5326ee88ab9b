"""Execution order and cache keys, checked against the orders observed on real ComfyUI."""
from __future__ import annotations

from typing import Any

import pytest

from fakecomfy.executors.graph import ExecutionPlan, input_signatures

OUTPUT_CLASSES = {"SaveImage", "PreviewImage"}


def order(prompt: dict[str, Any], outputs: list[str], cached: frozenset[str] = frozenset()) -> list[str]:
    plan = ExecutionPlan(prompt, outputs, lambda n: prompt[n]["class_type"] in OUTPUT_CLASSES,
                         lambda n: n in cached)
    out = []
    while plan.has_pending():
        node = plan.next()
        assert node is not None
        out.append(node)
        plan.complete(node)
    return out


def n(cls: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": cls, "inputs": inputs}


def txt2img(ids: dict[str, str] | None = None) -> dict[str, Any]:
    i = ids or {k: k for k in "3456789"}
    return {
        i["3"]: n("KSampler", seed=1, steps=2, cfg=8, sampler_name="euler", scheduler="normal", denoise=1,
                  model=[i["4"], 0], positive=[i["6"], 0], negative=[i["7"], 0], latent_image=[i["5"], 0]),
        i["4"]: n("CheckpointLoaderSimple", ckpt_name="x.safetensors"),
        i["5"]: n("EmptyLatentImage", width=64, height=64, batch_size=1),
        i["6"]: n("CLIPTextEncode", text="a cat", clip=[i["4"], 1]),
        i["7"]: n("CLIPTextEncode", text="bad", clip=[i["4"], 1]),
        i["8"]: n("VAEDecode", samples=[i["3"], 0], vae=[i["4"], 2]),
        i["9"]: n("SaveImage", filename_prefix="x", images=[i["8"], 0]),
    }


def test_txt2img_runs_negative_prompt_before_positive() -> None:
    assert order(txt2img(), ["9"]) == ["4", "5", "7", "6", "3", "8", "9"]


def test_string_ids_listed_output_first_give_the_same_order() -> None:
    ids = {"9": "SaveImage.0", "8": "VAEDecode.0", "3": "KSampler.0", "7": "CLIPTextEncode.1",
           "6": "CLIPTextEncode.0", "5": "EmptyLatentImage.0", "4": "CheckpointLoaderSimple.0"}
    prompt = dict(reversed(list(txt2img(ids).items())))
    assert order(prompt, ["SaveImage.0"]) == ["CheckpointLoaderSimple.0", "EmptyLatentImage.0", "CLIPTextEncode.1",
                                               "CLIPTextEncode.0", "KSampler.0", "VAEDecode.0", "SaveImage.0"]


def test_img2img_encodes_the_image_before_both_text_encoders() -> None:
    prompt = {
        "1": n("CheckpointLoaderSimple", ckpt_name="x"),
        "2": n("LoadImage", image="example.png"),
        "3": n("VAEEncode", pixels=["2", 0], vae=["1", 2]),
        "4": n("CLIPTextEncode", text="p", clip=["1", 1]),
        "5": n("CLIPTextEncode", text="n", clip=["1", 1]),
        "6": n("KSampler", model=["1", 0], positive=["4", 0], negative=["5", 0], latent_image=["3", 0]),
        "7": n("VAEDecode", samples=["6", 0], vae=["1", 2]),
        "8": n("SaveImage", images=["7", 0]),
    }
    assert order(prompt, ["8"]) == ["1", "2", "3", "5", "4", "6", "7", "8"]


def test_hires_fix_previews_the_first_pass_before_upscaling() -> None:
    prompt = txt2img()
    prompt["10"] = n("VAEDecode", samples=["3", 0], vae=["4", 2])
    prompt["11"] = n("PreviewImage", images=["10", 0])
    prompt["12"] = n("LatentUpscaleBy", samples=["3", 0], upscale_method="nearest-exact", scale_by=1.5)
    prompt["13"] = n("KSampler", model=["4", 0], positive=["6", 0], negative=["7", 0], latent_image=["12", 0])
    prompt["8"] = n("VAEDecode", samples=["13", 0], vae=["4", 2])
    assert order(prompt, ["9", "11"]) == ["4", "5", "7", "6", "3", "10", "11", "12", "13", "8", "9"]


@pytest.mark.parametrize(("first_key", "expected"), [("destination", ["2", "1", "3", "4"]),
                                                      ("source", ["1", "2", "3", "4"])])
def test_order_of_input_keys_decides_ties(first_key: str, expected: list[str]) -> None:
    links = {"destination": ["1", 0], "source": ["2", 0]}
    second = "source" if first_key == "destination" else "destination"
    composite = {"class_type": "ImageCompositeMasked",
                 "inputs": {first_key: links[first_key], second: links[second], "x": 0, "y": 0}}
    prompt = {"1": n("EmptyImage"), "2": n("EmptyImage"), "3": composite, "4": n("PreviewImage", images=["3", 0])}
    assert order(prompt, ["4"]) == expected


def test_unused_branches_never_run_and_cached_producers_are_skipped() -> None:
    prompt = txt2img()
    prompt["20"] = n("EmptyImage")
    assert "20" not in order(prompt, ["9"])
    assert order(prompt, ["9"], cached=frozenset({"4", "5", "6", "7"})) == ["3", "8", "9"]


def test_cache_keys_follow_inputs_not_ids() -> None:
    a = {"1": n("EmptyImage", width=64), "2": n("SaveImage", images=["1", 0])}
    b = {"7": n("EmptyImage", width=64), "8": n("SaveImage", images=["7", 0])}
    c = {"1": n("EmptyImage", width=65), "2": n("SaveImage", images=["1", 0])}

    def keys(p: dict[str, Any]) -> dict[str, str]:
        return input_signatures(p, lambda _: None, lambda _: False)

    assert keys(a)["2"] == keys(b)["8"]
    assert keys(a)["1"] != keys(c)["1"] and keys(a)["2"] != keys(c)["2"]
    by_id = input_signatures(a, lambda _: None, lambda nid: nid == "1")
    assert by_id["1"] != keys(a)["1"]
