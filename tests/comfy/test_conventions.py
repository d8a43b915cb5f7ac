"""Third-party conventions under the node defaults (LRDM+): cond_or_uncond, dressed layer conds, post-CFG pairs,
tiled U-Net inputs refused (issue 14)."""

from __future__ import annotations

import comfy.cldm.cldm
import comfy.controlnet
import comfy.model_management
import comfy.samplers
import pytest
import torch
from conftest import _init_weights, _unet_config
from helpers import PROMPT, latent, layout, run_stock, with_counter

import nodes as comfy_nodes

FOUR = (
    '{"objects": [{"phrase": "a red apple", "box": [0.0, 0.0, 0.5, 0.5]},'
    ' {"phrase": "a blue cup", "box": [0.5, 0.0, 1.0, 0.5]},'
    ' {"phrase": "a green pear", "box": [0.0, 0.5, 0.5, 1.0]},'
    ' {"phrase": "a black cat", "box": [0.5, 0.5, 1.0, 1.0]}]}'
)
FOUR_PROMPT = "a red apple, a blue cup, a green pear and a black cat"


def defaults(pack) -> dict:
    """The node defaults (LRDM+ preset) as node inputs."""
    return pack.lrdm_core.config.LRDMConfig().to_dict()


def apply(pack, model, clip, text=None, prompt=PROMPT, **over):
    """LRDM Apply Layout with the node defaults (and `over`) on `model`."""
    kw = {**defaults(pack), **over}
    lay = layout(pack, text) if text else layout(pack)
    return pack.nodes.patch_nodes.ApplyLayout.execute(model, clip, lay, prompt, **kw).args[0]


def ksample(model, pos, neg, steps=4, cfg=7.5, lat=None):
    """ComfyUI's KSampler (nodes.common_ksampler) with given conds."""
    return comfy_nodes.common_ksampler(model, 1, steps, cfg, "euler", "normal", pos, neg, lat or latent())[0]["samples"]


def conds(clip, prompt=PROMPT):
    return (
        clip.encode_from_tokens_scheduled(clip.tokenize(prompt)),
        clip.encode_from_tokens_scheduled(clip.tokenize("")),
    )


def row_recorder(seen: list):
    """An attn2_patch that records the cond_or_uncond each attention call sees and indexes it like IPAdapter.

    A closure, not an object: ModelPatcher.clone() deep-copies model_options (objects with them)."""

    def patch(n, context, value, extra_options):
        rows = tuple(extra_options["cond_or_uncond"])
        seen.append(rows)
        _ = [("cond", "uncond")[i] for i in rows]  # IPAdapter / PuLID / InstantID: (cond, uncond)[i]
        return n, context, value

    return patch


@pytest.mark.parametrize("before", [True, False], ids=["patch_before_lrdm", "patch_after_lrdm"])
@pytest.mark.parametrize("text,prompt", [(None, PROMPT), (FOUR, FOUR_PROMPT)], ids=["2_objects", "4_objects"])
def test_layer_rows_present_themselves_as_conditional_rows(pack, sd15, clip, before, text, prompt):
    seen: list[tuple[int, ...]] = []
    model = sd15.clone()
    if before:
        model.set_model_attn2_patch(row_recorder(seen))
        model = apply(pack, model, clip, text, prompt, t0=0.5)
    else:
        model = apply(pack, model, clip, text, prompt, t0=0.5)
        model.set_model_attn2_patch(row_recorder(seen))
    pos, neg = conds(clip, prompt)
    ksample(model, pos, neg)
    n = 4 if text else 2
    assert seen and set(sum(seen, ())) <= {0, 1}
    # a layered step: background, uncond and n layers in one call, every layer a conditional row
    assert any(len(rows) == n + 2 and rows.count(1) == 1 for rows in seen), sorted(set(seen))


def tiny_controlnet(seed: int = 3):
    """ComfyUI's own ControlNet (comfy/cldm/cldm.py) for the tiny SD1.5 U-Net, random weights."""
    cfg = _unet_config()
    cfg.pop("out_channels")
    cfg.pop("dtype")
    cfg.pop("transformer_depth_output")
    net = comfy.cldm.cldm.ControlNet(hint_channels=3, **cfg)
    _init_weights(net, seed)
    for zc in list(net.zero_convs) + [net.middle_block_out]:  # released ControlNets are trained: not zero
        for p in zc.parameters():
            p.data.normal_(0.0, 0.02, generator=torch.Generator().manual_seed(seed))
    return comfy.controlnet.ControlNet(net, load_device=comfy.model_management.get_torch_device())


def test_controlnet_on_the_positive_acts_inside_the_layers_in_one_unet_call(pack, sd15, clip):
    pos, neg = conds(clip)
    hint = torch.rand(1, 128, 128, 3, generator=torch.Generator().manual_seed(0))
    cpos, cneg = comfy_nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, tiny_controlnet(), hint, 1.0, 0, 1)
    counted, counter = with_counter(apply(pack, sd15, clip, t0=0.5))
    with_cn = ksample(counted, cpos, cneg)
    # 4 steps, 2 layered: capture + 4 steps, each ONE U-Net call (layers batch with the prompt and the uncond)
    assert counter.calls == 1 + 4, counter.calls
    assert not torch.equal(with_cn, ksample(apply(pack, sd15, clip, t0=0.5), pos, neg))
    # the layers carry the control: inside the layered window the ControlNet changes the layers' outputs too
    layer_pos = comfy_nodes.ControlNetApplyAdvanced().apply_controlnet(
        pos, neg, tiny_controlnet(), hint, 1.0, 0.0, 1.0
    )[0]
    model = apply(pack, sd15, clip, t0=0.5)
    seen = {}

    def spy(executor, *args, **kwargs):
        guider = executor.class_obj
        out = executor(*args, **kwargs)
        seen.update({k: [("control" in e) for e in v] for k, v in guider.conds.items()})
        return out

    from comfy.patcher_extension import WrappersMP

    model.add_wrapper_with_key(WrappersMP.PREDICT_NOISE, "test_spy", spy)
    ksample(model, layer_pos, cneg, steps=2)
    layer_keys = [k for k in seen if k.startswith("lrdm_layer_")]
    assert layer_keys and all(all(v) for k, v in seen.items() if k.startswith("lrdm_")), seen


def test_post_cfg_function_gets_a_consistent_cond_pair(pack, sd15, clip):
    gaps = []

    def post_cfg(args):
        model, cond, x, sigma = args["model"], args["cond"], args["input"], args["sigma"]
        (again,) = comfy.samplers.calc_cond_batch(model, [cond], x, sigma, args["model_options"])
        gaps.append(float((again - args["cond_denoised"]).abs().max() / args["cond_denoised"].abs().max()))
        return args["denoised"]

    model = apply(pack, sd15, clip, t0=0.5)
    model.set_model_sampler_post_cfg_function(post_cfg)
    pos, neg = conds(clip)
    ksample(model, pos, neg)
    assert len(gaps) == 4
    assert max(gaps) < 1e-4, gaps  # re-evaluating `cond` gives `cond_denoised`, in the layered steps too


def tile_wrapper(apply_model, args):
    """A MultiDiffusion-style model-function wrapper: the U-Net on the four quadrants of the latent."""
    x, t, c = args["input"], args["timestep"], args["c"]
    out = torch.zeros_like(x)
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    for i in (0, h):
        for j in (0, w):
            out[..., i : i + h, j : j + w] = apply_model(x[..., i : i + h, j : j + w], t, **c)
    return out


@pytest.mark.parametrize("before", [True, False], ids=["tiles_before_lrdm", "tiles_after_lrdm"])
def test_tiled_unet_calls_are_refused_with_a_message(pack, sd15, clip, before):
    model = sd15.clone()
    if before:
        model.set_model_unet_function_wrapper(tile_wrapper)
        model = apply(pack, model, clip)
    else:
        model = apply(pack, model, clip)
        model.set_model_unet_function_wrapper(tile_wrapper)
    pos, neg = conds(clip)
    with pytest.raises(pack.lrdm_core.errors.LRDMError, match="tiles") as err:
        ksample(model, pos, neg)
    assert "LRDM" in str(err.value) and "16x16" in str(err.value)
    tiled = sd15.clone()
    tiled.set_model_unet_function_wrapper(tile_wrapper)
    assert run_stock(tiled, clip).shape == (1, 4, 16, 16)  # the wrapper itself works without LRDM
