"""Region biases in model-free units (lrdm_core/bias_units.py, issue 18): the bias follows the block's own logit
scale, is estimated from a few query rows, decays over time, and the cap holds on the full attention."""

import pytest
import torch

from lrdm_core.bias_units import (
    bias_decay,
    capped_bias,
    cross_bias_strengths,
    logit_range,
    region_rows,
    row_logits,
    scaled_region_bias,
    self_bias_strength,
)

HEADS, D, N, T = 4, 8, 64, 12


def _qkv(seed: int = 0, b: int = 2, t: int = T) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, N, HEADS * D, generator=g), torch.randn(b, t, HEADS * D, generator=g)


def _full_logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    qh = q.reshape(q.shape[0], -1, HEADS, D).transpose(1, 2)  # [B, h, N, d]
    kh = k.reshape(k.shape[0], -1, HEADS, D).transpose(1, 2)  # [B, h, T, d]
    return qh @ kh.transpose(-1, -2) * D**-0.5  # [B, h, N, T]


def _region(x0: int, y0: int, x1: int, y1: int) -> torch.Tensor:
    m = torch.zeros(8, 8)
    m[y0:y1, x0:x1] = 1.0
    return m.reshape(-1)  # [N]


def test_row_logits_are_rows_of_the_full_logits() -> None:
    """q_rows k^T / sqrt(d): exactly the chosen rows of the block's logits, per head."""
    q, k = _qkv()
    rows = torch.tensor([0, 9, 33, 63])
    assert torch.allclose(row_logits(q, k, HEADS, rows), _full_logits(q, k)[:, :, rows], atol=1e-5)
    qh, kh = (t.reshape(t.shape[0], -1, HEADS, D).transpose(1, 2) for t in (q, k))  # ComfyUI's skip_reshape
    assert torch.allclose(row_logits(qh, kh, HEADS, rows, heads_first=True), _full_logits(q, k)[:, :, rows])


def test_region_rows_inside_the_region_and_fallback() -> None:
    """Up to `per` queries inside each region (weight >= 0.5); a region thinner than half a cell gets its argmax."""
    box = _region(2, 2, 6, 6)
    thin = torch.zeros(N)
    thin[17] = 0.3
    rows = region_rows(torch.stack([box, thin]), per=5)
    assert rows[0].numel() == 5 and bool((box[rows[0]] == 1).all()) and rows[0].unique().numel() == 5
    assert rows[1].tolist() == [17]


@pytest.mark.parametrize("scale", [0.25, 4.0])
def test_uncapped_bias_follows_the_models_logit_scale(scale: float) -> None:
    """Model-free units: a model whose logits are `scale` times larger gets a `scale` times larger bias for the
    same strength, and the bias is strength x the (row max - row min) range."""
    q, k = _qkv()
    box = _region(0, 0, 4, 4)
    unit = (2 * box - 1)[None]  # [1, N]
    rows = region_rows(box[None])
    b1 = cross_bias_strengths(q, k, HEADS, rows, unit, [[3, 4]], strength=0.5)  # [B, 1]
    b2 = cross_bias_strengths(q * scale, k, HEADS, rows, unit, [[3, 4]], strength=0.5)
    assert torch.allclose(b2, scale * b1, rtol=1e-4)
    assert torch.allclose(b1[:, 0], 0.5 * logit_range(row_logits(q, k, HEADS, rows[0])), rtol=1e-5)


def test_zero_strength_or_decay_is_off() -> None:
    """0 = off: no bias at all, whatever the cap."""
    q, k = _qkv()
    box = _region(0, 0, 4, 4)
    args = (q, k, HEADS, region_rows(box[None]), (2 * box - 1)[None], [[1]])
    assert not cross_bias_strengths(*args, strength=0.0, cap=0.5).any()
    assert not cross_bias_strengths(*args, strength=1.0, cap=0.5, decay=0.0).any()
    qs, ks = _qkv(t=N)
    assert not self_bias_strength(qs, ks, HEADS, torch.arange(4), torch.ones(4, N), strength=0.0).any()


def test_cross_attention_cap_holds_on_the_full_attention() -> None:
    """A strength far above the cap: the object's columns take exactly `cap` of its region's sampled queries'
    mass (mean over heads and rows) once the mask is applied to the block's full logits; cap 1 = strength alone."""
    q, k = _qkv(1)
    boxes = torch.stack([_region(0, 0, 4, 4), _region(2, 2, 6, 6), _region(4, 4, 8, 8)])  # [3, N], overlapping
    unit, cols = 2 * boxes - 1, [[2, 3], [7], [9, 10]]
    rows = region_rows(boxes)
    b = cross_bias_strengths(q, k, HEADS, rows, unit, cols, strength=5.0, cap=0.6)  # [B, 2]
    probs = (_full_logits(q, k) + scaled_region_bias(unit, cols, T, b)[:, None]).softmax(-1)  # [B, h, N, T]
    for i in range(3):
        mass = probs[:, :, rows[i]][..., cols[i]].sum(-1).mean(dim=(1, 2))  # [B]
        assert torch.allclose(mass, torch.full_like(mass, 0.6), atol=2e-3), mass
    qh, kh = (t.reshape(t.shape[0], -1, HEADS, D).transpose(1, 2) for t in (q, k))  # ComfyUI's skip_reshape
    same = cross_bias_strengths(qh, kh, HEADS, rows, unit, cols, strength=5.0, cap=0.6, heads_first=True)
    assert torch.allclose(same, b, atol=1e-4)
    free = cross_bias_strengths(q, k, HEADS, rows, unit, cols, strength=5.0, cap=1.0)
    assert bool((free > b).all())


def test_self_attention_cap_holds_on_the_full_attention() -> None:
    """Self-attention: the bias b (2 S - 1) leaves the query's own segment `cap` of its mass."""
    q, k = _qkv(2, t=N)
    box = _region(0, 0, 4, 8)
    seg = torch.stack([box, 1 - box])  # [2, N] hard segments
    same = seg.T @ seg  # [N, N]
    rows = torch.arange(0, N, 7)
    b = self_bias_strength(q, k, HEADS, rows, same[rows], strength=10.0, cap=0.8)  # [B]
    probs = (_full_logits(q, k) + b[:, None, None, None] * (2 * same - 1)).softmax(-1)  # [B, h, N, N]
    mass = (probs[:, :, rows] * same[rows]).sum(-1).mean(dim=(1, 2))  # [B]
    assert torch.allclose(mass, torch.full_like(mass, 0.8), atol=2e-3), mass


def test_capped_bias_never_lowers_a_mass_above_the_cap() -> None:
    """A region already holding more than `cap` gets no bias (0), not a negative one; cap 1 = the limit."""

    def mass(b: torch.Tensor) -> torch.Tensor:  # one key of 4 with logit 5 (mass ~0.98 at b = 0)
        return torch.sigmoid(5.0 + b - torch.log(torch.tensor(3.0)))

    assert capped_bias(mass, torch.tensor([3.0]), cap=0.5).item() == 0.0
    assert capped_bias(mass, torch.tensor([3.0]), cap=1.0).item() == 3.0


def test_self_attention_cap_with_soft_segments() -> None:
    """Feathered (soft) segment weights: the cap still holds within 0.01 (S rounded to 1/32 when solving)."""
    q, k = _qkv(3, t=N)
    ramp = torch.linspace(0, 1, 8).repeat(8, 1).reshape(-1)  # [N]: a soft left-right split
    seg = torch.stack([ramp, 1 - ramp])  # [2, N]
    same = seg.T @ seg  # [N, N]
    rows = torch.arange(0, N, 5)
    b = self_bias_strength(q, k, HEADS, rows, same[rows], strength=10.0, cap=0.7)  # [B]
    probs = (_full_logits(q, k) + b[:, None, None, None] * (2 * same - 1)).softmax(-1)  # [B, h, N, N]
    mass = (probs[:, :, rows] * same[rows]).sum(-1).mean(dim=(1, 2))  # [B]
    assert torch.allclose(mass, torch.full_like(mass, 0.7), atol=1e-2), mass


def test_bias_decay() -> None:
    """Constant until bias_end with power 0; (1 - progress)^power before it; 0 after."""
    assert bias_decay(0.5, end=0.8) == 1.0 and bias_decay(0.8, end=0.8) == 0.0
    assert bias_decay(0.5, power=5.0) == pytest.approx(0.5**5)
    assert bias_decay(0.0, power=5.0) == 1.0


@pytest.mark.parametrize("name, old", [("attn_bias", 12.0), ("self_bias", 6.0)])
def test_the_old_logit_defaults_are_refused_with_the_fix(name: str, old: float) -> None:
    """A workflow saved before the units changed carries 12 / 6 (logits): refused, never silently reinterpreted,
    with what was expected, what came and the new default to set."""
    from lrdm_core.config import PRESETS, LRDMConfig, method_value_error
    from lrdm_core.errors import LRDMError

    msg = method_value_error(**{name: old})
    default = getattr(PRESETS["plus"], name)
    assert msg is not None and msg.startswith(f"Expected {name} to be a finite number in [0, 4], got {old!r}.")
    assert "old logit values (12 and 6)" in msg and f"the default is {default:g}" in msg
    with pytest.raises(LRDMError, match="fractions of each attention block's own logit range"):
        LRDMConfig(**{name: old})
    assert method_value_error(attn_bias=default, self_bias=None) is None  # None: a linked input, checked later


def test_step_progress() -> None:
    """The fraction of the steps done at an evaluation: 0 at the first sigma, i / S at step i's."""
    from lrdm_core.window import step_progress

    sigmas = torch.tensor([10.0, 5.0, 2.0, 1.0, 0.0])
    assert [step_progress(sigmas, s) for s in (10.0, 5.0, 3.0, 1.0)] == [0.0, 0.25, 0.5, 0.75]
