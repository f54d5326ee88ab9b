"""Build ``fakecomfy/data/core_nodes.json`` from the shared interface capture of ComfyUI 0.8.0.

    python tools/build_catalog.py [--source ../shared/fixtures/object_info_0.8.0_interface.json]

The source is a real ``/object_info`` with every description and tooltip blanked. Everything in
it is kept field for field and in the same key order; only the prose is ours: each
``description``, each ``tooltip`` key and each string in ``output_tooltips`` gets a short text
written here (hand-written for the common nodes, generated from the interface facts otherwise).
Combo inputs that real ComfyUI fills from directories are stored empty and named in
``live_inputs`` with the source that feeds them; ``fakecomfy.core.catalog`` fills them at run time.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "fixtures" / "object_info_0.8.0_interface.json"
TARGET = ROOT / "fakecomfy" / "data" / "core_nodes.json"
COMFYUI_VERSION = "0.8.0"

# (node, input) -> live source, in the vocabulary of fakecomfy.core.catalog.LIVE_SOURCES.
# Nodes missing from the built-in catalog (the audio modules did not import on the recording
# machine) are listed too, so that a captured catalog that has them gets live lists.
_MODEL_FOLDER_INPUTS: dict[str, dict[str, str]] = {
    "checkpoints": {
        "CheckpointLoaderSimple": "ckpt_name", "CheckpointLoader": "ckpt_name",
        "unCLIPCheckpointLoader": "ckpt_name", "ImageOnlyCheckpointLoader": "ckpt_name",
        "CreateHookModelAsLora": "ckpt_name", "CreateHookModelAsLoraModelOnly": "ckpt_name",
        "LTXVAudioVAELoader": "ckpt_name", "LTXAVTextEncoderLoader": "ckpt_name",
    },
    "configs": {"CheckpointLoader": "config_name"},
    "loras": {"LoraLoader": "lora_name", "LoraLoaderModelOnly": "lora_name",
              "CreateHookLora": "lora_name", "CreateHookLoraModelOnly": "lora_name"},
    "text_encoders": {"CLIPLoader": "clip_name", "LTXAVTextEncoderLoader": "text_encoder"},
    "diffusion_models": {"UNETLoader": "unet_name"},
    "controlnet": {"ControlNetLoader": "control_net_name", "DiffControlNetLoader": "control_net_name"},
    "style_models": {"StyleModelLoader": "style_model_name"},
    "clip_vision": {"CLIPVisionLoader": "clip_name"},
    "gligen": {"GLIGENLoader": "gligen_name"},
    "upscale_models": {"UpscaleModelLoader": "model_name"},
    "hypernetworks": {"HypernetworkLoader": "hypernetwork_name"},
    "photomaker": {"PhotoMakerLoader": "photomaker_model_name"},
    "latent_upscale_models": {"LatentUpscaleModelLoader": "model_name"},
    "model_patches": {"ModelPatchLoader": "name"},
    "audio_encoders": {"AudioEncoderLoader": "audio_encoder_name"},
}
_MULTI_CLIP = {"DualCLIPLoader": 2, "TripleCLIPLoader": 3, "QuadrupleCLIPLoader": 4}
_SPECIAL_INPUTS: dict[tuple[str, str], str] = {
    ("VAELoader", "vae_name"): "vae_loader",
    ("TrainLoraNode", "existing_lora"): "loras_or_none",
    ("DiffusersLoader", "model_path"): "diffusers",
    ("LoadImage", "image"): "input_images",
    ("LoadImageMask", "image"): "input_files",
    ("LoadVideo", "file"): "input_videos",
    ("LoadAudio", "audio"): "input_audio",
    ("LoadLatent", "latent"): "input_latents",
    ("Load3D", "model_file"): "input_3d",
    ("LoadImageDataSetFromFolder", "folder"): "input_subfolders",
    ("LoadImageTextDataSetFromFolder", "folder"): "input_subfolders",
    ("OpenAIInputFiles", "file"): "input_documents_32mb",
    ("GeminiInputFiles", "file"): "input_documents_20mb",
}


def live_inputs() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for folder, nodes in _MODEL_FOLDER_INPUTS.items():
        for node, name in nodes.items():
            table.setdefault(node, {})[name] = f"models/{folder}"
    for node, count in _MULTI_CLIP.items():
        for i in range(1, count + 1):
            table.setdefault(node, {})[f"clip_name{i}"] = "models/text_encoders"
    for (node, name), source in _SPECIAL_INPUTS.items():
        table.setdefault(node, {})[name] = source
    return dict(sorted(table.items()))


# ---- prose ------------------------------------------------------------------------------------
# Our own descriptions of the nodes people meet first.
DESCRIPTIONS: dict[str, str] = {
    "KSampler": "Denoises a latent with the given model, pulling it towards the positive prompt "
                "and away from the negative one over a number of sampling steps.",
    "KSamplerAdvanced": "A sampler with control over the step range: start and stop part-way, "
                        "add noise or not, and hand leftover noise to a following sampler.",
    "CheckpointLoaderSimple": "Reads a checkpoint file from the checkpoints folder and splits it "
                              "into its diffusion model, text encoder (CLIP) and VAE.",
    "CheckpointLoader": "Loads a checkpoint together with an explicit model config file.",
    "CLIPTextEncode": "Turns prompt text into conditioning with a text encoder, ready to guide "
                      "a sampler.",
    "CLIPSetLastLayer": "Stops the text encoder early, at the chosen layer counted from the end.",
    "EmptyLatentImage": "Creates a batch of blank latents of the given pixel size, the usual "
                        "starting point for text-to-image.",
    "VAEDecode": "Converts latents back into pixel images with a VAE.",
    "VAEEncode": "Converts pixel images into latents with a VAE, for image-to-image work.",
    "VAEEncodeForInpaint": "Encodes an image into latents and marks the masked region to be "
                           "regenerated, growing the mask a little to blend the seams.",
    "VAELoader": "Loads a standalone VAE from the vae folder (or a built-in tiny or pixel-space one).",
    "VAEDecodeTiled": "Decodes latents tile by tile to keep memory use down on large images.",
    "SaveImage": "Writes the images as PNG files into the output folder and shows them in the UI.",
    "PreviewImage": "Shows the images in the UI, keeping them only as temporary files.",
    "LoadImage": "Loads a picture from the input folder, returning its pixels and its alpha "
                 "channel as a mask.",
    "LoadImageMask": "Loads one channel of a picture from the input folder as a mask.",
    "LoraLoader": "Applies a LoRA file to both the diffusion model and the text encoder, each "
                  "with its own strength.",
    "LoraLoaderModelOnly": "Applies a LoRA file to the diffusion model only.",
    "ControlNetLoader": "Loads a ControlNet (or T2I adapter) model from the controlnet folder.",
    "ControlNetApplyAdvanced": "Adds ControlNet guidance from a hint image to both positive and "
                               "negative conditioning, over a chosen part of the sampling schedule.",
    "ImageScale": "Resizes images to an exact width and height, optionally cropping to keep the "
                  "aspect ratio.",
    "ImageScaleBy": "Resizes images by a scale factor.",
    "UpscaleModelLoader": "Loads an upscaling network (ESRGAN and friends) from the "
                          "upscale_models folder.",
    "ImageUpscaleWithModel": "Enlarges images with a loaded upscaling network.",
    "LatentUpscale": "Resizes latents to a target pixel size.",
    "LatentUpscaleBy": "Resizes latents by a scale factor.",
    "ConditioningCombine": "Merges two conditionings so that the sampler follows both.",
    "ConditioningSetArea": "Restricts a conditioning to a rectangle of the image.",
    "ConditioningZeroOut": "Replaces a conditioning with zeros, an empty prompt for models that "
                           "expect one.",
    "ConditioningAverage": "Blends two conditionings with a weight.",
    "ImageInvert": "Inverts the colours of the images.",
    "ImageBlur": "Applies a Gaussian blur of the given radius and sigma.",
    "ImageSharpen": "Sharpens the images with an unsharp-mask style filter.",
    "EmptyImage": "Creates a batch of images filled with one solid colour.",
    "ImageBatch": "Joins two images into one batch, resizing the second to match the first.",
    "RepeatImageBatch": "Repeats the images to make a larger batch.",
    "MaskToImage": "Turns a mask into a greyscale image.",
    "ImageToMask": "Takes one colour channel of an image as a mask.",
    "ImageCompositeMasked": "Pastes one image onto another at a position, optionally through a mask.",
    "ImageCrop": "Cuts a rectangle out of the images.",
    "ImagePadForOutpaint": "Adds borders around the images and returns a mask of the new area, "
                           "for outpainting.",
    "UNETLoader": "Loads a diffusion model on its own from the diffusion_models folder.",
    "CLIPLoader": "Loads a text encoder on its own from the text_encoders folder.",
    "DualCLIPLoader": "Loads two text encoders that a model family uses together.",
    "CLIPVisionLoader": "Loads an image encoder (CLIP vision) from the clip_vision folder.",
    "CLIPVisionEncode": "Encodes an image with a CLIP vision model.",
    "SetLatentNoiseMask": "Attaches a mask to latents so that sampling only changes the masked part.",
    "InpaintModelConditioning": "Prepares conditioning and latents for inpainting models from an "
                                "image and a mask.",
    "LatentComposite": "Pastes one latent onto another at a position.",
    "SaveLatent": "Writes latents to a .latent file in the output folder.",
    "LoadLatent": "Reads latents back from a .latent file in the input folder.",
    "FluxGuidance": "Sets the distilled guidance strength that Flux models read from the conditioning.",
    "SamplerCustomAdvanced": "A sampler assembled from parts: noise source, guider, sampler and "
                             "sigma schedule.",
    "CheckpointSave": "Saves model, text encoder and VAE together as a checkpoint file.",
    "SaveImageWebsocket": "Sends the images to the client over the WebSocket as binary frames "
                          "instead of saving them.",
}

# Our own tooltips for input names that recur across many nodes: name -> (type it must have, text).
TOOLTIPS: dict[str, tuple[str | None, str]] = {
    "model": ("MODEL", "The diffusion model to use."),
    "clip": ("CLIP", "The text encoder to use."),
    "vae": ("VAE", "The VAE used to move between pixels and latents."),
    "seed": ("INT", "Seed for the random noise; the same seed gives the same result."),
    "noise_seed": ("INT", "Seed for the random noise; the same seed gives the same result."),
    "steps": ("INT", "How many sampling steps to run."),
    "cfg": ("FLOAT", "Classifier-free guidance scale: how strongly to follow the prompt."),
    "sampler_name": ("COMBO", "The sampling algorithm."),
    "scheduler": ("COMBO", "How the noise levels are spaced across the steps."),
    "positive": ("CONDITIONING", "Conditioning that describes what should appear."),
    "negative": ("CONDITIONING", "Conditioning that describes what should be avoided."),
    "latent_image": ("LATENT", "The latent to start from."),
    "denoise": ("FLOAT", "How much of the input to replace: 1.0 starts from pure noise."),
    "prompt": ("STRING", "The text prompt."),
    "negative_prompt": ("STRING", "Text describing what should not appear."),
    "text": ("STRING", "The text to encode."),
    "images": ("IMAGE", "The images to work on."),
    "image": ("IMAGE", "The image to work on."),
    "mask": ("MASK", "The mask to use."),
    "filename_prefix": ("STRING", "Start of the saved file names; may include a subfolder."),
    "width": ("INT", "Width in pixels."),
    "height": ("INT", "Height in pixels."),
    "batch_size": ("INT", "How many items to produce at once."),
    "ckpt_name": ("COMBO", "The checkpoint file to load."),
    "lora_name": ("COMBO", "The LoRA file to apply."),
    "strength_model": ("FLOAT", "How strongly the LoRA changes the diffusion model."),
    "strength_clip": ("FLOAT", "How strongly the LoRA changes the text encoder."),
    "strength": ("FLOAT", "How strong the effect is."),
    "aspect_ratio": (None, "Shape of the result, width to height."),
    "watermark": ("BOOLEAN", "Whether the service adds a watermark."),
    "start_percent": ("FLOAT", "Point in the schedule where the effect begins (0 to 1)."),
    "end_percent": ("FLOAT", "Point in the schedule where the effect ends (0 to 1)."),
}


def _type_name(spec: list[Any]) -> str:
    head = spec[0]
    if isinstance(head, list):
        return "COMBO"
    return str(head)


def _describe_inputs(node: dict[str, Any]) -> str:
    seen: list[str] = []
    for section in ("required", "optional"):
        for spec in node["input"].get(section, {}).values():
            t = _type_name(spec)
            if t not in seen:
                seen.append(t)
    return _join(seen)


def _join(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def node_description(name: str, node: dict[str, Any]) -> str:
    """Our description of ``node``: hand-written or generated from its interface."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    inputs = _describe_inputs(node)
    outputs = _join([str(o) for o in dict.fromkeys(_flat_types(node["output"]))])
    if inputs and outputs:
        text = f"Takes {inputs} and produces {outputs}."
    elif outputs:
        text = f"Produces {outputs}."
    elif inputs:
        text = f"Consumes {inputs} as an output node."
    else:
        text = "A node with no inputs or outputs."
    if node.get("api_node"):
        text += " Runs on a partner API service."
    if node.get("deprecated"):
        text += " Deprecated."
    category = node.get("category")
    if category:
        text += f" Category: {category}."
    return text


def _flat_types(outputs: list[Any]) -> list[str]:
    # An output type is a string, or a list of options for a combo output.
    return ["COMBO" if isinstance(o, list) else str(o) for o in outputs]


def input_tooltip(name: str, spec: list[Any]) -> str:
    t = _type_name(spec)
    known = TOOLTIPS.get(name)
    if known is not None and known[0] in (None, t):
        return known[1]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if t in ("INT", "FLOAT") and "min" in opts and "max" in opts:
        return f"The `{name}` value ({t}, {opts['min']} to {opts['max']})."
    if t == "COMBO":
        return f"Choose the `{name}` option."
    if t == "BOOLEAN":
        return f"Turns `{name}` on or off."
    return f"The `{name}` input ({t})."


def output_tooltip(node: dict[str, Any], index: int) -> str:
    names = node.get("output_name") or []
    types = _flat_types(node.get("output") or [])
    label = names[index] if index < len(names) else f"output {index}"
    kind = types[index] if index < len(types) else "value"
    if label == kind:
        return f"The resulting {kind}."
    return f"The `{label}` result ({kind})."


# ---- transformation -------------------------------------------------------------------------
def with_our_prose(name: str, node: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``node`` with the same keys in the same order and our prose in them."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            out[key] = node_description(name, node)
        elif key == "input":
            out[key] = {section: _section_with_tooltips(section, specs) for section, specs in value.items()}
        elif key == "output_tooltips" and isinstance(value, list):
            out[key] = [None if v is None else output_tooltip(node, i) for i, v in enumerate(value)]
        else:
            out[key] = value
    return out


def _section_with_tooltips(section: str, specs: dict[str, Any]) -> dict[str, Any]:
    if section == "hidden":
        return specs
    out: dict[str, Any] = {}
    for input_name, spec in specs.items():
        if len(spec) > 1 and isinstance(spec[1], dict) and "tooltip" in spec[1]:
            opts = {k: (input_tooltip(input_name, spec) if k == "tooltip" else v) for k, v in spec[1].items()}
            spec = [spec[0], opts, *spec[2:]]
        out[input_name] = spec
    return out


def emptied(node: dict[str, Any], live: dict[str, str]) -> dict[str, Any]:
    """``node`` with the file lists named in ``live`` emptied (they are the recording machine's)."""
    for section, specs in node["input"].items():
        if section == "hidden":
            continue
        for input_name in live:
            spec = specs.get(input_name)
            if spec is None:
                continue
            if isinstance(spec[0], list):
                spec[0] = []
            elif spec[0] == "COMBO" and isinstance(spec[1], dict) and "options" in spec[1]:
                spec[1]["options"] = []
            else:
                raise SystemExit(f"{node['name']}.{input_name} is not a combo: {spec!r}")
    return node


def build(source: dict[str, Any]) -> dict[str, Any]:
    live = live_inputs()
    nodes: dict[str, Any] = {}
    for name, node in source.items():
        rewritten = with_our_prose(name, node)
        nodes[name] = emptied(rewritten, live.get(name, {}))
    for name, inputs in live.items():
        if name in nodes:
            found = {n for section in nodes[name]["input"].values() for n in section}
            missing = set(inputs) - found
            if missing:
                raise SystemExit(f"live inputs {sorted(missing)} are not inputs of {name}")
    return {"comfyui_version": COMFYUI_VERSION, "live_inputs": live, "nodes": nodes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    source = json.loads(args.source.read_text(encoding="utf-8"))
    data = build(source)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(data['nodes'])} nodes ({len(text.encode()) // 1024} KiB) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
