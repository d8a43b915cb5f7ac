"""Write example_workflows/*.json (UI format) from compact graph specs and ComfyUI's node definitions.

Run: PYTHONPATH=tools .venv/bin/python tools/build_examples.py (the Makefile target `examples`).
Widget order, control_after_generate slots and output names come from the real node definitions, so
the files load in the frontend and convert to API prompts like hand-made ones.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "example_workflows"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}

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
METHOD = {
    "t0": 0.3,
    "strength": 1.0,
    "strength_out": 1.0,
    "top_k": 0,
    "guidance": "state",
    "capture_blocks": "paper",
    "capture_source": "auto",
    "composition": "shared",
    "attn_bias": 0.0,
}
CKPT = {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}


def L(node: int, slot: int = 0) -> tuple:
    """A link from node `node`'s output `slot`."""
    return ("@", node, slot)


TOY_LAYOUT = json.dumps({"version": 1, "objects": [
    {"phrase": "a red circle", "box": [0.06, 0.5, 0.44, 0.94]},
    {"phrase": "a blue square", "box": [0.56, 0.06, 0.94, 0.44]}]})
TOY_PROMPT = "a red circle and a blue square"
TOY = dict(METHOD, t0=0.2, attn_bias=6.0)  # bench/quality.py lrdm_plus, the best measured on the toy model

EXAMPLES: dict[str, list[tuple]] = {
    # The small built-in model (what `make demo` runs): the same seed with and without LRDM.
    "lrdm_demo": [
        (1, "LRDM_ToyModelLoader", {}, 0),
        (2, "LRDM_LayoutFromJSON", {"json": TOY_LAYOUT}, 0),
        (3, "EmptyLatentImage", {"width": 64, "height": 64, "batch_size": 4}, 0),
        (4, "LRDM_Sampler", {"model": L(1), "clip": L(1, 1), "layout": L(2), "prompt": TOY_PROMPT, "negative": "",
                             "latent": L(3), "seed": 7, "steps": 25, "cfg": 4.5, "sampler_name": "euler",
                             "scheduler": "normal", "denoise": 1.0, **TOY}, 1),
        (5, "VAEDecode", {"samples": L(4), "vae": L(1, 2)}, 2),
        (6, "ImageScaleBy", {"image": L(5), "upscale_method": "nearest-exact", "scale_by": 4.0}, 2),
        (7, "SaveImage", {"images": L(6), "filename_prefix": "lrdm_demo_layout"}, 3),
        (8, "CLIPTextEncode", {"clip": L(1, 1), "text": TOY_PROMPT}, 1),
        (9, "CLIPTextEncode", {"clip": L(1, 1), "text": ""}, 1),
        (10, "KSampler", {"model": L(1), "positive": L(8), "negative": L(9), "latent_image": L(3), "seed": 7,
                          "steps": 25, "cfg": 4.5, "sampler_name": "euler", "scheduler": "normal",
                          "denoise": 1.0}, 1),
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
}


def object_info() -> dict:
    """Node definitions as /object_info gives them: ComfyUI's built-in nodes plus this pack's."""
    tree = Path(os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI")
    sys.path.insert(0, str(tree))
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    import asyncio
    import importlib.util

    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    spec = importlib.util.spec_from_file_location(
        "lrdm_pack", REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    pack = importlib.util.module_from_spec(spec)
    sys.modules["lrdm_pack"] = pack
    spec.loader.exec_module(pack)
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
    rows: dict[int, int] = {}
    for order, (nid, ctype, inputs, col) in enumerate(graph):
        d = info[ctype]
        node_inputs, widgets = [], []
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
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
        row = rows.get(col, 0)
        rows[col] = row + 1
        nodes_out.append(
            {
                "id": nid,
                "type": ctype,
                "pos": [40 + 380 * col, 40 + 330 * row],
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


def thumbnail(graph: list[tuple], path: Path) -> None:
    """A same-name .jpg for the template browser: the example's layout drawn by LRDM_LayoutPreview's code."""
    import numpy as np
    import torch
    from PIL import Image

    pack = sys.modules["lrdm_pack"]
    text = next(inputs["json"] for _, ctype, inputs, _ in graph if ctype == "LRDM_LayoutFromJSON")
    base = torch.full((1, 256, 256, 3), 0.92)  # [1, H, W, 3]
    img = pack.lrdm_core.preview.draw_regions(pack.lrdm_core.layout.layout_from_json(text), base)[0]
    Image.fromarray((img.numpy() * 255).astype(np.uint8)).save(path, quality=90)


def main() -> int:
    info = object_info()
    OUT.mkdir(exist_ok=True)
    for name, graph in EXAMPLES.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(build(graph, info), indent=1) + "\n")
        thumbnail(graph, path.with_suffix(".jpg"))
        sys.stdout.write(f"wrote {path.relative_to(REPO)} and its .jpg\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
