"""Toy scene generator: seeded, valid boxes, no overlaps, position-free captions, exact palette renders."""

import numpy as np
import pytest
from toyworld import scenes


def test_same_seed_same_batch() -> None:
    """A seed fixes scenes and pixels."""
    s1, i1 = scenes.sample_batch(7, 20)
    s2, i2 = scenes.sample_batch(7, 20)
    assert s1 == s2
    assert np.array_equal(i1, i2)
    s3, _ = scenes.sample_batch(8, 20)
    assert s1 != s3


def test_scene_objects_valid() -> None:
    """1-3 distinct (colour, shape) objects with in-range square boxes on the 2-px grid that keep a gap."""
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(300):
        sc = scenes.sample_scene(rng)
        counts.add(len(sc.objects))
        assert 1 <= len(sc.objects) <= 3
        assert len({(o.colour, o.shape) for o in sc.objects}) == len(sc.objects)
        assert sc.background in scenes.BACKGROUNDS
        px = []
        for o in sc.objects:
            assert o.colour in scenes.COLOURS and o.shape in scenes.SHAPES
            x0, y0, x1, y1 = o.box
            assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
            side = round((x1 - x0) * sc.size)
            assert side == round((y1 - y0) * sc.size)
            assert 16 <= side <= 32 and side % 2 == 0
            px.append(tuple(round(v * sc.size) for v in o.box))
        for i in range(len(px)):
            assert scenes._boxes_clear(px[i], px[:i] + px[i + 1 :], 2)
    assert counts == {1, 2, 3}


def test_captions_have_no_positions() -> None:
    """Captions name every object as 'a <colour> <shape>' joined by ', ' and ' and '."""
    rng = np.random.default_rng(1)
    vocab = set(scenes.vocabulary())
    for _ in range(100):
        sc = scenes.sample_scene(rng)
        cap = sc.caption
        for o in sc.objects:
            assert f"a {o.colour} {o.shape}" in cap
        assert set(cap.replace(",", " ,").split()) <= vocab
    assert scenes.join_phrases(["a", "b", "c"]) == "a, b and c"
    assert scenes.join_phrases(["a", "b"]) == "a and b"


def test_empty_scene_is_captioned_empty() -> None:
    """A scene without objects: caption 'empty' (a vocabulary word), background only in the render."""
    sc = scenes.sample_scene(np.random.default_rng(3), min_objects=0, max_objects=0)
    assert sc.objects == () and sc.caption == scenes.EMPTY_CAPTION == "empty"
    assert "empty" in scenes.vocabulary()
    img = scenes.render(sc)  # [H, W, 3]
    assert np.unique(img.reshape(-1, 3), axis=0).tolist() == [list(np.float32(scenes.BACKGROUNDS[sc.background]))]


def test_render_exact_palette() -> None:
    """Renders hold only the background and object colours; each object covers its expected area."""
    rng = np.random.default_rng(2)
    expect_fill = {"square": 1.0, "circle": np.pi / 4, "triangle": 0.5}
    for _ in range(50):
        sc = scenes.sample_scene(rng)
        img = scenes.render(sc)
        assert img.shape == (64, 64, 3) and img.dtype == np.float32
        allowed = {scenes.BACKGROUNDS[sc.background]} | {scenes.COLOURS[o.colour] for o in sc.objects}
        got = {tuple(np.round(c, 4)) for c in img.reshape(-1, 3)}
        assert got <= {tuple(np.round(np.float32(c), 4)) for c in map(np.array, allowed)}
        for o in sc.objects:
            box_px = tuple(v * sc.size for v in o.box)
            m = scenes.shape_mask(o.shape, box_px, sc.size)
            side = box_px[2] - box_px[0]
            assert m.sum() / side**2 == pytest.approx(expect_fill[o.shape], abs=0.12)


def test_render_is_2x2_blocky() -> None:
    """grid=2 draws a 32x32 picture shown at 64x64 (what the toy VAE represents exactly)."""
    sc = scenes.sample_scene(np.random.default_rng(5))
    img = scenes.render(sc)
    assert np.array_equal(img, img[::2, ::2].repeat(2, 0).repeat(2, 1))
    fine = scenes.sample_scene(np.random.default_rng(5), grid=1)
    assert fine.grid == 1 and scenes.render(fine).shape == (64, 64, 3)


def test_unknown_shape_raises() -> None:
    """A bad shape name is an error a user can act on."""
    with pytest.raises(ValueError, match="Unknown shape"):
        scenes.shape_mask("star", (0, 0, 10, 10), 16)
