"""Rasterise layout regions onto the latent grid (METHOD.md choice 7: soft masks, sub-cell boxes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import LayoutError, user_error
from .layout import Box, Layout, LayoutObject

MIN_REGION_CELLS = 1.0  # a region must cover at least one latent cell


def box_coverage(box: Box, height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fraction of each latent cell covered by a normalised xyxy box: [H, W] in [0, 1]."""
    x0, y0, x1, y1 = box
    cols = _interval_coverage(x0, x1, width, device, dtype)  # [W]
    rows = _interval_coverage(y0, y1, height, device, dtype)  # [H]
    return rows[:, None] * cols[None, :]  # [H, W]


def _interval_coverage(a: float, b: float, n: int, device, dtype) -> torch.Tensor:
    """Overlap of [a, b] with each of n unit cells of [0, 1], as a fraction of a cell: [n]."""
    edges = torch.arange(n + 1, device=device, dtype=torch.float64) / n  # [n+1]
    lo = torch.clamp(edges[:-1], min=a)
    hi = torch.clamp(edges[1:], max=b)
    return ((hi - lo).clamp(min=0.0) * n).to(dtype)  # [n]


def mask_to_grid(mask: torch.Tensor, height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Resample a soft mask [h, w] to the latent grid [H, W] by area averaging."""
    m = mask.to(device=device, dtype=torch.float32)[None, None]  # [1,1,h,w]
    if m.shape[-2:] != (height, width):
        m = F.interpolate(m, size=(height, width), mode="area" if m.shape[-1] >= width else "bilinear")
    return m[0, 0].clamp(0.0, 1.0).to(dtype)  # [H, W]


def object_mask(obj: LayoutObject, height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The object's region on the latent grid [H, W]: its mask if given (cut to its box), else its box."""
    if obj.mask is None:
        return box_coverage(obj.box, height, width, device, dtype)  # type: ignore[arg-type]
    m = mask_to_grid(obj.mask, height, width, device, dtype)
    if obj.box is not None:
        m = m * box_coverage(obj.box, height, width, device, dtype)
    return m


def rasterize(layout: Layout, height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """All regions on the latent grid: [n, H, W] in [0, 1]; regions under one cell are refused."""
    masks = torch.stack([object_mask(o, height, width, device, torch.float32) for o in layout.objects])
    for obj, m in zip(layout.objects, masks, strict=True):
        cells = float(m.sum())
        if cells < MIN_REGION_CELLS:
            raise user_error(
                f"each region to cover at least {MIN_REGION_CELLS:g} latent cell "
                f"(the latent is {width}x{height} cells, {width * 8}x{height * 8} px)",
                f"{cells:.2f} cells for {obj.phrase!r}",
                "Make the region larger or the image larger.",
                LayoutError,
            )
    return masks.to(dtype)  # [n, H, W]


def canvas_mismatch(layout: Layout, height: int, width: int) -> str | None:
    """Why the regions will look stretched on a height x width latent, or None.

    Regions are normalised, so they always map onto the whole latent; a layout canvas (its width and
    height) or a mask of another aspect is stretched. Sizes that differ only by the rounding of an
    image to whole latent cells (8 px) pass: the tolerance is one latent cell along either side.
    """
    canvases = []
    if layout.width and layout.height:
        canvases.append(("the layout canvas", layout.width, layout.height))
    canvases += [
        (f"the mask of {o.phrase!r}", int(o.mask.shape[-1]), int(o.mask.shape[-2]))
        for o in layout.objects
        if o.mask is not None
    ]
    for what, cw, ch in canvases:
        if abs(width * ch / cw - height) <= 1.0 or abs(height * cw / ch - width) <= 1.0:
            continue
        return (
            f"Expected {what} to have the latent's aspect ({width * 8}x{height * 8} px, {width / height:.2f}:1), "
            f"got {cw}x{ch} px ({cw / ch:.2f}:1). The regions are stretched to fit the latent; "
            "set the layout's width and height to the image size (or use masks of the image's size) "
            "to place them as drawn."
        )
    return None


def paint_order(layout: Layout) -> list[int]:
    """Indices bottom to top: explicit z first, else larger regions below smaller (choice 7)."""

    def key(i: int) -> tuple[int, float, int]:
        o = layout.objects[i]
        return (o.z if o.z is not None else 0, -o.region_area(), i)

    return sorted(range(len(layout.objects)), key=key)


def composition_weights(masks: torch.Tensor, order: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-layer weights W_i = M_i * prod_{j above i}(1 - M_j) and W_bg = prod_j(1 - M_j); sum = 1."""
    weights = torch.zeros_like(masks)  # [n, H, W]
    uncovered = torch.ones_like(masks[0])  # [H, W]
    for i in reversed(order):  # top layer first
        weights[i] = masks[i] * uncovered
        uncovered = uncovered * (1.0 - masks[i])
    return weights, uncovered  # [n, H, W], [H, W]
