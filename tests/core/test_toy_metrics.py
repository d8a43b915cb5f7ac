"""The benchmark's metrics on hand-made cases: matching, presence, extras, AP50."""

import pytest
from toyworld.detect import Detection
from toyworld.metrics import Target, ap50, score_image

RED = Target("red", "circle", (0.0, 0.0, 0.5, 0.5))
BLUE = Target("blue", "square", (0.5, 0.5, 1.0, 1.0))


def test_perfect_image():
    dets = [Detection("red", "circle", RED.box, 0.9), Detection("blue", "square", BLUE.box, 0.8)]
    s = score_image([RED, BLUE], dets)
    assert s.ious == [1.0, 1.0] and s.present == [True, True] and s.shape_ok == [True, True] and s.extra == 0


def test_missing_wrong_place_and_extra():
    dets = [Detection("red", "square", (0.25, 0.0, 0.75, 0.5), 0.9), Detection("green", "circle", BLUE.box, 0.5)]
    s = score_image([RED, BLUE], dets)
    assert s.ious[0] == pytest.approx(1 / 3) and s.ious[1] == 0.0
    assert s.present == [True, False] and s.shape_ok == [False, False] and s.extra == 1


def test_each_detection_matches_once():
    dets = [Detection("red", "circle", RED.box, 0.9)]
    s = score_image([RED, RED], dets)
    assert sorted(s.ious) == [0.0, 1.0]


def test_ap50_perfect_half_and_ranked_false_positive():
    targets = [[RED], [RED]]
    perfect = [[Detection("red", "circle", RED.box, 0.9)], [Detection("red", "circle", RED.box, 0.9)]]
    assert ap50(targets, perfect) == pytest.approx(1.0)
    half = [[Detection("red", "circle", RED.box, 0.9)], []]
    assert ap50(targets, half) == pytest.approx(51 / 101)  # recall 0.5 reached at precision 1
    fp_first = [
        [Detection("red", "circle", BLUE.box, 0.95), Detection("red", "circle", RED.box, 0.5)],
        [Detection("red", "circle", RED.box, 0.4)],
    ]
    assert ap50(targets, fp_first) == pytest.approx(2 / 3, abs=0.01)
