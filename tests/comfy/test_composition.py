"""LRDM stacked with ComfyUI's own patch nodes (comfy_extras) and a LoRA loaded the way LoraLoader loads it.

For every stack the same three facts are checked on the tiny SD1.5 model (8x8 latent, 3 steps, t0 = 2/3):
  off:   LRDM switched off (the paper's preset, t0 = 0, zero strength) on the patched model == the stock
         KSampler on it, bit for bit
         (LRDM adds nothing and drops nothing of the patch);
  patch: LRDM on the patched model != LRDM on the plain model (the patch still acts under LRDM);
  lrdm:  LRDM on the patched model != the stock KSampler on it (LRDM still acts under the patch);
and, where the patch has a callback, that it runs at every step (the layered ones included).
"""

from __future__ import annotations

import logging

import comfy.ldm.modules.attention as comfy_attention
import comfy.lora
import comfy.sd
import pytest
import torch
from comfy_extras.nodes_freelunch import FreeU
from comfy_extras.nodes_pag import PerturbedAttentionGuidance
from comfy_extras.nodes_sag import SelfAttentionGuidance
from helpers import METHOD, OFF, PROMPT, latent, layout, run_lrdm, run_stock

import nodes as comfy_nodes

STEPS = 3
T0 = 0.67  # 2 layered steps of 3


def _lrdm(pack, model, clip, **kw):
    return run_lrdm(pack, model, clip, steps=STEPS, lat=latent(8), **dict(dict(t0=T0), **kw))


def _stock(model, clip):
    return run_stock(model, clip, steps=STEPS, lat=latent(8))


def _count_post_cfg(model) -> list[int]:
    """Wrap the model's last post-CFG function with a call counter (closures survive clone()'s deepcopy)."""
    calls = [0]
    fns = model.model_options["sampler_post_cfg_function"]
    inner = fns[-1]

    def counted(args):
        calls[0] += 1
        return inner(args)

    fns[-1] = counted
    return calls


def _tiny_lora(model, clip, rank: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A LoRA file's state dict for the tiny models: kohya-style keys on the output blocks' attn2.to_k / to_v
    (the layers the capture reads) and on the text encoder's first MLP (the phrases' encodings)."""
    g = torch.Generator().manual_seed(seed)
    unet_keys = comfy.lora.model_lora_keys_unet(model.model, {})
    clip_keys = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, {})
    weights = {**model.model.state_dict(), **clip.cond_stage_model.state_dict()}
    names = [
        k
        for k in unet_keys
        if isinstance(k, str) and k.startswith("lora_unet_output_blocks") and ("attn2_to_k" in k or "attn2_to_v" in k)
    ]
    names.append("lora_te_text_model_encoder_layers_0_mlp_fc1")
    sd = {}
    for name in names:
        target = unet_keys.get(name) or clip_keys[name]
        out_f, in_f = weights[target].shape
        sd[f"{name}.lora_up.weight"] = 0.5 * torch.randn(out_f, rank, generator=g)
        sd[f"{name}.lora_down.weight"] = 0.5 * torch.randn(rank, in_f, generator=g)
        sd[f"{name}.alpha"] = torch.tensor(float(rank))
    return sd


class IPAdapterLike:
    """An attn2 replace as IPAdapter installs one: default attention plus an image-prompt term. Counts on the
    class (clone() deep-copies model_options and with them this object)."""

    calls = 0

    def __call__(self, q, k, v, extra_options):
        type(self).calls += 1
        out = comfy_attention.optimized_attention(q, k, v, extra_options["n_heads"])
        return out + 0.05 * out.mean(dim=1, keepdim=True)


def _freeu(model, clip):
    return FreeU().patch(model, 1.3, 1.4, 0.9, 0.2)[0], clip, None


def _sag(model, clip):
    m = SelfAttentionGuidance.execute(model, 0.8, 2.0).args[0]
    return m, clip, _count_post_cfg(m)


def _pag(model, clip):
    m = PerturbedAttentionGuidance.execute(model, 3.0).args[0]
    return m, clip, _count_post_cfg(m)


def _lora(model, clip):
    m, c = comfy.sd.load_lora_for_models(model, clip, _tiny_lora(model, clip), 1.0, 1.0)  # LoraLoader's call
    assert m.patches and c.patcher.patches  # the LoRA reached both models
    return m, c, None


def _attn2(model, clip):
    """IPAdapter-style: an attn2 patch (before q/k/v) and an attn2 replace on a block LRDM's capture reads."""
    m = model.clone()
    seen = [0]

    def attn2_patch(n, context, value, extra_options):
        seen[0] += 1
        return n, context * 1.05, value

    m.set_model_attn2_patch(attn2_patch)
    m.set_model_attn2_replace(IPAdapterLike(), "output", 3, 0)
    IPAdapterLike.calls = 0
    return m, clip, seen


STACKS = {"freeu": _freeu, "sag": _sag, "pag": _pag, "lora": _lora, "attn2_patch_and_replace": _attn2}


@pytest.fixture(scope="module")
def plain_lrdm(pack, sd15, clip):
    return _lrdm(pack, sd15, clip)


@pytest.mark.parametrize("name", list(STACKS))
def test_lrdm_and_the_patch_both_act(pack, sd15, clip, plain_lrdm, name):
    model, pclip, calls = STACKS[name](sd15, clip)
    off = _lrdm(pack, model, pclip, **dict(OFF, strength=0.0, strength_out=0.0))
    assert torch.equal(off, _stock(model, pclip)), "LRDM switched off changed the patched model's output"
    if calls is not None:
        calls[0] = 0
    both = _lrdm(pack, model, pclip)
    assert torch.isfinite(both).all()
    if name in ("sag", "pag"):
        assert calls[0] == STEPS  # the post-CFG guidance ran on every step, the 2 layered ones included
    elif calls is not None:
        assert calls[0] > 0
    assert not torch.equal(both, plain_lrdm), f"{name}'s effect was dropped under LRDM"
    assert not torch.equal(both, _stock(model, pclip)), f"LRDM's effect was dropped under {name}"


def test_ipadapter_like_replace_runs_everywhere_with_the_region_bias(pack, sd15, clip, caplog):
    """An imitation of IPAdapter's attn2 replace on ('output', 3, 0) (it computes attention itself, without
    transformer_options): LRDM takes no replace key, so it runs at the capture and at every step; the bias cannot
    act inside it, so that one layer stays unbiased, and the user is told once."""
    model, pclip, seen = _attn2(sd15, clip)
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        both = _lrdm(pack, model, pclip, attn_bias=1.0)
    messages = [r.getMessage() for r in caplog.records if r.name == "lrdm"]
    assert len(messages) == 1 and "does not reach the cross-attention at ('output', 3, 0)" in messages[0]
    assert IPAdapterLike.calls == 1 + STEPS  # capture + one batched evaluation per step
    assert seen[0] > 0 and torch.isfinite(both).all()
    assert not torch.equal(both, _lrdm(pack, sd15, clip, attn_bias=1.0))
    assert not torch.equal(both, _lrdm(pack, model, pclip))  # the bias still acts on the other blocks


def test_patch_applied_after_lrdm_is_kept_too(pack, sd15, clip, plain_lrdm):
    """Order in the graph: model -> LRDM Apply Layout -> PAG -> KSampler works like PAG -> LRDM."""
    patched = pack.nodes.patch_nodes.ApplyLayout.execute(sd15, clip, layout(pack), PROMPT, **dict(METHOD, t0=T0)).args[
        0
    ]
    pag_after = PerturbedAttentionGuidance.execute(patched, 3.0).args[0]
    pos = clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT))
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    out = comfy_nodes.common_ksampler(pag_after, 1, STEPS, 7.5, "euler", "normal", pos, neg, latent(8))[0]["samples"]
    pag_first = _lrdm(pack, PerturbedAttentionGuidance.execute(sd15, 3.0).args[0], clip)
    assert torch.allclose(out, pag_first, atol=1e-5) and not torch.equal(out, plain_lrdm)


def test_a_second_lrdm_node_on_the_same_model_replaces_the_first_with_one_warning(pack, sd15, clip, caplog):
    apply = pack.nodes.patch_nodes.ApplyLayout
    one = apply.execute(sd15, clip, layout(pack), PROMPT, **METHOD).args[0]
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        apply.execute(one, clip, layout(pack), PROMPT, **METHOD)
    assert [r.getMessage() for r in caplog.records if r.name == "lrdm"] == [
        "LRDM: the model already had an LRDM patch; the new layout replaces it."
    ]
