"""Layouts from masks and pixel boxes, combined layouts, and the phrase budget (host-free)."""

import pytest
import torch

from lrdm_core.errors import LayoutError
from lrdm_core.layout import layout_from_dict
from lrdm_core.layout_ops import (
    check_mask_sizes,
    combine_layouts,
    flatten_pixel_boxes,
    layout_from_masks,
    layout_from_pixel_boxes,
    mask_list,
    split_phrases,
)
from lrdm_core.tokens import TokenizerFns, check_phrase_budget


def _mask(h: int = 16, w: int = 16, box=(2, 2, 8, 8)) -> torch.Tensor:
    m = torch.zeros(h, w)  # [H, W]
    m[box[1] : box[3], box[0] : box[2]] = 1.0
    return m


def test_split_phrases_drops_blank_lines():
    assert split_phrases(" a cat \n\n\ta dog\n") == ["a cat", "a dog"]
    assert split_phrases("") == []


def test_mask_list_accepts_batches_and_single_masks():
    assert len(mask_list(torch.zeros(3, 4, 4))) == 3 and len(mask_list(torch.zeros(4, 4))) == 1
    assert mask_list(None) == []
    with pytest.raises(LayoutError, match=r"\[B, H, W\]"):
        mask_list(torch.zeros(1, 1, 4, 4))


def test_layout_from_masks_pairs_masks_with_phrases():
    lay = layout_from_masks([_mask(), _mask(box=(8, 8, 16, 16))], ["a cat", "a dog"], " a lawn ")
    assert lay.phrases() == ["a cat", "a dog"] and lay.background == "a lawn"
    assert (lay.width, lay.height) == (16, 16)
    with pytest.raises(LayoutError, match="one phrase per mask"):
        layout_from_masks([_mask()], ["a", "b"])


def test_mask_size_mismatch_is_named():
    with pytest.raises(LayoutError, match="16x16, got 12x16 for mask 2"):
        check_mask_sizes([_mask(), _mask(16, 12)])


def test_combine_keeps_order_background_and_limit():
    a = layout_from_dict({"background": "a beach", "objects": [{"phrase": "a", "box": [0, 0, 0.5, 0.5]}]})
    b = layout_from_dict({"objects": [{"phrase": "b", "box": [0.5, 0.5, 1, 1], "z": 3}]})
    both = combine_layouts([a, None, b])
    assert both.phrases() == ["a", "b"] and both.background == "a beach" and both.objects[1].z == 3
    assert combine_layouts([a, b], "snow").background == "snow"
    with pytest.raises(LayoutError, match="at least one layout"):
        combine_layouts([None])


def test_pixel_boxes_become_normalised_xyxy():
    frames = [
        [
            {"x": 0, "y": 50, "width": 100, "height": 50, "metadata": {"desc": "a dog"}},
            {"x": 100, "y": 0, "width": 100, "height": 100},
        ]
    ]
    boxes = flatten_pixel_boxes(frames)
    lay = layout_from_pixel_boxes(boxes, 200, 100, ["ignored for box 1", "a cat"])
    assert lay.phrases() == ["a dog", "a cat"]
    assert lay.objects[0].box == (0.0, 0.5, 0.5, 1.0) and lay.objects[1].box == (0.5, 0.0, 1.0, 1.0)
    with pytest.raises(LayoutError, match="empty frame"):
        flatten_pixel_boxes([[]])
    with pytest.raises(LayoutError, match="width and height > 0"):
        layout_from_pixel_boxes(boxes, 0, 100)


def _tok(text: str) -> list[int]:
    return [100] + [hash(w) % 1000 + 1000 for w in text.split()] + [101]


TOK = TokenizerFns(tokenize=_tok, special_ids=frozenset({100, 101}))


def test_phrase_budget_refuses_too_many_tokens_for_one_clip_window():
    check_phrase_budget(TOK, ["a red apple"] * 16)  # 48 tokens: fine
    with pytest.raises(LayoutError, match="one CLIP window") as e:
        check_phrase_budget(TOK, ["a very long and detailed phrase of many words"] * 9)
    assert "81 tokens for 9 objects" in str(e.value)


def test_element_phrases_prefer_the_elements_then_the_lines():
    from lrdm_core.layout_ops import element_phrases

    elements = [{"type": "obj", "desc": " a kite "}, {"type": "text", "text": "SALE", "desc": ""}, {"desc": ""}, "x"]
    assert element_phrases(elements, ["l1", "l2", "l3", "l4", "l5"]) == ["a kite", "SALE", "l3", "l4", "l5"]
    assert element_phrases(None, ["a", "b"]) == ["a", "b"]
    assert element_phrases([{"desc": ""}], []) == [""]
