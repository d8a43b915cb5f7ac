"""The layout schema: round trip, versions, and rejection of bad input with actionable messages."""

import json

import pytest
import torch

from lrdm_core.errors import LayoutError
from lrdm_core.layout import LAYOUT_VERSION, Layout, LayoutObject, layout_from_dict, layout_from_json

GOOD = {
    "version": 1,
    "background": "a kitchen table",
    "objects": [
        {"phrase": "a red apple", "box": [0.1, 0.2, 0.4, 0.6], "z": 2, "color": "#ff0000"},
        {"phrase": "a blue cup", "box": [0.5, 0.5, 0.9, 0.95], "locked": True},
    ],
}


def test_round_trip_is_exact():
    lay = layout_from_dict(GOOD)
    again = layout_from_json(lay.to_json())
    assert again == lay
    assert json.loads(lay.to_json())["version"] == LAYOUT_VERSION
    assert lay.objects[0].box == (0.1, 0.2, 0.4, 0.6) and lay.objects[1].locked


def test_layout_is_immutable():
    lay = layout_from_dict(GOOD)
    with pytest.raises(AttributeError):
        lay.background = "x"  # type: ignore[misc]
    assert isinstance(lay.objects, tuple)


def test_bare_list_and_bench_line_are_accepted():
    lay = layout_from_json('[{"phrase": "a dog", "box": [0, 0, 0.5, 0.5]}]')
    assert lay.phrases() == ["a dog"]
    bench = layout_from_json(
        '{"prompt": "a red circle", "objects": [{"phrase": "a red circle", "box": [0.1,0.1,0.3,0.3]}]}'
    )
    assert bench.prompt == "a red circle"


def test_pixel_units_are_normalised():
    lay = layout_from_dict(
        {
            "units": "px",
            "width": 512,
            "height": 256,
            "objects": [{"phrase": "a cat", "box": [0, 0, 256, 128]}],
        }
    )
    assert lay.objects[0].box == (0.0, 0.0, 0.5, 0.5)


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"objects": []}, "empty layout"),
        ({"objects": [{"phrase": "", "box": [0, 0, 1, 1]}]}, "non-empty phrase"),
        ({"objects": [{"phrase": "x", "box": [0.5, 0.5, 0.2, 0.9]}]}, "x0 < x1"),
        ({"objects": [{"phrase": "x", "box": [0.2, 0.2, 0.2, 0.9]}]}, "non-zero area"),
        ({"objects": [{"phrase": "x", "box": [-0.5, 0.2, 0.4, 0.9]}]}, "inside the canvas"),
        ({"objects": [{"phrase": "x", "box": [10, 20, 200, 300]}]}, "look like pixels"),
        ({"objects": [{"phrase": "x", "box": [0, 0, float("nan"), 1]}]}, "finite"),
        ({"objects": [{"phrase": "x", "box": [0, 0, 1]}]}, "four"),
        ({"objects": [{"phrase": "x"}]}, '"box"'),
        ({"version": 99, "objects": [{"phrase": "x", "box": [0, 0, 1, 1]}]}, "newer LRDM"),
        ({"boxes": [[0, 0, 1, 1]], "labels": ["x"]}, '"objects" list'),
        ({"objects": {"phrase": "x", "box": [0, 0, 1, 1]}}, "Wrap the objects in [ ]"),
        ({"version": True, "objects": [{"phrase": "x", "box": [0, 0, 1, 1]}]}, 'integer "version"'),
        ({"version": 1.5, "objects": [{"phrase": "x", "box": [0, 0, 1, 1]}]}, 'integer "version"'),
        ({"units": "px", "objects": [{"phrase": "x", "box": [0, 0, 1, 1]}]}, "width"),
    ],
)
def test_bad_layouts_say_what_to_fix(data, needle):
    with pytest.raises(LayoutError) as e:
        layout_from_dict(data)
    assert needle in str(e.value)
    assert str(e.value).startswith("Expected ")


def test_version_written_as_a_float_is_accepted():
    assert layout_from_json('{"version": 1.0, "objects": [{"phrase": "x", "box": [0, 0, 1, 1]}]}').version == 1


def test_malformed_json_reports_position():
    with pytest.raises(LayoutError, match="line 1 column"):
        layout_from_json('{"objects": [}')


def test_mask_objects_validate_and_do_not_serialise():
    m = torch.zeros(8, 8)
    m[2:5, 2:5] = 1
    obj = LayoutObject("a ball", mask=m)
    assert obj.region_area() == pytest.approx(9 / 64)
    with pytest.raises(LayoutError, match="empty mask"):
        LayoutObject("a ball", mask=torch.zeros(8, 8))
    with pytest.raises(LayoutError, match="Masks cannot be written"):
        Layout(objects=(obj,)).to_json()
