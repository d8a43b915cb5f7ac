"""Write example_workflows/*.json (UI format) from compact graph specs and ComfyUI's node definitions.

Run: PYTHONPATH=tools .venv/bin/python tools/build_examples.py (the Makefile target `examples`).
Widget order, control_after_generate slots and output names come from the real node definitions, so
the files load in the frontend and convert to API prompts like hand-made ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import example_inputs
from hostkit import bootstrap

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "example_workflows"
INPUTS = OUT / "input"  # example input images; the server tests copy them into the server's input folder
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NOTE_TYPES = {"Note", "MarkdownNote"}  # frontend-only nodes (no /object_info entry): one text widget
EXTRA_HEIGHT = {"LoadImage": 260, "LRDM_Layout": 330}  # beyond the widgets: the image preview, the layout canvas

LAYOUT = json.dumps(
    {
        "version": 1,
        "objects": [
            {"phrase": "a red apple", "box": [0.06, 0.38, 0.46, 0.86]},
            {"phrase": "a blue cup", "box": [0.54, 0.22, 0.94, 0.86]},
        ],
    }
)
PROMPT = "a photo of a red apple and a blue cup on a wooden table"
NEG = "blurry, low quality"
METHOD: dict = {}  # the method inputs keep the node defaults (lrdm_core.config.PRESETS["plus"])
CKPT = {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}


def L(node: int, slot: int = 0) -> tuple:
    """A link from node `node`'s output `slot`."""
    return ("@", node, slot)


TOY_LAYOUT = json.dumps(
    {
        "version": 1,
        "background": "empty",
        "objects": [
            {"phrase": "a red circle", "box": [0.06, 0.5, 0.44, 0.94]},
            {"phrase": "a blue square", "box": [0.56, 0.06, 0.94, 0.44]},
        ],
    }
)  # "empty": the toy's caption of a bare scene
TOY_PROMPT = "a red circle and a blue square"

SDXL_LAYOUT = json.dumps(
    {
        "version": 1,
        "width": 1024,
        "height": 1024,
        "objects": [
            {"phrase": "a corgi", "box": [0.06, 0.42, 0.5, 0.94]},
            {"phrase": "a red ball", "box": [0.6, 0.64, 0.84, 0.88]},
            {"phrase": "a hot air balloon", "box": [0.56, 0.06, 0.9, 0.42]},
        ],
    }
)
SDXL_PROMPT = "a photo of a corgi and a red ball on a lawn, a hot air balloon in the sky"
SDXL_NOTE = (
    "SDXL: pick your SDXL checkpoint (e.g. sd_xl_base_1.0.safetensors) in Load Checkpoint. "
    "Draw the boxes in LRDM Layout (drag on the canvas, type the phrase) at SDXL sizes "
    "(1024x1024, 1152x896, ...); keep the layout's width/height equal to the latent's."
)

MASK_PHRASES = "a red apple\na blue cup"
MASK_NOTE = (
    "Instance masks from the mask editor: in each Load Image node load an image (any picture of "
    "the scene, or copy example_workflows/input/*.png of this pack into ComfyUI/input), right-click "
    "it > Open in MaskEditor, paint the region of one object and Save. Load Image's MASK output is "
    "the painted area. One Load Image per object, wired to mask_1, mask_2, ... of LRDM Layout from "
    "Masks, with one phrase per line in the same order. All masks must have the same size."
)

EDIT_LAYOUT = json.dumps(
    {
        "version": 1,
        "objects": [
            {"phrase": "a red apple", "box": list(example_inputs.APPLE_BOX)},
            {"phrase": "a blue cup", "box": [0.56, 0.3, 0.88, 0.74]},
        ],
    }
)
EDIT_NOTE = (
    "Image editing: Load Image gives the picture to change (scaled to the model's size). In LRDM "
    "Layout the apple's box sits where the apple is, the cup's box is where the new object goes: "
    "drag a box to move an object. denoise 0.5-0.7 keeps the rest of the picture (lower keeps "
    "more, higher follows the layout more)."
)

LORA_NOTE = (
    "LoRA and other patches: put your LoRA in ComfyUI/models/loras and pick it in Load LoRA. "
    "LRDM Apply Layout patches whatever model it gets (LoRA weights, Perturbed-Attention Guidance, "
    "FreeU, other attention patches) and the stock KSampler renders the layout; give it the LoRA's "
    "clip too, so the phrases are encoded as the prompts are."
)

EXAMPLES: dict[str, list[tuple]] = {
    # The small built-in model (what `make demo` runs): the same seed with and without LRDM.
    "lrdm_demo": [
        (1, "LRDM_ToyModelLoader", {}, 0),
        (2, "LRDM_LayoutFromJSON", {"json": TOY_LAYOUT}, 0),
        (3, "EmptyLatentImage", {"width": 64, "height": 64, "batch_size": 4}, 0),
        (
            4,
            "LRDM_Sampler",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(2),
                "prompt": TOY_PROMPT,
                "negative": "",
                "latent": L(3),
                "seed": 7,
                "steps": 25,
                "cfg": 4.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                **METHOD,
            },
            1,
        ),
        (5, "VAEDecode", {"samples": L(4), "vae": L(1, 2)}, 2),
        (6, "ImageScaleBy", {"image": L(5), "upscale_method": "nearest-exact", "scale_by": 4.0}, 2),
        (7, "SaveImage", {"images": L(6), "filename_prefix": "lrdm_demo_layout"}, 3),
        (8, "CLIPTextEncode", {"clip": L(1, 1), "text": TOY_PROMPT}, 1),
        (9, "CLIPTextEncode", {"clip": L(1, 1), "text": ""}, 1),
        (
            10,
            "KSampler",
            {
                "model": L(1),
                "positive": L(8),
                "negative": L(9),
                "latent_image": L(3),
                "seed": 7,
                "steps": 25,
                "cfg": 4.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
            1,
        ),
        (11, "VAEDecode", {"samples": L(10), "vae": L(1, 2)}, 2),
        (12, "ImageScaleBy", {"image": L(11), "upscale_method": "nearest-exact", "scale_by": 4.0}, 2),
        (13, "SaveImage", {"images": L(12), "filename_prefix": "lrdm_demo_plain"}, 3),
        (14, "LRDM_LayoutPreview", {"layout": L(2), "width": 256, "height": 256}, 2),
        (15, "SaveImage", {"images": L(14), "filename_prefix": "lrdm_demo_boxes"}, 3),
    ],
    # (id, class_type, inputs, column)
    "lrdm_sd15_basic": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (2, "LRDM_LayoutFromJSON", {"json": LAYOUT}, 0),
        (3, "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, 0),
        (
            4,
            "LRDM_Sampler",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(2),
                "prompt": PROMPT,
                "negative": NEG,
                "latent": L(3),
                "seed": 42,
                "steps": 30,
                "cfg": 7.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                **METHOD,
            },
            1,
        ),
        (5, "VAEDecode", {"samples": L(4), "vae": L(1, 2)}, 2),
        (6, "SaveImage", {"images": L(5), "filename_prefix": "lrdm_basic"}, 3),
        (7, "LRDM_LayoutPreview", {"layout": L(2), "width": 512, "height": 512}, 2),
        (8, "PreviewImage", {"images": L(7)}, 3),
    ],
    "lrdm_ksampler_patch": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (2, "LRDM_LayoutFromJSON", {"json": LAYOUT}, 0),
        (
            3,
            "LRDM_ApplyLayout",
            {"model": L(1), "clip": L(1, 1), "layout": L(2), "prompt": PROMPT, **METHOD},
            1,
        ),
        (4, "CLIPTextEncode", {"clip": L(1, 1), "text": PROMPT}, 1),
        (5, "CLIPTextEncode", {"clip": L(1, 1), "text": NEG}, 1),
        (6, "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, 1),
        (
            7,
            "KSampler",
            {
                "model": L(3),
                "positive": L(4),
                "negative": L(5),
                "latent_image": L(6),
                "seed": 42,
                "steps": 30,
                "cfg": 7.5,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
            },
            2,
        ),
        (8, "VAEDecode", {"samples": L(7), "vae": L(1, 2)}, 3),
        (9, "SaveImage", {"images": L(8), "filename_prefix": "lrdm_patch"}, 4),
    ],
    "lrdm_step_by_step": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (2, "LRDM_LayoutFromJSON", {"json": LAYOUT}, 0),
        (3, "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, 0),
        (
            4,
            "LRDM_CaptureAttention",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(2),
                "prompt": PROMPT,
                "latent": L(3),
                "seed": 42,
                "steps": 30,
                "scheduler": "normal",
                **METHOD,
            },
            1,
        ),
        (5, "PreviewImage", {"images": L(4, 1)}, 2),
        (6, "PreviewImage", {"images": L(4, 2)}, 2),
        (7, "CLIPTextEncode", {"clip": L(1, 1), "text": PROMPT}, 1),
        (8, "CLIPTextEncode", {"clip": L(1, 1), "text": NEG}, 1),
        (
            9,
            "LRDM_Guider",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(2),
                "prompt": PROMPT,
                "positive": L(7),
                "negative": L(8),
                "cfg": 7.5,
                **METHOD,
            },
            2,
        ),
        (10, "RandomNoise", {"noise_seed": 42}, 2),
        (11, "KSamplerSelect", {"sampler_name": "euler"}, 2),
        (12, "BasicScheduler", {"model": L(1), "scheduler": "normal", "steps": 30, "denoise": 1.0}, 2),
        (
            13,
            "SamplerCustomAdvanced",
            {"noise": L(10), "guider": L(9), "sampler": L(11), "sigmas": L(12), "latent_image": L(3)},
            3,
        ),
        (14, "VAEDecode", {"samples": L(13), "vae": L(1, 2)}, 4),
        (15, "SaveImage", {"images": L(14), "filename_prefix": "lrdm_stages"}, 5),
    ],
    # SDXL: the layout drawn in the LRDM Layout node's canvas, 1024x1024.
    "lrdm_sdxl": [
        (1, "CheckpointLoaderSimple", {"ckpt_name": "sd_xl_base_1.0.safetensors"}, 0),
        (2, "LRDM_Layout", {"layout_json": SDXL_LAYOUT, "width": 1024, "height": 1024, "background": ""}, 0),
        (3, "EmptyLatentImage", {"width": 1024, "height": 1024, "batch_size": 1}, 0),
        (
            4,
            "LRDM_Sampler",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(2),
                "prompt": SDXL_PROMPT,
                "negative": NEG,
                "latent": L(3),
                "seed": 42,
                "steps": 30,
                "cfg": 6.5,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
                **METHOD,
            },
            1,
        ),
        (5, "VAEDecode", {"samples": L(4), "vae": L(1, 2)}, 2),
        (6, "SaveImage", {"images": L(5), "filename_prefix": "lrdm_sdxl"}, 3),
        (7, "Note", {"text": SDXL_NOTE}, 2),
    ],
    # Instance masks painted in ComfyUI's mask editor: one Load Image per object -> LRDM_LayoutFromMasks.
    "lrdm_masks": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (2, "LoadImage", {"image": "lrdm_mask_apple.png"}, 0),
        (3, "LoadImage", {"image": "lrdm_mask_cup.png"}, 0),
        (
            4,
            "LRDM_LayoutFromMasks",
            {"phrases": MASK_PHRASES, "mask_1": L(2, 1), "mask_2": L(3, 1), "background": ""},
            1,
        ),
        (5, "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, 1),
        (
            6,
            "LRDM_Sampler",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(4),
                "prompt": PROMPT,
                "negative": NEG,
                "latent": L(5),
                "seed": 42,
                "steps": 30,
                "cfg": 7.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                **METHOD,
            },
            2,
        ),
        (7, "VAEDecode", {"samples": L(6), "vae": L(1, 2)}, 3),
        (8, "SaveImage", {"images": L(7), "filename_prefix": "lrdm_masks"}, 4),
        (9, "LRDM_LayoutPreview", {"layout": L(4), "width": 512, "height": 512, "image": L(2)}, 3),
        (10, "PreviewImage", {"images": L(9)}, 4),
        (11, "Note", {"text": MASK_NOTE}, 1),
    ],
    # A LoRA and Perturbed-Attention Guidance on the model before LRDM_ApplyLayout; the stock KSampler renders.
    "lrdm_lora_pag": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (
            2,
            "LoraLoader",
            {
                "model": L(1),
                "clip": L(1, 1),
                "lora_name": "your_sd15_lora.safetensors",
                "strength_model": 0.8,
                "strength_clip": 0.8,
            },
            0,
        ),
        (3, "PerturbedAttentionGuidance", {"model": L(2), "scale": 3.0}, 1),
        (4, "LRDM_LayoutFromJSON", {"json": LAYOUT}, 1),
        (5, "LRDM_ApplyLayout", {"model": L(3), "clip": L(2, 1), "layout": L(4), "prompt": PROMPT, **METHOD}, 2),
        (6, "CLIPTextEncode", {"clip": L(2, 1), "text": PROMPT}, 2),
        (7, "CLIPTextEncode", {"clip": L(2, 1), "text": NEG}, 2),
        (8, "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, 1),
        (
            9,
            "KSampler",
            {
                "model": L(5),
                "positive": L(6),
                "negative": L(7),
                "latent_image": L(8),
                "seed": 42,
                "steps": 30,
                "cfg": 6.0,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
            },
            3,
        ),
        (10, "VAEDecode", {"samples": L(9), "vae": L(1, 2)}, 4),
        (11, "SaveImage", {"images": L(10), "filename_prefix": "lrdm_lora"}, 4),
        (12, "Note", {"text": LORA_NOTE}, 0),
    ],
    # Image editing: an existing picture, encoded, re-rendered from denoise 0.6 with a box for a new object.
    "lrdm_image_edit": [
        (1, "CheckpointLoaderSimple", CKPT, 0),
        (2, "LoadImage", {"image": "lrdm_edit_table.png"}, 0),
        (
            3,
            "ImageScale",
            {"image": L(2), "upscale_method": "lanczos", "width": 512, "height": 512, "crop": "center"},
            1,
        ),
        (4, "VAEEncode", {"pixels": L(3), "vae": L(1, 2)}, 1),
        (
            5,
            "LRDM_Layout",
            {"layout_json": EDIT_LAYOUT, "width": 512, "height": 512, "background": "", "image": L(3)},
            2,
        ),
        (
            6,
            "LRDM_Sampler",
            {
                "model": L(1),
                "clip": L(1, 1),
                "layout": L(5),
                "prompt": PROMPT,
                "negative": NEG,
                "latent": L(4),
                "seed": 42,
                "steps": 30,
                "cfg": 7.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 0.6,
                **METHOD,
            },
            3,
        ),
        (7, "VAEDecode", {"samples": L(6), "vae": L(1, 2)}, 4),
        (8, "SaveImage", {"images": L(7), "filename_prefix": "lrdm_edit"}, 5),
        (9, "Note", {"text": EDIT_NOTE}, 0),
    ],
}


def object_info() -> dict:
    """Node definitions as /object_info gives them: ComfyUI's built-in nodes plus this pack's."""
    bootstrap.setup_comfy()
    import asyncio

    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    pack = bootstrap.load_pack()
    ext = asyncio.run(pack.comfy_entrypoint())
    info = {}
    for name, cls in nodes.NODE_CLASS_MAPPINGS.items():
        info[name] = cls.GET_NODE_INFO_V1() if hasattr(cls, "GET_NODE_INFO_V1") else _v1_info(name, cls)
    for cls in asyncio.run(ext.get_node_list()):
        info[cls.define_schema().node_id] = cls.GET_NODE_INFO_V1()
    return info


def _v1_info(name: str, cls) -> dict:
    """The V1 node_info fields this builder needs (server.py node_info)."""
    types = cls.INPUT_TYPES()
    return {
        "input": types,
        "input_order": {k: list(v) for k, v in types.items()},
        "output": list(cls.RETURN_TYPES),
        "output_name": list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)),
    }


def build(graph: list[tuple], info: dict) -> dict:
    """A LiteGraph (UI format, version 0.4) workflow for `graph`."""
    links, nodes_out = [], []
    out_links: dict[tuple[int, int], list[int]] = {}
    bottoms: dict[int, int] = {}  # column -> y below its last node
    for order, (nid, ctype, inputs, col) in enumerate(graph):
        if ctype in NOTE_TYPES:
            nodes_out.append(_note(nid, ctype, inputs["text"], order))
            _place(nodes_out[-1], col, bottoms)
            continue
        d = info[ctype]
        node_inputs, widgets, multiline = [], [], 0
        for section in ("required", "optional"):
            for name in d["input_order"].get(section, []):
                spec = d["input"][section][name]
                typ = spec[0] if isinstance(spec[0], str) else "COMBO"
                opts = spec[1] if len(spec) > 1 else {}
                is_widget = typ in WIDGET_TYPES or isinstance(spec[0], list)
                val = inputs.get(name)
                if isinstance(val, tuple):
                    lid = len(links) + 1
                    links.append([lid, val[1], val[2], nid, len(node_inputs), typ])
                    out_links.setdefault((val[1], val[2]), []).append(lid)
                    entry = {"name": name, "type": typ, "link": lid}
                    if is_widget:
                        entry["widget"] = {"name": name}
                    node_inputs.append(entry)
                    continue
                if not is_widget:
                    if section == "required":
                        raise ValueError(f"{ctype}.{name} needs a link")
                    node_inputs.append({"name": name, "type": typ, "link": None, "shape": 7})
                    continue
                if val is None:
                    val = opts.get("default", spec[0][0] if isinstance(spec[0], list) else None)
                widgets.append(val)
                multiline += bool(opts.get("multiline"))
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
                if opts.get("image_upload"):
                    widgets.append("image")  # the upload button's value, as the frontend saves it
        nodes_out.append(
            {
                "id": nid,
                "type": ctype,
                "pos": [0, 0],
                "size": [340, 290],
                "flags": {},
                "order": order,
                "mode": 0,
                "inputs": node_inputs,
                "outputs": [
                    {"name": n, "type": t, "links": [], "slot_index": i}
                    for i, (t, n) in enumerate(zip(d["output"], d["output_name"], strict=True))
                ],
                "properties": {"Node name for S&R": ctype},
                "widgets_values": widgets,
            }
        )
        node = nodes_out[-1]
        slots = max(len(node["inputs"]), len(node["outputs"]))
        node["size"][1] = max(290, 50 + 20 * slots + 24 * len(widgets) + 40 * multiline + EXTRA_HEIGHT.get(ctype, 0))
        _place(node, col, bottoms)
    for node in nodes_out:
        for i, out in enumerate(node["outputs"]):
            out["links"] = out_links.get((node["id"], i), [])
    return {
        "last_node_id": max(n["id"] for n in nodes_out),
        "last_link_id": len(links),
        "nodes": nodes_out,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def _place(node: dict, col: int, bottoms: dict[int, int]) -> None:
    """Put `node` in column `col` under the nodes already there (the frontend grows nodes, never moves them)."""
    y = bottoms.get(col, 40)
    node["pos"] = [40 + 380 * col, y]
    bottoms[col] = y + node["size"][1] + 40


def _note(nid: int, ctype: str, text: str, order: int) -> dict:
    """A Note / MarkdownNote node as the frontend saves it (no inputs or outputs, one text widget)."""
    return {
        "id": nid,
        "type": ctype,
        "pos": [0, 0],
        "size": [340, 200],
        "flags": {},
        "order": order,
        "mode": 0,
        "inputs": [],
        "outputs": [],
        "properties": {},
        "widgets_values": [text],
        "color": "#432",
        "bgcolor": "#653",
    }


def _load_input(name: str, size: int):
    """An example input image as (IMAGE [1, size, size, 3], MASK [size, size] = 1 - alpha), like Load Image."""
    import numpy as np
    import torch
    from PIL import Image

    img = Image.open(INPUTS / name).convert("RGBA")
    rgb, alpha = (
        im.resize((size, size), Image.Resampling.BILINEAR)  # apart: RGBA resizing premultiplies
        for im in (img.convert("RGB"), img.getchannel("A"))
    )
    image = torch.from_numpy(np.asarray(rgb).astype(np.float32) / 255.0)[None]  # [1, H, W, 3]
    return image, 1.0 - torch.from_numpy(np.asarray(alpha).astype(np.float32) / 255.0)  # [H, W]


def example_layout(graph: list[tuple]):
    """The example's layout, read from its layout node's literal inputs (JSON, editor, or masks)."""
    core = sys.modules[bootstrap.PACK_NAME].lrdm_core
    by_id = {nid: (ctype, inputs) for nid, ctype, inputs, _ in graph}
    for ctype, inputs in by_id.values():
        if ctype == "LRDM_LayoutFromJSON":
            return core.layout.layout_from_json(inputs["json"])
        if ctype == "LRDM_Layout":
            return core.layout.layout_from_json(inputs["layout_json"])
        if ctype == "LRDM_LayoutFromMasks":
            masks = [
                _load_input(by_id[inputs[f"mask_{i}"][1]][1]["image"], 256)[1]
                for i in range(1, 5)
                if f"mask_{i}" in inputs
            ]
            return core.layout_ops.layout_from_masks(masks, core.layout_ops.split_phrases(inputs["phrases"]))
    raise ValueError("the example has no layout node")


def thumbnail(graph: list[tuple], path: Path) -> None:
    """A same-name .jpg for the template browser: the layout drawn by LRDM_LayoutPreview's code (over the input)."""
    import numpy as np
    import torch
    from PIL import Image

    pack = sys.modules[bootstrap.PACK_NAME]
    images = [inputs["image"] for _, ctype, inputs, _ in graph if ctype == "LoadImage"]
    base = _load_input(images[0], 256)[0] if images else torch.full((1, 256, 256, 3), 0.92)  # [1, H, W, 3]
    img = pack.lrdm_core.preview.draw_regions(example_layout(graph), base)[0]
    Image.fromarray((img.numpy() * 255).astype(np.uint8)).save(path, quality=90)


def main() -> int:
    info = object_info()
    OUT.mkdir(exist_ok=True)
    for path in example_inputs.write_inputs(INPUTS):
        sys.stdout.write(f"wrote {path.relative_to(REPO)}\n")
    for name, graph in EXAMPLES.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(build(graph, info), indent=1) + "\n")
        thumbnail(graph, path.with_suffix(".jpg"))
        sys.stdout.write(f"wrote {path.relative_to(REPO)} and its .jpg\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
