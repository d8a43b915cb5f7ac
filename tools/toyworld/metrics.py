"""Layout-accuracy metrics for the toy world: per-object IoU, presence, extra objects, AP50 (colour classes)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .detect import Detection, box_iou

Box = tuple[float, float, float, float]


class Target(NamedTuple):
    """A requested object: its colour, shape and target box (normalised xyxy)."""

    colour: str
    shape: str
    box: Box


class ImageScore(NamedTuple):
    """One image's scores against its layout."""

    ious: list[float]  # per requested object: IoU of its matched detection, 0 if absent
    present: list[bool]  # per requested object: a detection of its colour was matched
    shape_ok: list[bool]  # per requested object: the matched detection has the requested shape
    extra: int  # detections matched to no requested object


def score_image(targets: list[Target], detections: list[Detection]) -> ImageScore:
    """Greedy matching, best IoU first: each target takes the free same-colour detection overlapping it most."""
    pairs = sorted(
        (
            (box_iou(t.box, d.box), i, j)
            for i, t in enumerate(targets)
            for j, d in enumerate(detections)
            if d.colour == t.colour
        ),
        reverse=True,
    )
    taken_t, taken_d, match = set(), set(), {}
    for iou, i, j in pairs:
        if i not in taken_t and j not in taken_d:
            taken_t.add(i)
            taken_d.add(j)
            match[i] = (j, iou)
    ious = [match[i][1] if i in match else 0.0 for i in range(len(targets))]
    present = [i in match for i in range(len(targets))]
    shape_ok = [i in match and detections[match[i][0]].shape == t.shape for i, t in enumerate(targets)]
    return ImageScore(ious, present, shape_ok, len(detections) - len(taken_d))


def ap50(targets: list[list[Target]], detections: list[list[Detection]], thr: float = 0.5) -> float:
    """Mean over colours of COCO-style AP at IoU >= thr (101-point interpolation); detections ranked by score."""
    colours = sorted({t.colour for ts in targets for t in ts})
    aps = []
    for c in colours:
        gts = {i: [t.box for t in ts if t.colour == c] for i, ts in enumerate(targets)}
        n_gt = sum(len(v) for v in gts.values())
        dets = sorted(
            ((d.score, i, d.box) for i, ds in enumerate(detections) for d in ds if d.colour == c), key=lambda t: -t[0]
        )
        used = {i: [False] * len(v) for i, v in gts.items()}
        tp = np.zeros(len(dets))
        for k, (_, i, box) in enumerate(dets):
            best, arg = 0.0, -1
            for g, gbox in enumerate(gts.get(i, [])):
                iou = box_iou(box, gbox)
                if iou > best and not used[i][g]:
                    best, arg = iou, g
            if best >= thr:
                used[i][arg] = True
                tp[k] = 1
        aps.append(_average_precision(tp, n_gt))
    return float(np.mean(aps)) if aps else 0.0


def _average_precision(tp: np.ndarray, n_gt: int) -> float:
    """Area under the interpolated precision-recall curve at 101 recall points (COCO)."""
    if n_gt == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(tp) + 1)
    for k in range(len(precision) - 2, -1, -1):
        precision[k] = max(precision[k], precision[k + 1])
    total = 0.0
    for r in np.linspace(0, 1, 101):
        hit = np.searchsorted(recall, r, side="left")
        total += precision[hit] if hit < len(precision) else 0.0
    return total / 101
