"""lrdm_core.bias: the plan's masks per chunk (tiling over repeated contexts, zero padding of extra keys, the
cache), grouping of chunks, and the sliced SDPA against an explicit fp32 softmax(q k^T / sqrt(d) + bias) v."""

import pytest
import torch

from lrdm_core.bias import BiasPlan, chunk_runs, region_logit_bias, segment_logit_bias, sliced_attention


def _plan(strength=2.0, self_strength=3.0) -> BiasPlan:
    """Two objects in a 4x4 latent: columns 1 and 3 of a 6-token prompt; one layer cond 'L0' for object 0."""
    masks = torch.zeros(2, 4, 4)
    masks[0, :2, :2] = 1.0
    masks[1, 2:, 2:] = 1.0
    segments = torch.cat([masks, (1 - masks.sum(0, keepdim=True)).clamp(min=0)])  # [3, 4, 4]
    return BiasPlan(
        uuids=frozenset({"P"}),
        columns=[[1], [3]],
        masks=masks,
        strength=strength,
        segments=segments,
        self_strength=self_strength,
        layers={"L0": (0, [2], masks[:1])},
        lengths={"P": 6, "L0": 6},
    )


def explicit(q, k, v, heads, bias):
    """The explicit computation the bias used before (oracle): fp32 logits of every head, [N, T] bias added."""
    b, n, hd = q.shape
    d = hd // heads
    qh, kh, vh = (t.float().reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))  # [B, h, N|T, d]
    logits = qh @ kh.transpose(-1, -2) * d**-0.5 + bias.float()  # [B, h, N, T]
    return (logits.softmax(-1) @ vh).transpose(1, 2).reshape(b, n, hd)  # [B, N, heads*d]


def test_wants_names_the_prompt_for_both_kinds_and_layers_for_cross_attention_only():
    plan = _plan()
    assert plan.wants("attn2", "P") and plan.wants("attn1", "P")
    assert plan.wants("attn2", "L0") and not plan.wants("attn1", "L0")
    assert not plan.wants("attn2", "uncond") and not plan.wants("attn1", "uncond")
    off = _plan(strength=0.0, self_strength=0.0)
    assert not any(off.wants(kind, u) for kind in ("attn1", "attn2") for u in ("P", "L0"))


def test_cross_mask_is_the_region_bias_and_repeats_with_a_repeated_context():
    plan = _plan()
    once = plan.mask("attn2", "P", (2, 2), 6, torch.float32, "cpu")  # [4, 6]
    assert torch.equal(once, region_logit_bias(plan.masks, [[1], [3]], 6, 2.0, 2, 2))
    twice = plan.mask("attn2", "P", (2, 2), 12, torch.float32, "cpu")  # ComfyUI repeated the context
    assert torch.equal(twice, torch.cat([once, once], dim=1))
    layer = plan.mask("attn2", "L0", (2, 2), 6, torch.float32, "cpu")
    assert torch.equal(layer, region_logit_bias(plan.masks[:1], [[2]], 6, 2.0, 2, 2))
    assert plan.mask("attn2", "P", (2, 2), 4, torch.float32, "cpu") is None  # 4 keys: an image prompt's tokens


def test_self_mask_pads_extra_keys_with_zeros_and_refuses_other_counts():
    plan = _plan()
    own = plan.mask("attn1", "P", (4, 4), 16, torch.float32, "cpu")
    assert torch.equal(own, segment_logit_bias(plan.segments, 3.0, 4, 4))
    extended = plan.mask("attn1", "P", (4, 4), 32, torch.float32, "cpu")  # a reference's 16 keys appended
    assert torch.equal(extended[:, :16], own) and not extended[:, 16:].any()
    assert plan.mask("attn1", "P", (4, 4), 20, torch.float32, "cpu") is None


def test_masks_are_cached_per_resolution_and_dtype():
    plan = _plan()
    a = plan.mask("attn1", "P", (4, 4), 16, torch.float16, "cpu")
    assert a.dtype == torch.float16 and plan.mask("attn1", "P", (4, 4), 16, torch.float16, "cpu") is a
    assert plan.mask("attn1", "P", (4, 4), 16, torch.float32, "cpu") is not a
    assert plan.mask("attn2", "P", (4, 4), 6, torch.float16, "cpu") is plan.mask(
        "attn2", "P", (4, 4), 6, torch.float16, "cpu"
    )


def test_chunk_runs_group_consecutive_chunks_with_the_same_mask():
    m1, m2 = torch.zeros(1), torch.zeros(1)
    assert chunk_runs([None, None, m1, m1, m2, None]) == [(0, 2, None), (2, 4, m1), (4, 5, m2), (5, 6, None)]
    assert chunk_runs([m1]) == [(0, 1, m1)]


@pytest.mark.parametrize("budget", [2**30, 3 * 4 * 2 * 7 * 4])  # one slice; slices of 3 query rows
def test_sliced_attention_equals_the_explicit_computation(budget):
    g = torch.Generator().manual_seed(0)
    b, n, t, heads, d = 2, 10, 7, 4, 8
    q, k, v = (torch.randn(b, m, heads * d, generator=g) for m in (n, t, t))
    bias = 5.0 * torch.randn(n, t, generator=g)
    got = sliced_attention(q, k, v, heads, bias, budget_bytes=budget)
    torch.testing.assert_close(got, explicit(q, k, v, heads, bias), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, explicit(q, k, v, heads, torch.zeros(n, t)), atol=1e-3)  # the bias acts


def test_sliced_attention_keeps_comfys_head_first_conventions_and_half_precision():
    g = torch.Generator().manual_seed(1)
    b, n, heads, d = 1, 9, 2, 8
    q, k, v = (torch.randn(b, n, heads * d, generator=g) for _ in range(3))
    bias = 6.0 * torch.randn(n, n, generator=g)
    ref = explicit(q, k, v, heads, bias)  # [B, N, heads*d]
    split = [t.reshape(b, n, heads, d).transpose(1, 2) for t in (q, k, v)]  # [B, h, N, d]
    head_first = sliced_attention(*split, heads, bias, skip_reshape=True, skip_output_reshape=True)
    torch.testing.assert_close(head_first.transpose(1, 2).reshape(b, n, heads * d), ref, rtol=1e-5, atol=1e-5)
    half = sliced_attention(q.half(), k.half(), v.half(), heads, bias)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), ref, rtol=0, atol=2e-2)
