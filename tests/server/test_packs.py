"""LRDM beside the patches users chain, through the real server (issue 14): the real IPAdapter_plus and
Advanced-ControlNet packs (../shared/thirdparty), ComfyUI's ControlNet, PAG, SAG, FreeU, a LoRA and a
reference-style attn1_patch; 1, 2 and 4 objects; the node defaults (LRDM+) and the paper's preset.

Each test is one stack of patches in one graph (e.g. Checkpoint -> LoRA -> IPAdapter -> LRDM -> PAG, a
ControlNet on the conditioning) and the same graph with each patch left out in turn and with LRDM left out
(the server caches the shared nodes). It asserts that every graph ran without error, that each attention
patch was really called (counted by the test-only nodes in tests/server/lrdm_test_probe, placed right after
it), that leaving any patch out changes the result (each had its effect beside LRDM) and that leaving LRDM out
does too. Models: random-weight stand-ins (tools/hostkit checkpoints and packmodels); 2 steps (one
layered, both biased under the node defaults) at 128 px: a 16x16 latent, whose SD1.5 middle block is 2x2 (at
64 px it is one token, where self-attention is the identity and PAG cannot act).

A patch that acts weakly on the random model whatever else is there (PAG: 8e-5 of the latent's scale at 128 px
with or without LRDM) is measured against its own effect in the same graph without LRDM instead of the fixed
floor. Not stacked here, because they fail in ComfyUI itself with or without LRDM (measured on 0.3.75): SAG or
PAG beside a key-extending attn1_patch (SAG's blur map and PAG's `return v` assume as many keys as queries).
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
from hostkit.fixtures import REPO, TEST_CKPT_NAME, TEST_LORA_NAME, TEST_SDXL_CKPT_NAME, require_pack
from hostkit.packmodels import CLIP_VISION_NAME, CONTROLNET_NAMES, IPADAPTER_NAMES

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from lrdm_core.config import PRESETS  # noqa: E402  (pure Python: no ComfyUI import)

pytestmark = [pytest.mark.server, pytest.mark.slow]

PROMPT = "a red apple, a blue cup, a green pear and a black cat on a table"
PHRASES = ["a red apple", "a blue cup", "a green pear", "a black cat"]
BOXES = [[0.05, 0.05, 0.5, 0.5], [0.5, 0.05, 0.95, 0.5], [0.05, 0.5, 0.5, 0.95], [0.5, 0.5, 0.95, 0.95]]
STEPS = 2
IPA = "ComfyUI_IPAdapter_plus"
ACN = "ComfyUI-Advanced-ControlNet"
COUNTED = {"ipadapter": "Attn2Replace", "sag": "attn_and_record", "extend_keys": "extend_keys"}

SIZE = 128  # px: the smallest size where SD1.5's middle block has more than one token (PAG acts there)
FLOOR = 1e-3  # an effect, relative to the latent's scale
OWN_SHARE = 0.5  # a weak patch's effect beside LRDM, as a share of its effect in the same graph without LRDM


def layout_json(n: int) -> str:
    return json.dumps({"objects": [{"phrase": p, "box": b} for p, b in zip(PHRASES[:n], BOXES[:n], strict=True)]})


def method(preset: str) -> dict:
    """The LRDM node's method inputs for a preset ('plus' = the node defaults)."""
    return PRESETS[preset].to_dict()


class Graph:
    """An API-format prompt built node by node; unspecified widget inputs take the node's defaults."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.nodes: dict[str, dict] = {}

    def add(self, class_type: str, **inputs) -> str:
        spec = self.info[class_type]["input"]
        for name, s in (spec.get("required") or {}).items():
            if name not in inputs and isinstance(s, list) and len(s) > 1 and isinstance(s[1], dict):
                if "default" in s[1]:
                    inputs[name] = s[1]["default"]
            if name not in inputs and isinstance(s, list) and isinstance(s[0], list) and s[0]:
                inputs[name] = s[0][0]  # a combo: its first option
        key = str(len(self.nodes) + 1)
        self.nodes[key] = {"class_type": class_type, "inputs": inputs}
        return key


def link(node: str, out: int = 0) -> list:
    return [node, out]


def patch_model(g: Graph, kind: str, model, arch: str):
    """Put one other patch on `model` (followed by its call counter if it is an attention patch)."""
    if kind == "ipadapter":
        ipa = g.add("IPAdapterModelLoader", ipadapter_file=IPADAPTER_NAMES[arch])
        vision = g.add("CLIPVisionLoader", clip_name=CLIP_VISION_NAME)
        image = g.add("EmptyImage", width=224, height=224, batch_size=1, color=0xC04020)
        model = link(
            g.add(
                "IPAdapterAdvanced",
                model=model,
                ipadapter=link(ipa),
                image=link(image),
                clip_vision=link(vision),
                weight=1.0,
                weight_type="linear",
                combine_embeds="concat",
                start_at=0.0,
                end_at=1.0,
                embeds_scaling="V only",
            )
        )
    elif kind == "pag":
        model = link(g.add("PerturbedAttentionGuidance", model=model, scale=3.0))
    elif kind == "sag":
        model = link(g.add("SelfAttentionGuidance", model=model, scale=0.5, blur_sigma=2.0))
    elif kind == "freeu":
        model = link(g.add("FreeU_V2", model=model, b1=1.3, b2=1.4, s1=0.9, s2=0.2))
    elif kind == "extend_keys":
        model = link(g.add("LRDMTest_ExtendKeys", model=model))
    else:
        raise ValueError(kind)
    if kind in ("ipadapter", "sag"):
        model = link(g.add("LRDMTest_CountAttention", model=model))
    return model


def build(info, arch: str, lrdm: tuple | None, patches: tuple) -> dict:
    """Checkpoint [-> LoRA] -> patches before -> [LRDM Apply Layout] -> patches after -> KSampler, the
    ControlNets on its conditioning. patches: ("lora",), (kind, "before" | "after"), ("controlnet", "core" | "acn")."""
    g = Graph(info)
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name=TEST_SDXL_CKPT_NAME if arch == "sdxl" else TEST_CKPT_NAME)
    model, clip = link(ckpt, 0), link(ckpt, 1)
    if ("lora",) in patches:
        lo = g.add(
            "LoraLoader", model=model, clip=clip, lora_name=TEST_LORA_NAME, strength_model=1.0, strength_clip=1.0
        )
        model, clip = link(lo, 0), link(lo, 1)
    for p in patches:
        if p[1:] == ("before",):
            model = patch_model(g, p[0], model, arch)
    if lrdm is not None:
        preset, n = lrdm
        lay = g.add("LRDM_LayoutFromJSON", json=layout_json(n))
        model = link(
            g.add("LRDM_ApplyLayout", model=model, clip=clip, layout=link(lay), prompt=PROMPT, **method(preset))
        )
    for p in patches:
        if p[1:] == ("after",):
            model = patch_model(g, p[0], model, arch)
    pos = link(g.add("CLIPTextEncode", clip=clip, text=PROMPT))
    neg = link(g.add("CLIPTextEncode", clip=clip, text="blurry"))
    for p in patches:
        if p[0] != "controlnet":
            continue
        hint = link(g.add("EmptyImage", width=SIZE, height=SIZE, batch_size=1, color=0x808080))
        loader, name_input, apply = (  # core ControlNet, or Advanced-ControlNet's nodes of the same shape
            ("ControlNetLoader", "control_net_name", "ControlNetApplyAdvanced")
            if p[1] == "core"
            else ("ACN_ControlNetLoaderAdvanced", "cnet", "ACN_AdvancedControlNetApply_v2")
        )
        net = g.add(loader, **{name_input: CONTROLNET_NAMES[arch]})
        applied = g.add(
            apply,
            positive=pos,
            negative=neg,
            control_net=link(net),
            image=hint,
            strength=1.0,
            start_percent=0.0,
            end_percent=1.0,
        )
        pos, neg = link(applied, 0), link(applied, 1)
    latent = g.add("EmptyLatentImage", width=SIZE, height=SIZE, batch_size=1)
    sampled = g.add(
        "KSampler",
        model=model,
        positive=pos,
        negative=neg,
        latent_image=link(latent),
        seed=7,
        steps=STEPS,
        cfg=6.0,
        sampler_name="euler",
        scheduler="normal",
        denoise=1.0,
    )
    g.add("LRDMTest_LatentValues", samples=link(sampled))
    return g.nodes


def run(server, prompt: dict) -> tuple[torch.Tensor, dict]:
    """Queue the prompt; the sampled latent and the attention calls its probes counted."""
    log_start = len(server.log_text())
    entry = server.client.wait(server.client.submit(prompt), timeout=900)
    out = next(o for o in entry["outputs"].values() if "values" in o)
    log = server.log_text()[log_start:]
    assert "invalid value encountered" not in log, log[-3000:]
    return torch.tensor(out["values"]).reshape(out["shape"]), out["counts"][0]


def changed(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the latent's scale."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-8))


def check_stack(server, info, thirdparty, arch: str, preset: str, n: int, patches: tuple) -> dict:
    """The stack with LRDM ran; each patch ran and changed the result beside the others; LRDM did too."""
    if any(p[0] == "ipadapter" for p in patches):
        require_pack(thirdparty, IPA)
    if ("controlnet", "acn") in patches:
        require_pack(thirdparty, ACN)
    full, counts = run(server, build(info, arch, (preset, n), patches))
    for kind, name in COUNTED.items():
        if any(p[0] == kind for p in patches):
            assert counts.get(name, 0) > 0, f"{kind} ({name}) never called beside LRDM: {counts}"
    effects = {}
    for p in patches:
        without, _ = run(server, build(info, arch, (preset, n), tuple(q for q in patches if q != p)))
        effects[p] = changed(full, without)
    without_lrdm, _ = run(server, build(info, arch, None, patches))
    effects["LRDM"] = changed(full, without_lrdm)
    assert effects["LRDM"] > FLOOR, f"LRDM had no effect beside the others: {effects}"
    own = {}  # a weak patch's effect in the same graph without LRDM: what it should be beside LRDM
    for p in [p for p in patches if effects[p] < FLOOR]:
        stock, _ = run(server, build(info, arch, None, tuple(q for q in patches if q != p)))
        own[p] = changed(without_lrdm, stock)
    none = [p for p in own if not (own[p] > 0 and effects[p] >= OWN_SHARE * own[p])]
    assert not none, f"no effect beside LRDM: {none} (relative changes {effects}, without LRDM {own}; calls {counts})"
    return counts


# --- SD1.5 ------------------------------------------------------------------------------------------------


def test_issue_graph_lora_ipadapter_lrdm_pag_controlnet_2_objects(comfy_server, object_info, thirdparty):
    """Checkpoint -> LoRA -> IPAdapter -> FreeU -> LRDM (defaults) -> PAG -> KSampler, ControlNet on the conds."""
    check_stack(
        comfy_server,
        object_info,
        thirdparty,
        "sd15",
        "plus",
        2,
        (("lora",), ("ipadapter", "before"), ("freeu", "before"), ("pag", "after"), ("controlnet", "core")),
    )


def test_sag_before_ipadapter_after_lrdm_4_objects(comfy_server, object_info, thirdparty):
    """SAG before LRDM (defaults), IPAdapter after it."""
    check_stack(comfy_server, object_info, thirdparty, "sd15", "plus", 4, (("sag", "before"), ("ipadapter", "after")))


def test_reference_attn1_patch_before_ipadapter_after_lrdm_4_objects(comfy_server, object_info, thirdparty):
    """A key-extending attn1_patch before LRDM (defaults: self_bias on, extra keys unbiased), IPAdapter after."""
    check_stack(
        comfy_server,
        object_info,
        thirdparty,
        "sd15",
        "plus",
        4,
        (("extend_keys", "before"), ("ipadapter", "after")),
    )


def test_paper_preset_ipadapter_pag_controlnet_1_object(comfy_server, object_info, thirdparty):
    check_stack(
        comfy_server,
        object_info,
        thirdparty,
        "sd15",
        "paper",
        1,
        (("ipadapter", "before"), ("pag", "before"), ("controlnet", "core")),
    )


def test_advanced_controlnet_1_object(comfy_server, object_info, thirdparty):
    check_stack(comfy_server, object_info, thirdparty, "sd15", "plus", 1, (("controlnet", "acn"),))


# --- SDXL (3-tuple attention keys) ------------------------------------------------------------------------


def test_sdxl_ipadapter_before_lrdm_and_controlnet_2_objects(comfy_server, object_info, thirdparty, test_sdxl_ckpt):
    check_stack(
        comfy_server, object_info, thirdparty, "sdxl", "plus", 2, (("ipadapter", "before"), ("controlnet", "core"))
    )


def test_sdxl_ipadapter_after_lrdm_4_objects_paper_preset(comfy_server, object_info, thirdparty, test_sdxl_ckpt):
    check_stack(comfy_server, object_info, thirdparty, "sdxl", "paper", 4, (("ipadapter", "after"),))


def test_sdxl_ipadapter_after_lrdm_2_objects(comfy_server, object_info, thirdparty, test_sdxl_ckpt):
    check_stack(comfy_server, object_info, thirdparty, "sdxl", "plus", 2, (("ipadapter", "after"),))
