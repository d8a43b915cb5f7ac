"""Toy detector: near-perfect precision and recall on ground-truth renders, sane on noise and blur."""

import numpy as np
from toyworld import detect, scenes


def _score(n: int, seed: int, noise: float = 0.0, blur: bool = False) -> tuple[float, float, float]:
    """(precision, recall, mean match IoU) over n scenes; a match needs colour, shape and IoU >= 0.5."""
    sc, imgs = scenes.sample_batch(seed, n)
    rng = np.random.default_rng(seed + 1)
    tp = fp = fn = 0
    ious = []
    for s, img in zip(sc, imgs, strict=True):
        if blur:
            p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
            img = sum(p[i : i + 64, j : j + 64] for i in range(3) for j in range(3)) / 9.0
        if noise:
            img = np.clip(img + rng.normal(0, noise, img.shape), 0, 1)
        dets = detect.detect(img)
        free = list(range(len(dets)))
        for o in s.objects:
            hit = next(
                (
                    j
                    for j in free
                    if dets[j].colour == o.colour
                    and dets[j].shape == o.shape
                    and detect.box_iou(dets[j].box, o.box) >= 0.5
                ),
                None,
            )
            if hit is None:
                fn += 1
            else:
                free.remove(hit)
                tp += 1
                ious.append(detect.box_iou(dets[hit].box, o.box))
        fp += len(free)
    return tp / max(1, tp + fp), tp / max(1, tp + fn), float(np.mean(ious))


def test_ground_truth_precision_recall() -> None:
    """On exact renders the detector finds every object with its colour and shape, boxes within a block."""
    precision, recall, iou = _score(300, 0)
    assert precision == 1.0 and recall == 1.0
    assert iou > 0.97  # circles and triangles drawn on the 2-px grid may miss the box edge by a block


def test_robust_to_noise_and_blur() -> None:
    """Mild pixel noise and a 3x3 blur (what samples look like) keep precision and recall high."""
    precision, recall, _ = _score(200, 3, noise=0.05)
    assert precision == 1.0 and recall == 1.0
    precision, recall, _ = _score(200, 3, blur=True)
    assert precision >= 0.98 and recall >= 0.98
    precision, recall, _ = _score(200, 3, noise=0.03, blur=True)
    assert precision >= 0.93 and recall >= 0.93


def test_empty_and_neutral_images() -> None:
    """Plain neutral backgrounds (and neutral noise) give no detections."""
    for v in (0.08, 0.55, 0.96):
        assert detect.detect(np.full((64, 64, 3), v, dtype=np.float32)) == []
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.random((64, 64, 1)), 3, axis=2)
    assert detect.detect(grey) == []


def test_detection_fields() -> None:
    """Detections carry palette colour, shape, normalised xyxy box and a score in [0, 1], largest first."""
    sc = scenes.Scene(
        (
            scenes.SceneObject("red", "square", (0.0, 0.0, 0.5, 0.5)),
            scenes.SceneObject("blue", "triangle", (0.625, 0.625, 0.875, 0.875)),
        ),
        "white",
    )
    dets = detect.detect(scenes.render(sc))
    assert [(d.colour, d.shape) for d in dets] == [("red", "square"), ("blue", "triangle")]
    assert dets[0].box == (0.0, 0.0, 0.5, 0.5)
    assert all(0.0 <= d.score <= 1.0 for d in dets)


def test_connected_components_split() -> None:
    """Separate same-colour blobs are separate components, also when touching diagonally (4-connected)."""
    m = np.zeros((8, 8), dtype=bool)
    m[0:2, 0:2] = True
    m[2:4, 2:4] = True
    m[6:8, 0:3] = True
    lab, n = detect.connected_components(m)
    assert n == 3
    assert set(np.unique(lab[m])) == {1, 2, 3}


def test_match_caption() -> None:
    """Named objects match exact pairs first, then colour only; extras are counted."""
    d = [
        detect.Detection("red", "circle", (0, 0, 0.2, 0.2), 1.0),
        detect.Detection("red", "square", (0.5, 0.5, 0.7, 0.7), 1.0),
        detect.Detection("blue", "circle", (0, 0.5, 0.2, 0.7), 1.0),
    ]
    m = detect.match_caption([("red", "square"), ("red", "triangle"), ("green", "circle")], d)
    assert m == detect.MatchStats(expected=3, colour_found=2, shape_correct=1, detections=3, extra=1)
