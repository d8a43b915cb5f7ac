"""Layouts from strangers (shared workflows, queued API prompts): each malformed one is refused with the pack's
LayoutError, quickly, and with a short message, however large the input (issue 19)."""

from __future__ import annotations

import json
import time

import pytest

from lrdm_core.errors import LayoutError
from lrdm_core.layout import MAX_JSON_CHARS, MAX_PHRASE_CHARS, layout_from_dict, layout_from_json
from lrdm_core.layout_ops import layout_from_pixel_boxes, split_phrases

SECONDS = 0.5  # per input; the 200 000-object layout took 3.5 s before the caps
MESSAGE_CHARS = 400  # no message echoes a multi-megabyte phrase


def _obj(phrase: str = "a cat", **extra) -> dict:
    return {"phrase": phrase, "box": [0.1, 0.1, 0.5, 0.5], **extra}


def _doc(*objects: dict, **top) -> str:
    return json.dumps({"version": 1, **top, "objects": list(objects)})


HOSTILE_JSON = {
    "50MB-text": (
        '{"version": 1, "objects": [{"phrase": "' + "a" * 50_000_000 + '", "box": [0, 0, 1, 1]}]}',
        "at most 100000 characters",
    ),
    "200k-objects": (_doc(*[_obj()] * 200_000), "at most 100000 characters"),
    "2k-objects-under-size-cap": (_doc(*[_obj("a")] * 2_000), "at most 16 objects"),
    "long-phrase": (_doc(_obj("a red apple " * 5_000)), f"phrase of at most {MAX_PHRASE_CHARS} characters"),
    "long-background": (_doc(_obj(), background="b" * 20_000), "background of at most"),
    "deep-lists": ("[" * 45_000 + "]" * 45_000, "nested at most"),
    "deep-in-object": (_doc(_obj()).replace("[0.1,", "[" * 20 + "0" + "]" * 20 + ", [0.1,"), "nested at most"),
    "deep-unbalanced": ('{"objects": ' + "[" * 99_000, "nested at most"),
    "long-int": (_doc(_obj(z=0)).replace('"z": 0', '"z": ' + "9" * 5_000), "at most 15 digits"),
    "float-overflow": (_doc(_obj(z=0)).replace('"z": 0', '"z": 1e999'), "finite numbers"),
    "z-infinity": (_doc(_obj(z=0)).replace('"z": 0', '"z": Infinity'), "finite numbers"),
    "z-nan": (_doc(_obj(z=0)).replace('"z": 0', '"z": NaN'), "finite numbers"),
    "box-neg-infinity": (_doc(_obj()).replace("0.1, 0.1", "-Infinity, 0.1"), "finite numbers"),
    "z-huge": (_doc(_obj(z=10**14)), '"z" of object 0'),
    "z-text": (_doc(_obj(z="top")), '"z" of object 0'),
    "string-pixel-box": (
        json.dumps(
            {
                "units": "px",
                "width": 512,
                "height": 512,
                "objects": [{"phrase": "a cat", "box": ["1", "2", "300", "400"]}],
            }
        ),
        "a box of four numbers",
    ),
    "string-box": (_doc({"phrase": "a cat", "box": ["0.1", "0.1", "0.5", "0.5"]}), "a box of four numbers"),
    "color-number": (_doc(_obj(color=5)), '"color"'),
    "color-list": (_doc(_obj(color=["#ff0000"] * 1_000)), '"color"'),
    "color-long": (_doc(_obj(color="#" + "f" * 50_000)), '"color"'),
    "phrase-list": (_doc({"phrase": ["a cat"] * 10_000, "box": [0.1, 0.1, 0.5, 0.5]}), "non-empty phrase"),
    "width-huge": (json.dumps({"width": 10**12, "objects": [_obj()]}), "at most 65536 pixels"),
    "background-object": (_doc(_obj(), background={"a": 1}), '"background" to be text'),
    "many-foreign-keys": (json.dumps({f"k{i}": 1 for i in range(5_000)}), 'an "objects" list'),
}


@pytest.mark.parametrize("text, needle", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_layout_json_is_refused_quickly_and_briefly(text, needle):
    start = time.perf_counter()
    with pytest.raises(LayoutError) as e:
        layout_from_json(text)
    took = time.perf_counter() - start
    msg = str(e.value)
    assert took < SECONDS, f"{took:.2f} s"
    assert len(msg) < MESSAGE_CHARS, msg[:500]
    assert msg.startswith("Expected ") and needle in msg, msg


def test_object_cap_is_checked_before_objects_are_built():
    data = {"objects": [_obj()] * 200_000}  # a Python caller (bench files) skips the JSON text cap
    start = time.perf_counter()
    with pytest.raises(LayoutError, match="at most 16 objects, got 200000"):
        layout_from_dict(data)
    assert time.perf_counter() - start < 0.05


def test_long_phrase_in_a_dict_is_quoted_short():
    with pytest.raises(LayoutError) as e:
        layout_from_dict({"objects": [_obj("x" * 5_000_000)]})
    assert "5000000 characters" in str(e.value) and len(str(e.value)) < MESSAGE_CHARS


def test_bad_box_message_quotes_a_long_phrase_short():
    phrase = "y" * MAX_PHRASE_CHARS  # the longest allowed phrase, in a message about its box
    with pytest.raises(LayoutError, match="x0 < x1") as e:
        layout_from_dict({"objects": [{"phrase": phrase, "box": [0.5, 0.1, 0.2, 0.4]}]})
    assert len(str(e.value)) < MESSAGE_CHARS


def test_caps_leave_room_for_real_layouts():
    """16 objects with 1 000-character phrases, pretty-printed, still parse (the caps are not the schema)."""
    text = json.dumps(
        {"version": 1, "objects": [_obj("p" * MAX_PHRASE_CHARS, z=i, color="#e6194b") for i in range(16)]}, indent=4
    )
    assert len(text) < MAX_JSON_CHARS
    lay = layout_from_json(text)
    assert len(lay.objects) == 16 and lay.objects[3].z == 3
    assert layout_from_json(_doc(_obj(z=2.0))).objects[0].z == 2  # JSON numbers: 2.0 is 2


def test_nesting_inside_strings_is_not_nesting():
    assert layout_from_json(_doc(_obj('[[[[[[[[[[[[[[[[[[[[ {{{{{{{{{{{{{{{{{{ \\" [[[['))).objects


HOSTILE_PIXEL_BOXES = {
    "string-coordinates": (
        [{"x": "10", "y": 0, "width": 5, "height": 5, "metadata": {"desc": "a cat"}}],
        "numbers for box 1",
    ),
    "huge-int": ([{"x": 10**400, "y": 0, "width": 5, "height": 5}], "finite numbers for box 1"),
    "200k-boxes": ([{"x": 0, "y": 0, "width": 5, "height": 5}] * 200_000, "at most 16 objects"),
    "long-desc": (
        [{"x": 0, "y": 0, "width": 5, "height": 5, "metadata": {"desc": "z" * 3_000_000}}],
        "phrase of at most",
    ),
    "desc-not-text": (
        [{"x": 0, "y": 0, "width": 5, "height": 5, "metadata": {"desc": ["a"] * 9}}],
        "a phrase for box 1",
    ),
}


@pytest.mark.parametrize("boxes, needle", HOSTILE_PIXEL_BOXES.values(), ids=HOSTILE_PIXEL_BOXES.keys())
def test_hostile_pixel_boxes_are_refused_quickly_and_briefly(boxes, needle):
    start = time.perf_counter()
    with pytest.raises(LayoutError) as e:
        layout_from_pixel_boxes(boxes, 64, 64)
    assert time.perf_counter() - start < SECONDS
    assert len(str(e.value)) < MESSAGE_CHARS and needle in str(e.value), str(e.value)[:500]


def test_phrases_text_is_capped_before_splitting():
    with pytest.raises(LayoutError, match="phrases text of at most"):
        split_phrases("a cat\n" * 2_000_000)
