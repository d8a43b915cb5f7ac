"""Properties of the core on generated inputs (hypothesis): any valid layout, any latent size, any strengths.

- rasterising a valid layout gives [n, H, W] masks in [0, 1] of the latent's size, or refuses exactly the
  regions under one latent cell (with the pack's 'Expected ..., got ...' message);
- composition weights are >= 0 and sum to 1 at every cell, for any masks and stacking order;
- the vision guidance (delta, xi, the VP scale) is finite and bounded by the latent and the strengths;
- the JSON schema round-trips, the config accepts exactly the finite in-range values, and the layered
  window covers round(t0 * steps) steps of any decreasing schedule.

Settings: the hypothesis profile of tests/core/conftest.py (LRDM_HYPOTHESIS_PROFILE=thorough for more examples).
"""

import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lrdm_core.config import MAX_STRENGTH, LRDMConfig
from lrdm_core.errors import LayoutError, LRDMError
from lrdm_core.guidance import guidance_offset, top_k_mean, vp_scale
from lrdm_core.layout import MAX_OBJECTS, Layout, LayoutObject, layout_from_json
from lrdm_core.raster import (
    MIN_REGION_CELLS,
    canvas_mismatch,
    composition_weights,
    object_mask,
    paint_order,
    rasterize,
)
from lrdm_core.window import in_window, layered_steps, sigma_threshold

sides = st.integers(min_value=1, max_value=40)  # latent cells along one side


@st.composite
def intervals(draw) -> tuple[float, float]:
    """0 <= a < b <= 1 with a non-zero length."""
    a = draw(st.floats(0.0, 0.999, allow_nan=False))
    b = draw(st.floats(a + 1e-3, 1.0, allow_nan=False))
    return a, b


@st.composite
def soft_masks(draw) -> torch.Tensor:
    """A soft mask [h, w] in [0, 1] with some area, at any resolution (not the latent's)."""
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    keep = torch.rand(h, w, generator=g) < draw(st.floats(0.05, 1.0))
    m = torch.rand(h, w, generator=g) * keep
    m[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = draw(st.floats(0.01, 1.0))
    if draw(st.booleans()):
        m = (m > 0.5).float() + m * 0  # hard mask (keeps the forced cell when it is > 0.5)
        if float(m.max()) == 0.0:
            m[0, 0] = 1.0
    return m


@st.composite
def layout_objects(draw) -> LayoutObject:
    """A box, a mask, or a mask cut to a box; an optional explicit z."""
    kind = draw(st.sampled_from(["box", "mask", "both"]))
    box = None
    if kind != "mask":
        (x0, x1), (y0, y1) = draw(intervals()), draw(intervals())
        box = (x0, y0, x1, y1)
    mask = draw(soft_masks()) if kind != "box" else None
    z = draw(st.none() | st.integers(-3, 3))
    return LayoutObject(
        phrase=draw(st.sampled_from(["a cat", "a red apple", "x", "a dog on a mat"])), box=box, mask=mask, z=z
    )


layouts = st.builds(lambda objs: Layout(objects=tuple(objs)), st.lists(layout_objects(), min_size=1, max_size=6))


@given(layouts, sides, sides)
def test_valid_layouts_rasterise_to_unit_masks_of_the_latent_size(layout, h, w):
    cells = [float(object_mask(o, h, w).sum()) for o in layout.objects]
    if min(cells) < MIN_REGION_CELLS:
        with pytest.raises(LayoutError) as e:
            rasterize(layout, h, w)
        msg = str(e.value)
        assert msg.startswith("Expected each region to cover at least 1 latent cell") and "Make the region" in msg
        return
    masks = rasterize(layout, h, w)
    assert masks.shape == (len(layout.objects), h, w)
    assert torch.isfinite(masks).all() and float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0


@given(st.integers(16, 4096), st.integers(16, 4096), st.integers(1, 3))
def test_a_canvas_of_the_images_size_never_warns(width_px, height_px, scale):
    """EmptyLatentImage floors any pixel size to whole latent cells (8 px): that rounding is not a mismatch,
    at any size and for a layout drawn at another scale (scale x the image)."""
    box = LayoutObject("a cat", box=(0.0, 0.0, 1.0, 1.0))
    layout = Layout(objects=(box,), width=width_px * scale, height=height_px * scale)
    assert canvas_mismatch(layout, height_px // 8, width_px // 8) is None
    swapped = Layout(objects=(box,), width=height_px, height=width_px)  # portrait drawn, landscape sampled
    if abs(width_px / height_px - 1.0) > 0.5:
        msg = canvas_mismatch(swapped, height_px // 8, width_px // 8)
        assert msg and msg.startswith("Expected the layout canvas to have the latent's aspect")


@given(st.lists(intervals(), min_size=2, max_size=2), sides, sides)
def test_box_coverage_is_the_exact_area(xy, h, w):
    (x0, x1), (y0, y1) = xy
    m = object_mask(LayoutObject("a box", box=(x0, y0, x1, y1)), h, w)
    assert float(m.sum()) == pytest.approx((x1 - x0) * (y1 - y0) * h * w, rel=1e-4, abs=1e-4)


@given(st.integers(1, 8), sides, sides, st.integers(0, 2**31 - 1), st.randoms())
def test_composition_weights_sum_to_one_for_any_masks_and_order(n, h, w, seed, rnd):
    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(n, h, w, generator=g)
    masks[torch.rand(n, h, w, generator=g) < 0.3] = 0.0  # exact zeros
    masks[torch.rand(n, h, w, generator=g) < 0.3] = 1.0  # and exact ones
    order = list(range(n))
    rnd.shuffle(order)
    weights, bg = composition_weights(masks, order)
    total = weights.sum(0) + bg  # [H, W]
    assert torch.allclose(total, torch.ones(h, w), atol=1e-5)
    assert float(weights.min()) >= 0.0 and float(bg.min()) >= 0.0
    assert torch.all(weights <= masks + 1e-6)  # a layer never weighs more than its own mask


@given(layouts, sides, sides)
def test_composition_of_rasterised_layouts_sums_to_one(layout, h, w):
    try:
        masks = rasterize(layout, h, w)
    except LayoutError:
        return  # a region under one cell: refused above
    weights, bg = composition_weights(masks, paint_order(layout))
    assert torch.allclose(weights.sum(0) + bg, torch.ones(h, w), atol=1e-5)
    assert sorted(paint_order(layout)) == list(range(len(layout.objects)))


finite_strengths = st.floats(-MAX_STRENGTH, MAX_STRENGTH, allow_nan=False)


@given(
    st.integers(1, 3),
    sides,
    sides,
    st.integers(0, 5000),
    finite_strengths,
    finite_strengths,
    st.floats(0.0, 1e4, allow_nan=False),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["normal", "ties", "zeros", "huge"]),
)
def test_guidance_is_finite_and_bounded(b, h, w, k, s_in, s_out, sigma, seed, attn_kind):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, h, w, generator=g)
    attn = {
        "normal": torch.rand(b, h, w, generator=g),
        "ties": torch.ones(b, h, w),
        "zeros": torch.zeros(b, h, w),
        "huge": torch.rand(b, h, w, generator=g) * 1e30,
    }[attn_kind]
    delta = top_k_mean(x, attn, k)  # [B, C]
    assert delta.shape == (b, 4) and torch.isfinite(delta).all()
    assert float(delta.abs().max()) <= float(x.abs().max()) + 1e-5  # a mean of latent values
    region = torch.rand(h, w, generator=g)
    xi = guidance_offset(delta, region, s_in, s_out)  # [B, C, H, W]
    assert xi.shape == (b, 4, h, w) and torch.isfinite(xi).all()
    assert float(xi.abs().max()) <= float(delta.abs().max()) * max(abs(s_in), abs(s_out)) + 1e-5
    scale = vp_scale(torch.tensor([sigma]))
    assert torch.isfinite(xi * scale).all() and float(scale) >= 1.0
    assert math.isfinite(vp_scale(sigma))


@given(st.lists(layout_objects(), min_size=1, max_size=MAX_OBJECTS), st.text(max_size=20))
def test_box_layouts_round_trip_through_json(objs, background):
    boxes = [LayoutObject(o.phrase, box=o.box or (0.0, 0.0, 1.0, 1.0), z=o.z) for o in objs]
    layout = Layout(objects=tuple(boxes), background=background)
    again = layout_from_json(layout.to_json())
    assert again.phrases() == layout.phrases()
    assert [o.z for o in again.objects] == [o.z for o in layout.objects]
    for a, b in zip(again.objects, layout.objects, strict=True):
        assert a.box == pytest.approx(b.box, abs=1e-6)
    assert json.loads(again.to_json())["version"] == 1


@given(st.one_of(st.floats(), st.integers(-(10**12), 10**12)), st.floats(allow_nan=True))
def test_config_accepts_exactly_finite_in_range_values(strength, t0):
    ok_strength = math.isfinite(strength) and abs(strength) <= MAX_STRENGTH
    ok_t0 = 0.0 <= t0 <= 1.0
    try:
        LRDMConfig(t0=t0, strength=strength)
    except LRDMError as e:
        assert not (ok_strength and ok_t0)
        assert str(e).startswith("Expected ") and ("t0" in str(e) or "strength" in str(e))
    else:
        assert ok_strength and ok_t0


@given(
    st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=1, max_size=40, unique=True),
    st.floats(0.0, 1.0, allow_nan=False),
)
def test_window_covers_round_t0_of_any_decreasing_schedule(values, t0):
    values = sorted(values, reverse=True)
    if any(a <= b * (1 + 1e-3) for a, b in zip(values, values[1:], strict=False)):
        return  # sigmas closer than 0.1 %: not a schedule a sampler makes
    sigmas = torch.tensor([*values, 0.0], dtype=torch.float64)
    steps = len(values)
    k = layered_steps(steps, t0)
    assert 0 <= k <= steps
    thr = sigma_threshold(sigmas, t0)
    assert [in_window(float(s), thr) for s in sigmas[:-1]] == [True] * k + [False] * (steps - k)
