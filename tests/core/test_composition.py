"""Layered composition math (lrdm_core.composition): Eq. 8's masked sum, the 'state' shift, chunk offsets, counts."""

import torch

from lrdm_core.composition import compose, evaluation_count, rows_per_layered_step, shift_chunks, state_shift
from lrdm_core.guidance import guidance_offset
from lrdm_core.raster import composition_weights


def _two_regions():
    """Two disjoint 4x4 regions on an 8x8 grid, weights and background weight (background covers the rest)."""
    masks = torch.zeros(2, 8, 8)
    masks[0, :4, :4] = 1.0
    masks[1, 4:, 4:] = 1.0
    weights, bg = composition_weights(masks, [0, 1])
    return masks, weights, bg


def test_compose_is_the_masked_sum():
    _, weights, bg = _two_regions()
    outs = [torch.full((1, 4, 8, 8), v) for v in (1.0, 2.0)]
    comp = compose(torch.full((1, 4, 8, 8), 5.0), outs, weights, bg)
    assert comp.shape == (1, 4, 8, 8)
    assert (comp[..., :4, :4] == 1.0).all() and (comp[..., 4:, 4:] == 2.0).all()
    assert (comp[..., :4, 4:] == 5.0).all() and (comp[..., 4:, :4] == 5.0).all()


def test_state_shift_leaves_the_background_unshifted_issue17_3():
    """The authors' background trajectory starts from x_T itself: no -strength_out * sum delta on it."""
    masks, weights, bg = _two_regions()
    deltas = torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([[0.0, 2.0, 0.0, 0.0]])
    offsets = [guidance_offset(d, m, 1.0, 1.0) for d, m in zip(deltas, masks, strict=True)]  # outside: -delta
    shift = state_shift(offsets, weights)
    assert shift.shape == (1, 4, 8, 8)
    assert torch.equal(shift[..., :4, :4], offsets[0][..., :4, :4])  # xi_1 inside region 1
    assert torch.equal(shift[..., 4:, 4:], offsets[1][..., 4:, 4:])
    assert (shift[..., :4, 4:] == 0).all() and (shift[..., 4:, :4] == 0).all()  # background: x_T unchanged


def test_shift_chunks_adds_each_offset_to_its_own_chunk():
    x = torch.zeros(3, 4, 2, 2)  # three cond chunks of batch 1
    off = torch.ones(1, 4, 2, 2)
    out = shift_chunks(x, ["a", "b", "c"], {"b": off, "c": 2 * off})
    assert (out[0] == 0).all() and (out[1] == 1).all() and (out[2] == 2).all()
    assert (shift_chunks(x, ["a", "b", "c"], {"b": torch.ones(1, 4, 3, 3)}) == 0).all()  # area conds: skipped


def test_rows_count_one_uncond_per_shifted_layer_issue17_1():
    """Eq. 8 with CFG per layer: background + uncond + n layers + n unconds on the layers' own inputs."""
    assert rows_per_layered_step(3, shifted=True) == 2 * 3 + 2
    assert rows_per_layered_step(3, shifted=False) == 3 + 2  # 'state' / 'none': every row on the same x
    assert rows_per_layered_step(3, shifted=True, cfg=False) == 4  # cfg 1: no uncond rows at all
    assert evaluation_count(steps=2, layered=1, n=2, shifted=True) == 1 + 1 * (2 * 2 + 2) + 1 * 2
