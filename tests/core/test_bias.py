"""lrdm_core.bias: the plan's biases per chunk (tiling over repeated contexts, zero padding of extra keys, the
cache; as factors, multiplied out by BiasPlan.mask) and grouping of chunks."""

import pytest
import torch

from lrdm_core.bias import BiasPlan, chunk_runs, region_logit_bias, segment_logit_bias
from lrdm_core.bias_units import logit_range, row_logits


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


def test_wants_names_the_prompt_for_both_kinds_and_layers_for_cross_attention_only():
    plan = _plan()
    assert plan.wants("attn2", "P") and plan.wants("attn1", "P")
    assert plan.wants("attn2", "L0") and not plan.wants("attn1", "L0")
    assert not plan.wants("attn2", "uncond") and not plan.wants("attn1", "uncond")
    off = _plan(strength=0.0, self_strength=0.0)
    assert not any(off.wants(kind, u) for kind in ("attn1", "attn2") for u in ("P", "L0"))


HEADS = 2


def _qk(n: int, t: int, seed: int = 0, b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A chunk's q [b, n, HEADS*4] and k [b, t, HEADS*4] as ComfyUI hands them to attention."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, n, HEADS * 4, generator=g), torch.randn(b, t, HEADS * 4, generator=g)


def _range(q, k, rows) -> float:
    """The chunk's logit range on the sampled rows (mean over its batch rows): the unit of a strength."""
    return float(logit_range(row_logits(q, k, HEADS, torch.cat(rows) if isinstance(rows, list) else rows)).mean())


def test_cross_mask_is_the_region_bias_in_logit_range_units_and_repeats_with_a_repeated_context():
    """Uncapped, strength s is s x the chunk's logit range on every object's columns (+ inside, - outside)."""
    plan = _plan()
    plan.cap = 1.0
    q, k = _qk(4, 6)
    once = plan.mask("attn2", "P", (2, 2), q, k, HEADS)  # [4, 6]
    rows = plan.pattern("attn2", "P", (2, 2), 6, "cpu").rows
    want = region_logit_bias(plan.masks, [[1], [3]], 6, 2.0 * _range(q, k, rows), 2, 2)
    torch.testing.assert_close(once, want)
    twice = plan.mask("attn2", "P", (2, 2), q, torch.cat([k, k], dim=1), HEADS)  # ComfyUI repeated the context
    torch.testing.assert_close(twice, torch.cat([once, once], dim=1))
    layer = plan.mask("attn2", "L0", (2, 2), q, k, HEADS)
    rows = plan.pattern("attn2", "L0", (2, 2), 6, "cpu").rows
    torch.testing.assert_close(layer, region_logit_bias(plan.masks[:1], [[2]], 6, 2.0 * _range(q, k, rows), 2, 2))
    assert plan.mask("attn2", "P", (2, 2), q, k[:, :4], HEADS) is None  # 4 keys: an image prompt's tokens


@pytest.mark.parametrize("kind, res, t", [("attn2", (2, 2), 6), ("attn1", (4, 4), 16)])
def test_masks_follow_the_models_logit_scale(kind, res, t):
    """The same strength (uncapped) on a model with 3x larger logits is a 3x larger mask (model-free units)."""
    plan = _plan()
    plan.cap = 1.0
    q, k = _qk(res[0] * res[1], t, seed=1)
    a, b = plan.mask(kind, "P", res, q, k, HEADS), plan.mask(kind, "P", res, 3.0 * q, k, HEADS)
    assert a.abs().max() > 0
    torch.testing.assert_close(b, 3.0 * a, rtol=1e-3, atol=1e-3)


def test_self_mask_pads_extra_keys_with_zeros_and_refuses_other_counts():
    plan = _plan()
    plan.cap = 1.0
    q, k = _qk(16, 16)
    own = plan.mask("attn1", "P", (4, 4), q, k, HEADS)
    rows = plan.pattern("attn1", "P", (4, 4), 16, "cpu").rows
    torch.testing.assert_close(own, segment_logit_bias(plan.segments, 3.0 * _range(q, k, rows), 4, 4))
    extended = plan.mask("attn1", "P", (4, 4), q, torch.cat([k, 5 * k], dim=1), HEADS)  # a reference's keys
    torch.testing.assert_close(extended[:, :16], own)  # the strength from the block's own keys only
    assert not extended[:, 16:].any()
    assert plan.mask("attn1", "P", (4, 4), q, k[:, :10], HEADS) is None


def test_masks_take_the_queries_dtype_and_patterns_are_cached_per_resolution():
    plan = _plan()
    q, k = _qk(16, 16)
    assert plan.mask("attn1", "P", (4, 4), q.half(), k.half(), HEADS).dtype == torch.float16
    assert plan.pattern("attn1", "P", (4, 4), 16, "cpu") is plan.pattern("attn1", "P", (4, 4), 16, "cpu")
    assert plan.pattern("attn2", "P", (4, 4), 6, "cpu") is plan.pattern("attn2", "P", (4, 4), 6, "cpu")
    assert plan.pattern("attn2", "P", (2, 2), 6, "cpu") is not plan.pattern("attn2", "P", (4, 4), 6, "cpu")


def test_zero_decay_or_heads_first_layout():
    """Decay 0: a zero mask; ComfyUI's skip_reshape layout [B, heads, N, d] gives the same mask."""
    plan = _plan()
    q, k = _qk(4, 6)
    assert not plan.mask("attn2", "P", (2, 2), q, k, HEADS, decay=0.0).any()
    qh, kh = (x.reshape(x.shape[0], -1, HEADS, 4).transpose(1, 2) for x in (q, k))  # [B, heads, N|T, d]
    torch.testing.assert_close(
        plan.mask("attn2", "P", (2, 2), qh, kh, HEADS, heads_first=True), plan.mask("attn2", "P", (2, 2), q, k, HEADS)
    )


def test_chunk_runs_group_consecutive_chunks_with_the_same_mask():
    m1, m2 = torch.zeros(1), torch.zeros(1)
    assert chunk_runs([None, None, m1, m1, m2, None]) == [(0, 2, None), (2, 4, m1), (4, 5, m2), (5, 6, None)]
    assert chunk_runs([m1]) == [(0, 1, m1)]
