"""Toy-world detector: hue segmentation + connected components -> labelled boxes with a shape class."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .scenes import BACKGROUNDS, COLOURS, SHAPES

MIN_CHROMA = 0.25  # max(RGB) - min(RGB) below this is background (all backgrounds are neutral)
MAX_HUE_DIST = 40.0  # degrees; farther from every palette hue -> background
CORNER = 0.3  # corner-triangle leg length relative to the box side
# Shape prototypes in feature space (fill, top-corner fill, bottom-corner fill), measured on exact renders.
PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "circle": (0.785, 0.0, 0.0),
    "square": (1.0, 1.0, 1.0),
    "triangle": (0.52, 0.0, 0.7),
}
TEMPERATURE = 0.05  # softmax temperature on squared feature distances


class Detection(NamedTuple):
    """A detected object: colour name, shape name, box as normalised xyxy in [0, 1], score in [0, 1]."""

    colour: str
    shape: str
    box: tuple[float, float, float, float]
    score: float


def rgb_to_hue(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue in degrees [0, 360) and chroma for an RGB image [H, W, 3] in [0, 1]."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]  # [H, W] each
    mx, mn = image.max(-1), image.min(-1)  # [H, W]
    chroma = mx - mn  # [H, W]
    safe = np.where(chroma > 1e-6, chroma, 1.0)
    hue = np.where(mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    return (hue * 60.0) % 360.0, chroma  # [H, W], [H, W]


PALETTE_HUES: dict[str, float] = {
    name: float(rgb_to_hue(np.array(rgb, dtype=np.float64)[None, None])[0][0, 0]) for name, rgb in COLOURS.items()
}


def colour_labels(image: np.ndarray, min_chroma: float = MIN_CHROMA) -> np.ndarray:
    """Per-pixel palette index [H, W] (int, -1 = background) by nearest palette hue."""
    hue, chroma = rgb_to_hue(image.astype(np.float64))
    ref = np.array(list(PALETTE_HUES.values()))  # [K]
    d = np.abs(hue[..., None] - ref)  # [H, W, K]
    d = np.minimum(d, 360.0 - d)
    idx = d.argmin(-1)  # [H, W]
    ok = (chroma >= min_chroma) & (d.min(-1) <= MAX_HUE_DIST)
    return np.where(ok, idx, -1)


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a boolean mask [H, W] -> (labels [H, W] with 0 = none, 1..n, count n)."""
    h, w = mask.shape
    big = h * w + 1
    lab = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), big)  # [H, W]
    while True:
        nb = lab.copy()
        nb[1:, :] = np.minimum(nb[1:, :], lab[:-1, :])
        nb[:-1, :] = np.minimum(nb[:-1, :], lab[1:, :])
        nb[:, 1:] = np.minimum(nb[:, 1:], lab[:, :-1])
        nb[:, :-1] = np.minimum(nb[:, :-1], lab[:, 1:])
        nb = np.where(mask, nb, big)
        if np.array_equal(nb, lab):
            break
        lab = nb
    uniq = np.unique(lab[mask])
    out = np.zeros((h, w), dtype=np.int64)
    out[mask] = np.searchsorted(uniq, lab[mask]) + 1
    return out, len(uniq)


def shape_features(component: np.ndarray) -> np.ndarray:
    """(fill, top-corner fill, bottom-corner fill) of a boolean component cropped to its box [h, w].

    Fill uses row spans (robust to pinholes); a corner region is the box corner triangle with legs of a
    quarter of the box: filled for a square, empty for a circle, bottom-only for an apex-up triangle.
    """
    h, w = component.shape
    cols = np.arange(w)
    rows_any = component.any(1)  # [h]
    first = np.where(rows_any, np.where(component, cols, w).min(1), 0)  # [h]
    last = np.where(rows_any, np.where(component, cols, -1).max(1), -1)  # [h]
    widths = (last - first + 1).astype(np.float64)  # [h] row spans
    fill = float(widths.sum()) / float(h * w)
    u = (np.arange(w) + 0.5) / w  # [w]
    v = (np.arange(h) + 0.5) / h  # [h]
    du = np.minimum(u, 1 - u)[None, :]  # [1, w]
    top = (du + v[:, None] < CORNER) & (v[:, None] < 0.5)  # [h, w]
    bottom = (du + (1 - v)[:, None] < CORNER) & (v[:, None] >= 0.5)  # [h, w]
    top_fill = float(component[top].mean()) if top.any() else 0.0
    bottom_fill = float(component[bottom].mean()) if bottom.any() else 0.0
    return np.array([fill, top_fill, bottom_fill])


def classify_shape(component: np.ndarray) -> tuple[str, float]:
    """Nearest-prototype shape class and its softmax probability for a cropped boolean component."""
    f = shape_features(component)
    protos = np.array([PROTOTYPES[s] for s in SHAPES])  # [S, 2]
    d2 = ((protos - f) ** 2).sum(-1)  # [S]
    p = np.exp(-(d2 - d2.min()) / TEMPERATURE)
    p /= p.sum()
    k = int(p.argmax())
    return SHAPES[k], float(p[k])


def detect(image: np.ndarray, min_area_frac: float = 0.005) -> list[Detection]:
    """Detect palette-coloured objects in an RGB image [H, W, 3] in [0, 1], largest first."""
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Expected an RGB image [H, W, 3], got shape {tuple(image.shape)}.")
    h, w, _ = image.shape
    labels = colour_labels(image)
    names = list(COLOURS)
    dets: list[tuple[int, Detection]] = []
    for k, name in enumerate(names):
        comp, n = connected_components(labels == k)
        for i in range(1, n + 1):
            m = comp == i  # [H, W]
            area = int(m.sum())
            if area < min_area_frac * h * w:
                continue
            ys, xs = np.nonzero(m)
            y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
            shape, score = classify_shape(m[y0:y1, x0:x1])
            dets.append((area, Detection(name, shape, (x0 / w, y0 / h, x1 / w, y1 / h), score)))
    dets.sort(key=lambda t: -t[0])
    return [d for _, d in dets]


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def near_palette_fraction(image: np.ndarray, tol: float = 0.15) -> float:
    """Fraction of pixels within `tol` (max abs RGB difference) of a palette or background colour."""
    refs = np.array(list(COLOURS.values()) + list(BACKGROUNDS.values()))  # [K, 3]
    d = np.abs(image[..., None, :] - refs).max(-1).min(-1)  # [H, W]
    return float((d <= tol).mean())


class MatchStats(NamedTuple):
    """Caption-vs-detections counts for one image (no positions: matched by colour, then shape)."""

    expected: int  # objects named in the caption
    colour_found: int  # named objects with a detection of their colour
    shape_correct: int  # ... whose matched detection also has the named shape
    detections: int  # all detections
    extra: int  # detections matched to no named object


def match_caption(expected: list[tuple[str, str]], detections: list[Detection]) -> MatchStats:
    """Greedy match of named (colour, shape) objects to detections: exact pairs first, then colour only."""
    free = list(range(len(detections)))
    pending = []
    shape_ok = 0
    for colour, shape in expected:
        hit = next((j for j in free if detections[j].colour == colour and detections[j].shape == shape), None)
        if hit is None:
            pending.append(colour)
        else:
            free.remove(hit)
            shape_ok += 1
    colour_only = 0
    for colour in pending:
        hit = next((j for j in free if detections[j].colour == colour), None)
        if hit is not None:
            free.remove(hit)
            colour_only += 1
    return MatchStats(len(expected), shape_ok + colour_only, shape_ok, len(detections), len(free))
