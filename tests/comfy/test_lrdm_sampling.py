"""LRDM inside the real ComfyUI sampler on tiny models: equality when off, windows, hooks, families."""

from __future__ import annotations

import math

import comfy.samplers
import pytest
import torch
from conftest import build_model
from helpers import OFF, PAPER, PROMPT, latent, layout, model_state, run_lrdm, run_stock, with_counter


def test_off_paper_preset_at_t0_0_equals_stock_bit_for_bit(pack, sd15, clip):
    """The node defaults always act (x_T shift, region biases); switched off = the paper's preset at t0 0."""
    ref = run_stock(sd15, clip)
    assert torch.equal(run_lrdm(pack, sd15, clip, **dict(OFF, strength=0.0, strength_out=0.0)), ref)
    assert torch.equal(run_lrdm(pack, sd15, clip, **OFF), ref)  # no window: no capture, plain CFG
    assert not torch.equal(run_lrdm(pack, sd15, clip, t0=0.0), ref)  # the defaults' 'state' shift and biases


def test_lrdm_changes_the_result_and_is_deterministic(pack, sd15, clip):
    a = run_lrdm(pack, sd15, clip)
    assert not torch.equal(a, run_stock(sd15, clip))
    assert torch.equal(a, run_lrdm(pack, sd15, clip))
    assert torch.isfinite(a).all()


def test_layered_steps_only_inside_the_window(pack, sd15, clip):
    seen = []
    spec = pack.nodes.host.spec.build_spec(
        clip, layout(pack), PROMPT, pack.lrdm_core.config.LRDMConfig(t0=0.5), observer=seen.append
    )
    model = pack.nodes.host.runtime.install(sd15, spec)
    out = pack.nodes.sampler_node.sample(model, *_pos_neg(clip), latent(), 1, 6, 7.5, "euler", "normal", 1.0)
    assert torch.isfinite(out["samples"]).all()
    assert seen[0].layered_calls == 3  # round(0.5 * 6) euler steps, one evaluation each


def test_eval_count_matches_the_formula(pack, sd15, clip):
    steps, n = 6, 2
    counted, counter = with_counter(sd15)
    run_lrdm(pack, counted, clip, steps=steps, t0=0.5)
    k = round(0.5 * steps)
    assert counter.rows == 1 + k * (n + 2) + (steps - k) * 2  # node defaults: capture + layered + plain CFG
    counted, counter = with_counter(sd15)
    run_lrdm(pack, counted, clip, steps=steps, **dict(PAPER, t0=0.5))  # the paper's: CFG per shifted layer
    assert counter.rows == 1 + k * (2 * n + 2) + (steps - k) * 2
    counted, counter = with_counter(sd15)
    run_lrdm(pack, counted, clip, steps=steps, t0=0.5, cfg=1.0)  # ComfyUI skips uncond at cfg 1
    assert counter.rows == 1 + k * (n + 1) + (steps - k) * 1


def test_capture_hooks_fire_on_chosen_up_blocks_on_the_first_step_only(pack, sd15, clip, monkeypatch):
    calls = _spy_capture(pack, monkeypatch)
    sigmas = comfy.samplers.calculate_sigmas(sd15.get_model_object("model_sampling"), "normal", 4)
    run_lrdm(pack, sd15, clip)
    assert {c[0] for c in calls} == {("output", 1), ("output", 3), ("output", 5)}  # one per resolution
    assert len(calls) == 3
    assert all(math.isclose(c[2], float(sigmas[0]), rel_tol=1e-5) for c in calls)
    calls.clear()
    run_lrdm(pack, sd15, clip, capture_blocks="all")
    assert {c[0][1] for c in calls} == {0, 1, 2, 3, 4, 5}


def test_original_model_patcher_is_unchanged(pack, sd15, clip):
    before = model_state(sd15)
    run_lrdm(pack, sd15, clip)
    pack.nodes.patch_nodes.ApplyLayout.execute(sd15, clip, layout(pack), PROMPT, **_method())
    assert model_state(sd15) == before


def test_sdxl_family_uses_three_tuple_blocks(pack, sdxl, clip, monkeypatch):
    calls = _spy_capture(pack, monkeypatch)
    out = run_lrdm(pack, sdxl, clip)
    assert torch.isfinite(out).all()
    # like SDXL, the tiny model's two highest-resolution output levels have no transformers (popped from the end)
    assert {(c[0], c[1]) for c in calls} == {
        (("output", 1), 0),
        (("output", 1), 1),
        (("output", 3), 0),
        (("output", 3), 1),
    }


def test_v_prediction_and_samplers(pack, clip):
    model = build_model("sd21v")
    for sampler, scheduler in (
        ("euler", "normal"),
        ("heun", "karras"),
        ("dpmpp_2m", "sgm_uniform"),
        ("ddim", "ddim_uniform"),
        ("euler_ancestral", "simple"),
    ):
        out = run_lrdm(pack, model, clip, sampler=sampler, scheduler=scheduler)
        assert torch.isfinite(out).all(), (sampler, scheduler)


def test_multi_stage_evaluations_follow_the_window_by_sigma(pack, sd15, clip):
    seen = []
    spec = pack.nodes.host.spec.build_spec(
        clip, layout(pack), PROMPT, pack.lrdm_core.config.LRDMConfig(t0=0.5), observer=seen.append
    )
    model = pack.nodes.host.runtime.install(sd15, spec)
    pack.nodes.sampler_node.sample(model, *_pos_neg(clip), latent(), 1, 4, 7.5, "dpm_2", "normal", 1.0)
    assert seen[0].layered_calls == 4  # 2 layered steps x 2 evaluations (at sigma_i and a midpoint)
    seen.clear()
    pack.nodes.sampler_node.sample(model, *_pos_neg(clip), latent(), 1, 4, 7.5, "heun", "normal", 1.0)
    assert seen[0].layered_calls == 4  # heun's corrector of the last layered step (at sigma_k) is layered too


def test_batch_img2img_and_bf16(pack, sd15, clip):
    lat = latent(batch=2, value=0.3)
    out = run_lrdm(pack, sd15, clip, lat=lat, denoise=0.6)
    assert out.shape == (2, 4, 16, 16) and torch.isfinite(out).all()
    assert not torch.equal(out[0], out[1])  # each batch item has its own noise and guidance
    assert not torch.equal(out, run_stock(sd15, clip, lat=lat, denoise=0.6))
    bf16 = build_model("sd15", dtype=torch.bfloat16)
    assert torch.isfinite(run_lrdm(pack, bf16, clip)).all()


@pytest.mark.parametrize("mode", ["state", "eps", "none"])
def test_guidance_modes_run(pack, sd15, clip, mode):
    out = run_lrdm(pack, sd15, clip, guidance=mode)
    assert torch.isfinite(out).all()


def test_dit_model_is_refused_clearly(pack, clip):
    import dataclasses

    import comfy.model_patcher
    import comfy.supported_models
    from comfy.ldm.flux.model import FluxParams

    cfg = {
        "image_model": "flux",
        "in_channels": 16,
        "out_channels": 16,
        "vec_in_dim": 32,
        "context_in_dim": 64,
        "hidden_size": 64,
        "mlp_ratio": 2.0,
        "num_heads": 2,
        "depth": 1,
        "depth_single_blocks": 1,
        "axes_dim": [8, 12, 12],
        "theta": 10000,
        "qkv_bias": True,
        "guidance_embed": False,
        "patch_size": 2,
    }
    if "txt_ids_dims" in {f.name for f in dataclasses.fields(FluxParams)}:  # a required field on newer hosts (0.33.0)
        cfg["txt_ids_dims"] = []  # Flux.1, as comfy/model_detection.py sets it
    flux = comfy.model_patcher.ModelPatcher(comfy.supported_models.Flux(cfg).get_model({}), "cpu", "cpu")
    with pytest.raises(pack.lrdm_core.errors.LRDMError) as e:
        run_lrdm(pack, flux, clip)
    msg = str(e.value)
    assert "Flux" in msg and "SD1.5" in msg and msg.startswith("Expected")


def _spy_capture(pack, monkeypatch) -> list:
    """Record (block, transformer_index, sigma) of every capture-hook call."""
    calls = []
    original = pack.nodes.host.capture.CaptureAttention.__call__

    def spy(self, q, k, v, extra_options):
        calls.append((tuple(extra_options["block"]), extra_options["block_index"], float(extra_options["sigmas"][0])))
        return original(self, q, k, v, extra_options)

    monkeypatch.setattr(pack.nodes.host.capture.CaptureAttention, "__call__", spy)
    return calls


def _pos_neg(clip):
    return (
        clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT)),
        clip.encode_from_tokens_scheduled(clip.tokenize("")),
    )


def _method():
    from helpers import METHOD

    return dict(METHOD)


def test_authors_fuse_mode_runs_layers_as_trajectories(pack, sd15, clip):
    steps, n = 6, 2
    counted, counter = with_counter(sd15)
    out = run_lrdm(pack, counted, clip, steps=steps, t0=0.5, composition="fuse")
    k = 3
    assert torch.isfinite(out).all()
    assert counter.rows == 1 + (n + 1) * k * 2 + (steps - k) * 2  # capture + n+1 trajectories + the rest
    assert not torch.equal(out, run_lrdm(pack, sd15, clip, steps=steps, t0=0.5))
    with pytest.raises(pack.lrdm_core.errors.LRDMError, match="inpainting"):
        lat = dict(latent(), noise_mask=torch.ones(1, 1, 16, 16))
        run_lrdm(pack, sd15, clip, lat=lat, composition="fuse")


def test_region_bias_alone_on_the_papers_preset(pack, sd15, clip):
    """The paper's preset (no bias) isolates attn_bias: it changes the result and costs no evaluation."""
    base = run_lrdm(pack, sd15, clip, **PAPER)
    biased = run_lrdm(pack, sd15, clip, **dict(PAPER, attn_bias=1.0))
    assert torch.isfinite(biased).all() and not torch.equal(base, biased)
    # the bias alone (no layered window) is the attention-bias baseline: still only the stock evaluations
    counted, counter = with_counter(sd15)
    only_bias = run_lrdm(pack, counted, clip, steps=4, **dict(OFF, attn_bias=1.0))
    assert counter.rows == 4 * 2 and not torch.equal(only_bias, run_stock(sd15, clip))


def test_self_bias_alone_without_attn_bias_takes_no_replace_and_costs_no_evaluation(pack, sd15, clip):
    config = pack.lrdm_core.config.LRDMConfig(attn_bias=0.0, self_bias=0.5)
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), PROMPT, config)
    options = pack.nodes.host.runtime.install(sd15, spec).model_options["transformer_options"]
    assert "patches_replace" not in options  # only the two markers, in the chained patch lists
    assert [p.kind for p in options["patches"]["attn1_patch"] + options["patches"]["attn2_patch"]] == ["attn1", "attn2"]
    counted, counter = with_counter(sd15)
    only_self = run_lrdm(pack, counted, clip, steps=4, **dict(OFF, self_bias=0.5))
    assert counter.rows == 4 * 2 and torch.isfinite(only_self).all()
    assert not torch.equal(only_self, run_stock(sd15, clip))
    both = run_lrdm(pack, sd15, clip, **dict(PAPER, attn_bias=1.0, self_bias=0.5))
    assert not torch.equal(both, run_lrdm(pack, sd15, clip, **dict(PAPER, attn_bias=1.0)))


def test_rgb_delta_lies_in_the_colour_span(pack, sd15, clip):
    """delta_space 'rgb': every offset pixel is in span(latent_rgb_factors), and the result differs from 'latent'."""
    seen = []
    config = pack.lrdm_core.config.LRDMConfig(t0=0.5, delta_space="rgb")
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), PROMPT, config, observer=seen.append)
    model = pack.nodes.host.runtime.install(sd15, spec)
    pack.nodes.sampler_node.sample(model, *_pos_neg(clip), latent(), 1, 4, 7.5, "euler", "normal", 1.0)
    f = torch.tensor(sd15.model.latent_format.latent_rgb_factors)  # [C, 3]
    for xi in seen[0].offsets:
        pixels = xi.permute(0, 2, 3, 1).reshape(-1, xi.shape[1])  # [B*H*W, C]
        assert pixels.abs().max() > 0
        assert torch.allclose(pack.lrdm_core.guidance.colour_part(pixels, f), pixels, atol=1e-4)
    assert not torch.equal(run_lrdm(pack, sd15, clip), run_lrdm(pack, sd15, clip, delta_space="latent"))


def test_region_bias_also_acts_with_the_fuse_composition(pack, sd15, clip):
    fused = run_lrdm(pack, sd15, clip, composition="fuse")
    assert not torch.equal(fused, run_lrdm(pack, sd15, clip, composition="fuse", attn_bias=1.0))


def test_bias_end_limits_the_region_bias_to_the_first_steps(pack, sd15, clip):
    base = run_lrdm(pack, sd15, clip, steps=6, attn_bias=0.0, self_bias=0.0)  # the reference: biases off
    assert torch.equal(run_lrdm(pack, sd15, clip, steps=6, attn_bias=1.0, self_bias=0.5, bias_end=0.0), base)
    early = run_lrdm(pack, sd15, clip, steps=6, attn_bias=1.0, self_bias=0.5, bias_end=0.5)
    full = run_lrdm(pack, sd15, clip, steps=6, attn_bias=1.0, self_bias=0.5)
    assert torch.isfinite(early).all() and not torch.equal(early, base) and not torch.equal(early, full)


def test_attn_bias_also_biases_each_layer_towards_its_own_region(pack, sd15, clip):
    """The plan names every layer cond: its phrase's columns get +b inside its region, -b outside (soft edges)."""
    seen = []
    config = pack.lrdm_core.config.LRDMConfig(t0=0.5, attn_bias=1.0, self_bias=0.0)
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), PROMPT, config, observer=seen.append)
    model = pack.nodes.host.runtime.install(sd15, spec)
    pack.nodes.sampler_node.sample(model, *_pos_neg(clip), latent(), 1, 4, 7.5, "euler", "normal", 1.0)
    state = seen[0]
    plan = state.bias_plan
    assert sorted(i for i, _, _ in plan.layers.values()) == [0, 1]
    for uid, (i, cols, region) in plan.layers.items():
        assert cols == list(spec.phrase_positions[i]) and torch.equal(region, state.masks[i : i + 1])
        assert plan.lengths[uid] == 77 and plan.wants("attn2", uid) and not plan.wants("attn1", uid)
        g = torch.Generator().manual_seed(i)
        q, k = torch.randn(1, 256, 64, generator=g), torch.randn(1, 77, 64, generator=g)  # a 16x16 block, 2 heads
        bias = plan.mask("attn2", uid, (16, 16), q, k, 2)  # [N, T] at the latent's own grid
        b = bias[:, cols[0]].max()  # the layer's strength in logits (model-free units x this block's range)
        m = state.masks[i].reshape(-1)  # [N], sub-cell coverage at the edges
        assert (m == 1).any() and (m == 0).any() and b > 0
        for c in cols:
            assert torch.allclose(bias[:, c], b * (2.0 * m - 1.0), atol=1e-6)
        assert torch.all(bias[:, [c for c in range(77) if c not in cols]] == 0)
    assert not plan.wants("attn2", "another uuid")
    assert plan.mask("attn2", uid, (16, 16), q, k[:, :4], 2) is None  # 4 keys: not this cond's text
