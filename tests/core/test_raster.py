"""Rasterisation and composition weights (choice 7): sub-cell boxes, soft masks, smaller regions on top."""

import pytest
import torch

from lrdm_core.errors import LayoutError
from lrdm_core.layout import Layout, LayoutObject, layout_from_dict
from lrdm_core.raster import box_coverage, composition_weights, paint_order, rasterize


def test_box_coverage_is_exact_area_with_sub_cell_edges():
    m = box_coverage((0.1, 0.25, 0.55, 0.5), 8, 8)
    assert m.shape == (8, 8)
    assert float(m.sum()) == pytest.approx(0.45 * 0.25 * 64, rel=1e-6)
    assert float(m[2, 1]) == pytest.approx(1.0) and float(m[2, 0]) == pytest.approx(0.2 * 1.0)
    assert float(m.max()) <= 1.0 and float(m.min()) >= 0.0


def test_region_under_one_cell_is_refused():
    lay = layout_from_dict({"objects": [{"phrase": "a dot", "box": [0.5, 0.5, 0.55, 0.55]}]})
    with pytest.raises(LayoutError, match="latent cell"):
        rasterize(lay, 8, 8)


def test_smaller_regions_paint_on_top_and_weights_sum_to_one():
    lay = layout_from_dict(
        {
            "objects": [
                {"phrase": "small", "box": [0.25, 0.25, 0.5, 0.5]},
                {"phrase": "big", "box": [0.0, 0.0, 0.75, 0.75]},
            ]
        }
    )
    masks = rasterize(lay, 8, 8)
    order = paint_order(lay)
    assert order == [1, 0]  # big at the bottom
    w, bg = composition_weights(masks, order)
    assert torch.allclose(w.sum(0) + bg, torch.ones(8, 8))
    assert float(w[0, 3, 3]) == 1.0 and float(w[1, 3, 3]) == 0.0  # overlap goes to the small one
    assert float(w[1, 0, 0]) == 1.0 and float(bg[7, 7]) == 1.0


def test_explicit_z_overrides_area_order():
    lay = layout_from_dict(
        {
            "objects": [
                {"phrase": "small", "box": [0.25, 0.25, 0.5, 0.5], "z": 0},
                {"phrase": "big", "box": [0.0, 0.0, 0.75, 0.75], "z": 1},
            ]
        }
    )
    w, _ = composition_weights(rasterize(lay, 8, 8), paint_order(lay))
    assert float(w[1, 3, 3]) == 1.0


def test_soft_masks_resample_and_compose():
    m = torch.zeros(64, 64)
    m[:, :32] = 0.5
    lay = Layout(objects=(LayoutObject("fog", mask=m),))
    masks = rasterize(lay, 8, 8)
    assert torch.allclose(masks[0, :, :4], torch.full((8, 4), 0.5))
    w, bg = composition_weights(masks, [0])
    assert torch.allclose(w[0] + bg, torch.ones(8, 8))
