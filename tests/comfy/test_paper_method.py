"""Issue 17: the paper's method as the README states it, through ComfyUI's own sampler on tiny models."""

from __future__ import annotations

import logging

import pytest
import torch
from comfy.patcher_extension import WrappersMP
from helpers import PAPER, PROMPT, latent, layout, run_lrdm, run_stock, with_counter

N_OBJECTS = 2  # helpers.LAYOUT_JSON


class Inputs:
    """A DIFFUSION_MODEL wrapper that keeps each U-Net call's input, conds' uuids and cond/uncond flags."""

    def __init__(self) -> None:
        self.calls = []

    def __call__(self, executor, x, timesteps, context, *args, **kwargs):
        to = kwargs.get("transformer_options") or (args[2] if len(args) > 2 else {})
        self.calls.append((x.detach().clone(), context.detach().clone(), list(to.get("cond_or_uncond", []))))
        return executor(x, timesteps, context, *args, **kwargs)


def _recorded(model):
    m = model.clone()
    rec = Inputs()
    m.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "test_inputs", rec)
    return m, rec


def test_cfg_per_layer_runs_an_uncond_on_each_shifted_layer_input_issue17_1(pack, sd15, clip):
    """guidance=input (the paper's preset, what this issue is about): every layer's x + xi_i also goes through the
    uncond (Eq. 8 with CFG per layer), in the same batched U-Net call as the background and the layers; the U-Net
    and its patches see the layers as conditional rows (0) and their unconds as unconditional rows (1)."""
    model, rec = _recorded(sd15)
    run_lrdm(pack, model, clip, steps=2, **dict(PAPER, t0=0.5))
    x, _, rows = rec.calls[1]  # calls[0] is the capture on x_T; calls[1] the layered step, one batched call
    assert sorted(rows) == [0] * (N_OBJECTS + 1) + [1] * (N_OBJECTS + 1)
    chunks = list(zip(rows, x.split(x.shape[0] // len(rows)), strict=True))
    groups: list[list] = []  # chunks with the same input
    for row, c in chunks:
        same = next((g for g in groups if torch.equal(g[0][1], c)), None)
        (same.append((row, c)) if same else groups.append([(row, c)]))
    assert len(groups) == N_OBJECTS + 1  # x (background, shared uncond) and x + xi_i per layer
    for g in groups:
        assert sorted(r for r, _ in g) == [0, 1]  # each input once as cond, once as uncond


def test_layers_only_runs_in_input_and_eps_modes_issue17_4(pack, sd15, clip):
    """strength = strength_out = 0 ('layers only', the tooltip): no capture, no offsets, one shared uncond."""
    for guidance in ("input", "eps"):
        counted, counter = with_counter(sd15)
        out = run_lrdm(pack, counted, clip, steps=4, t0=0.5, strength=0.0, strength_out=0.0, guidance=guidance)
        assert torch.isfinite(out).all()
        assert counter.rows == 2 * (N_OBJECTS + 2) + 2 * 2  # no capture row; layered rows all on x


def test_state_shift_leaves_the_background_at_x_T_issue17_3(pack, sd15, clip):
    """guidance=state: x_T + sum_i W_i xi_i; the background cells start from the stock sampler's x_T."""
    seen = []
    config = pack.lrdm_core.config.LRDMConfig(t0=0.0, attn_bias=0.0, self_bias=0.0, delta_space="latent")
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), PROMPT, config, observer=seen.append)
    patched, rec = _recorded(pack.nodes.host.runtime.install(sd15, spec))
    pos = clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT))
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    pack.nodes.sampler_node.sample(patched, pos, neg, latent(), 1, 2, 7.5, "euler", "normal", 1.0)
    stock, stock_rec = _recorded(sd15)
    run_stock(stock, clip, steps=2)
    first, ref = rec.calls[1][0][:1], stock_rec.calls[0][0][:1]  # [1, C, H, W]: after the capture / stock's first
    background = seen[0].bg_weight == 1  # [H, W]
    assert background.any() and (~background).any()
    assert torch.allclose(first[..., background], ref[..., background], atol=1e-6)
    assert not torch.allclose(first[..., ~background], ref[..., ~background], atol=1e-3)


@pytest.mark.parametrize("sampler, layered", [("heun", 4), ("heunpp2", 6), ("euler", 2)])
def test_every_evaluation_of_the_layered_steps_is_layered_issue17_5(pack, sd15, clip, sampler, layered):
    """ComfyUI's samplers, 4 steps, t0 0.5: heun's 2 layered steps are 4 evaluations (the corrector of step 2 at
    sigma_2 included), heunpp2's 6 (3 stages each, reaching sigma_3), euler's 2."""
    seen = []
    config = pack.lrdm_core.config.LRDMConfig(t0=0.5)
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), PROMPT, config, observer=seen.append)
    model = pack.nodes.host.runtime.install(sd15, spec)
    pos = clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT))
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    pack.nodes.sampler_node.sample(model, pos, neg, latent(), 1, 4, 7.5, sampler, "normal", 1.0)
    assert seen[0].layered_calls == layered


def test_capture_averages_per_block_on_sdxl_issue17_6(pack, sdxl, clip, monkeypatch):
    """SDXL blocks hold 2+ transformers: the maps are each block's mean, then the mean over blocks."""
    recorder_cls = pack.lrdm_core.attention.AttentionRecorder
    calls, counts = {}, []
    real_add, real_maps = recorder_cls.add, recorder_cls.maps

    def add(self, key, *args, **kwargs):
        calls[key] = calls.get(key, 0) + 1
        return real_add(self, key, *args, **kwargs)

    def maps(self, key):
        counts.append((self.blocks_recorded(key), calls[key]))
        return real_maps(self, key)

    monkeypatch.setattr(recorder_cls, "add", add)
    monkeypatch.setattr(recorder_cls, "maps", maps)
    run_lrdm(pack, sdxl, clip, steps=1, t0=1.0)
    chosen = pack.nodes.host.unet.select_blocks(pack.nodes.host.unet.output_cross_attention(sdxl), "paper")
    assert counts and all(blocks == len(chosen) and calls > blocks for blocks, calls in counts)


def test_bias_covers_every_copy_of_a_repeated_prompt_issue17_7(pack, sd15, clip):
    """A 154-token negative beside the 77-token prompt: the prompt is repeated twice in the batch, and the
    region bias acts on both copies of each object column (the plan knows the prompt's own length)."""
    long_negative = ", ".join(["blurry"] * 60)  # over 75 tokens: two CLIP chunks, 154 tokens
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(long_negative))
    assert neg[0][0].shape[1] == 154
    seen = []
    spec = pack.nodes.host.spec.build_spec(
        clip, layout(pack), PROMPT, pack.lrdm_core.config.LRDMConfig(t0=0.5), observer=seen.append
    )
    model = pack.nodes.host.runtime.install(sd15, spec)
    pos = clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT))
    out = pack.nodes.sampler_node.sample(model, pos, neg, latent(), 1, 2, 7.5, "euler", "normal", 1.0)
    assert torch.isfinite(out["samples"]).all()
    plan = seen[0].bias_plan
    uid = next(iter(plan.uuids))
    assert plan.lengths[uid] == 77  # the prompt's own length; the batch repeats it to 154 keys
    cols = [c for cols in plan.columns for c in cols]
    pattern = plan.cross_pattern(uid, (4, 4), 154, "cpu")  # the prompt's objects on 154 keys
    assert pattern.columns == [[*c, *(x + 77 for x in c)] for c in plan.columns]
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 16, 64, generator=g), torch.randn(1, 154, 64, generator=g)  # [B, N, heads*d], [B, T, ...]
    bias = plan.mask("attn2", uid, (4, 4), q, k, 2)  # [N, 154]
    assert (bias[:, cols] != 0).all() and torch.equal(bias[:, cols], bias[:, [c + 77 for c in cols]])


def test_a_prompt_that_is_not_the_positive_is_reported_issue17_8(pack, sd15, clip, caplog):
    """Apply Layout with a prompt other than the positive's text: a warning names the mismatch; the same text
    (or one that differs only after the objects) passes silently."""
    apply = pack.nodes.patch_nodes.ApplyLayout
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))

    def run(node_prompt: str, positive_text: str) -> list[str]:
        caplog.clear()
        kw = pack.lrdm_core.config.LRDMConfig().to_dict()  # the node defaults
        patched = apply.execute(sd15, clip, layout(pack), node_prompt, **kw).args[0]
        pos = clip.encode_from_tokens_scheduled(clip.tokenize(positive_text))
        with caplog.at_level(logging.WARNING, logger="lrdm"):
            pack.nodes.sampler_node.sample(patched, pos, neg, latent(), 1, 1, 7.5, "euler", "normal", 1.0)
        return [r.getMessage() for r in caplog.records if "positive conditioning" in r.getMessage()]

    assert run(PROMPT, PROMPT) == []
    assert run(PROMPT, PROMPT + ", on a wooden table, photo") == []  # CLIP is causal: the prefix still matches
    warned = run(PROMPT, "a green apple and a blue cup")
    assert len(warned) == 1 and "Expected the node's prompt" in warned[0]


def test_layered_prediction_is_eq8_with_cfg_per_layer_issue17_1(pack, sd15, clip):
    """Each layered evaluation of the paper's preset equals sum_i W_i cfg(x + xi_i, y_i) + W_bg cfg(x, y_bg),
    every cfg computed on its own input from ComfyUI's calc_cond_batch, one layer at a time."""
    import comfy.samplers

    keys = pack.nodes.host.keys
    vp_scale = pack.lrdm_core.guidance.vp_scale
    checked = []

    def check(executor, x, timestep, model_options, seed=None):
        state = model_options["transformer_options"].get(keys.RUN_KEY)
        before = state.layered_calls if state else 0
        out = executor(x, timestep, model_options, seed)
        if state is None or state.layered_calls == before:
            return out
        guider = executor.class_obj
        conds, s = guider.conds, guider.cfg
        shift = vp_scale(timestep).reshape(-1, 1, 1, 1)  # [B, 1, 1, 1]

        def cfg(cond, inp):
            c, u = comfy.samplers.calc_cond_batch(guider.inner_model, [cond, conds["negative"]], inp, timestep, {})
            return u + s * (c - u)

        want = cfg(conds.get(keys.BG_KEY, conds["positive"]), x) * state.bg_weight
        for i, (xi, w) in enumerate(zip(state.offsets, state.weights, strict=True)):
            want = want + cfg(conds[keys.layer_key(i)], x + xi * shift) * w
        checked.append(float((out - want).abs().max() / want.abs().max()))  # relative: batched vs one by one
        return out

    model = sd15.clone()
    model.add_wrapper_with_key(WrappersMP.PREDICT_NOISE, "test_eq8", check)  # outside LRDM's wrapper
    run_lrdm(pack, model, clip, steps=4, **dict(PAPER, t0=0.5))  # the paper's preset (this issue), guidance input
    assert len(checked) == 2 and max(checked) < 1e-5, checked
