"""Preview images of layouts and attention maps (ComfyUI IMAGE layout [B, H, W, C] at this boundary)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .layout import Layout
from .raster import object_mask

PALETTE = (
    (0.90, 0.10, 0.29),
    (0.24, 0.71, 0.29),
    (0.26, 0.39, 0.85),
    (1.00, 0.88, 0.10),
    (0.96, 0.51, 0.19),
    (0.57, 0.12, 0.71),
    (0.27, 0.94, 0.94),
    (0.94, 0.20, 0.90),
)


def color_of(i: int, hex_color: str | None = None) -> tuple[float, float, float]:
    """The object's colour: its own '#rrggbb' if set, else the palette's i-th."""
    if hex_color and len(hex_color) == 7 and hex_color.startswith("#"):
        try:
            return tuple(int(hex_color[j : j + 2], 16) / 255.0 for j in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    return PALETTE[i % len(PALETTE)]


def draw_regions(layout: Layout, image: torch.Tensor, fill: float = 0.25, border_px: int = 3) -> torch.Tensor:
    """image [1, H, W, 3] with each region tinted and outlined in its colour: [1, H, W, 3]."""
    out = image.clone().float()
    _, h, w, _ = out.shape
    for i, obj in enumerate(layout.objects):
        m = object_mask(obj, h, w)  # [H, W]
        col = torch.tensor(color_of(i, obj.color))  # [3]
        edge = _edge(m, border_px)  # [H, W]
        alpha = (m * fill).clamp(0, 1).maximum(edge)[..., None]  # [H, W, 1]
        out[0] = out[0] * (1 - alpha) + col * alpha
    return out.clamp(0, 1)


def _edge(mask: torch.Tensor, px: int) -> torch.Tensor:
    """A band of width px along the inside of a mask's boundary: [H, W] in {0, 1}."""
    m = (mask > 0.5).float()[None, None]  # [1, 1, H, W]
    eroded = -F.max_pool2d(-m, kernel_size=2 * px + 1, stride=1, padding=px)
    return (m - eroded)[0, 0].clamp(0, 1)


def heatmaps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Attention maps [n, H, W] normalised per map and upscaled to an IMAGE batch [n, h, w, 3]."""
    lo = maps.amin(dim=(1, 2), keepdim=True)
    hi = maps.amax(dim=(1, 2), keepdim=True)
    norm = ((maps - lo) / (hi - lo).clamp(min=1e-12)).float()[:, None]  # [n, 1, H, W]
    up = F.interpolate(norm, size=size, mode="nearest")[:, 0]  # [n, h, w]
    return torch.stack([up, up**2, 1 - up], dim=-1)  # [n, h, w, 3]  (blue -> magenta -> yellow-ish)
