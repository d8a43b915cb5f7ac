"""Core `Create Bounding Boxes` (ComfyUI with BOUNDING_BOX types, e.g. 0.33.0) wired into
LRDM_LayoutFromBoundingBoxes in the real frontend (check_bounding_boxes.mjs): the frontend sends the host node's
box editor state and both links, and a Run gives the layout with each box's description as its phrase (from the
host's elements output) or else the phrases line. Skipped on hosts without the node (0.3.75)."""

import re

import pytest
from driver import run_script

pytestmark = [pytest.mark.server, pytest.mark.browser]

BOXES = [  # the host editor's own state: pixel boxes, a description in box 1's metadata only
    {"x": 32, "y": 64, "width": 128, "height": 256, "metadata": {"type": "obj", "desc": "a hot air balloon"}},
    {"x": 256, "y": 0, "width": 256, "height": 128, "metadata": {"type": "obj", "desc": ""}},
]


@pytest.fixture(scope="module")
def boxes_run(comfy_server, object_info, tmp_path_factory) -> dict:
    if "CreateBoundingBoxes" not in object_info:
        pytest.skip("this ComfyUI has no Create Bounding Boxes node (0.3.75 has no BOUNDING_BOX type)")
    result = run_script(
        comfy_server,
        tmp_path_factory.mktemp("bboxes"),
        "check_bounding_boxes.mjs",
        {"boxes": BOXES},
        "bounding_boxes_result.json",
        300,
    )
    assert not result.get("fatal"), f"{result['fatal']}\nsteps: {result['steps']}"
    return result


def test_frontend_sends_the_boxes_and_both_links(boxes_run):
    g = boxes_run["graph"]
    state = g["boxesInputs"]["editor_state"]
    assert (state.get("__value__") if isinstance(state, dict) else state) == BOXES, state
    conv = g["convInputs"]
    assert conv["bboxes"][1] == 1 and conv["elements"][1] == 2, conv  # CreateBoundingBoxes' bboxes, elements
    assert conv["bboxes"][0] == conv["elements"][0]


def test_run_gives_the_layout_with_phrases_from_the_elements(boxes_run):
    run = boxes_run["run"]
    assert run and run["status"]["status_str"] == "success", run
    text = "".join(run["outputs"][boxes_run["graph"]["textId"]]["text"])
    found = re.findall(r"phrase='([^']*)', box=\(([^)]*)\)", text)
    assert [p for p, _ in found] == ["a hot air balloon", "a blue cup"], text
    assert [float(v) for v in found[1][1].split(",")] == pytest.approx([0.5, 0.0, 1.0, 0.25])
    assert any(out.get("images") for out in run["outputs"].values())  # LRDM Layout Preview drew it
