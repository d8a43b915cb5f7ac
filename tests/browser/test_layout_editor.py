"""LRDM_Layout's canvas editor in the real frontend (check_layout_editor.mjs drives chromium like a user).

Checks: the node is found in the node library; two boxes drawn with real mouse drags, typed phrases,
one moved and one resized, land in the layout_json widget within a pixel of the drags; the canvas
takes the width/height aspect; undo/redo, the API prompt, the saved workflow and a reload carry the
boxes; Run sends them to the server, which parses them; malformed JSON is shown in a banner and kept,
and the server refuses it; the same editor works in the frontend's Vue node mode ("Nodes 2.0"). The
README screenshot is written by `make screenshots` (docs/images/layout_editor.png).
"""

import json
import os
from pathlib import Path

import pytest
from driver import ARTIFACTS, run_script
from hostkit import server as srv

pytestmark = [pytest.mark.server, pytest.mark.browser]

# `make screenshots` points this at docs/images (the README picture); tests write to artifacts/.
SCREENSHOT = Path(os.environ.get("LRDM_SCREENSHOT_DIR") or ARTIFACTS) / "layout_editor.png"
WORKFLOW_NAME = "lrdm_layout_editor_test"
PX_TOLERANCE = 1.0


@pytest.fixture(scope="module")
def editor(comfy_server, tmp_path_factory) -> dict:
    """Run check_layout_editor.mjs once against the live server; its result JSON."""
    cfg = {"screenshot": str(SCREENSHOT), "workflowName": WORKFLOW_NAME}
    result = run_script(
        comfy_server,
        tmp_path_factory.mktemp("layout-editor"),
        "check_layout_editor.mjs",
        cfg,
        "layout_editor_result.json",
        600,
    )
    assert not result.get("fatal"), f"{result['fatal']}\nsteps: {result['steps']}"
    return result


def _objects(text: str) -> list[dict]:
    data = json.loads(text)
    assert data["version"] == 1
    return data["objects"]


def _px(box: list[float], rect: dict) -> list[float]:
    """A normalised xyxy box in page pixels of the canvas rectangle."""
    return [
        rect["x"] + box[0] * rect["width"],
        rect["y"] + box[1] * rect["height"],
        rect["x"] + box[2] * rect["width"],
        rect["y"] + box[3] * rect["height"],
    ]


def _near(got: list[float], want: list[float]) -> bool:
    return all(abs(g - w) <= PX_TOLERANCE for g, w in zip(got, want, strict=True))


def _is_ours(text: str) -> bool:
    return f"/extensions/{srv.PACK_DIR_NAME}/" in text


def test_node_is_in_the_node_library(editor):
    c = editor["classic"]
    assert any(o.strip().startswith("LRDM Layout") for o in c["searchOptions"]), c["searchOptions"]
    assert c["libraryHasNode"]


def test_no_console_errors_from_our_files(editor):
    errors = [m for m in editor["console"] if m["type"] == "error" and (_is_ours(m["url"]) or _is_ours(m["text"]))]
    errors += [e for e in editor["pageErrors"] if _is_ours(e["stack"]) or _is_ours(e["message"])]
    assert not errors, errors


def test_canvas_takes_the_width_height_aspect(editor):
    rect = editor["classic"]["rect"]
    assert rect["width"] / rect["height"] == pytest.approx(768 / 512, rel=0.01)


def test_drawn_moved_and_resized_boxes_match_the_drags(editor):
    c = editor["classic"]
    rect = c["rect"]
    objs = _objects(c["afterEdit"]["json"])
    assert [o["phrase"] for o in objs] == ["a red fox", "a hot air balloon"]
    (fx, fy), (tx, ty) = c["draw1"]["from"], c["resize1"]["to"]
    assert _near(_px(objs[0]["box"], rect), [fx, fy, tx, ty]), (objs[0], c["draw1"], c["resize1"])
    (ax, ay), (bx, by) = c["draw2"]["from"], c["draw2"]["to"]
    dx = c["move2"]["to"][0] - c["move2"]["from"][0]
    dy = c["move2"]["to"][1] - c["move2"]["from"][1]
    assert _near(_px(objs[1]["box"], rect), [ax + dx, ay + dy, bx + dx, by + dy]), (objs[1], c["draw2"], c["move2"])
    drawn = _objects(c["afterDraw"]["json"])  # before the move and the resize: exactly the two drags
    assert _near(_px(drawn[0]["box"], rect), [*c["draw1"]["from"], *c["draw1"]["to"]])
    assert _near(_px(drawn[1]["box"], rect), [*c["draw2"]["from"], *c["draw2"]["to"]])
    assert objs[1]["z"] > objs[0]["z"] and objs[0]["color"] != objs[1]["color"]


def test_undo_and_redo_of_an_edit(editor):
    c = editor["classic"]
    # The node was placed with a click on the graph (1.5x attach it to the mouse): no change left open, else the
    # tracker records none of the edits and Ctrl+Z takes the node away.
    assert c["pendingChangesAfterPlacing"] in (0, None), c["pendingChangesAfterPlacing"]
    # One Ctrl+Z takes back the last edit, never the node (newer frontends lost it when edits were not recorded).
    assert c["afterUndo"]["id"] == c["afterEdit"]["id"] and c["afterUndo"]["json"], c["afterUndo"]
    undone = _objects(c["afterUndo"]["json"])  # the resize is taken back: box 1 as drawn
    assert _near(_px(undone[0]["box"], c["rect"]), [*c["draw1"]["from"], *c["draw1"]["to"]]), undone
    assert [o["box"] for o in c["afterUndo"]["editorObjects"]] == [o["box"] for o in undone]
    assert c["afterUndo"]["editorShown"] and c["afterRedo"]["editorShown"]
    assert c["afterRedo"]["json"] == c["afterEdit"]["json"]


def test_api_prompt_carries_the_widget_json(editor):
    c = editor["classic"]
    assert c["apiPrompt"]["layout_json"] == c["afterEdit"]["json"]
    assert (c["apiPrompt"]["width"], c["apiPrompt"]["height"]) == (768, 512)


def test_saved_workflow_and_reload_bring_the_boxes_back(editor):
    c = editor["classic"]
    node = next(n for n in c["saved"]["nodes"] if n["type"] == "LRDM_Layout")
    assert node["widgets_values"][0] == c["afterEdit"]["json"]
    assert len(node["widgets_values"]) == 4  # layout_json, width, height, background: no editor widget value
    back = c["afterReload"]
    assert back["json"] == c["afterEdit"]["json"] and back["editorShown"] and not back["error"]
    assert [o["box"] for o in back["editorObjects"]] == [o["box"] for o in _objects(c["afterEdit"]["json"])]


def test_run_sends_the_layout_to_the_server(editor):
    c = editor["classic"]
    run = c["run"]
    assert run["status"]["status_str"] == "success", run["status"]
    layout_id, inputs = next((k, v["inputs"]) for k, v in run["prompt"].items() if v["class_type"] == "LRDM_Layout")
    assert inputs["layout_json"] == c["afterEdit"]["json"]
    parsed = run["outputs"][layout_id]["lrdm_layout"][0]  # what the server's LRDM_Layout made of it
    assert [o["box"] for o in parsed["objects"]] == [o["box"] for o in _objects(c["afterEdit"]["json"])]
    assert (parsed["background"], parsed["width"], parsed["height"]) == ("a sunny meadow", 768, 512)
    assert run["outputs"][layout_id]["lrdm_background"], "the image input was not sent back for the editor"
    assert c["backgroundShown"], "the editor did not load the run's background image"


def test_malformed_json_is_reported_and_kept(editor):
    c = editor["classic"]
    bad = c["malformed"]
    assert bad["json"].startswith('{"version": 1, "objects": [{"phrase": "a red fox", "box": [0.1, 0.2')
    assert "not valid JSON" in bad["error"] and "not valid JSON" in bad["banner"]
    assert len(bad["editorObjects"]) == 2  # the last good boxes stay on screen, read-only
    post = c["malformedPost"]
    assert post["status"] == 400
    details = json.dumps(post["body"]["node_errors"])
    assert "LRDM Layout: Expected valid JSON" in details and "line 1 column" in details


def test_vue_node_mode_edits_and_runs(editor):
    v, c = editor["vue"], editor["classic"]
    assert v["vueNodesMode"] and v["inVueNode"], "the editor is not inside a Vue node"
    assert v["afterLoad"]["json"] == c["afterEdit"]["json"] and v["afterLoad"]["editorShown"]
    objs = _objects(v["afterEdit"]["json"])
    assert [o["phrase"] for o in objs] == ["a red fox", "a hot air balloon", "a small wooden fence"]
    rect = v["rect"]
    (ax, ay), (bx, by) = v["draw3"]["from"], v["draw3"]["to"]
    dx = v["move3"]["to"][0] - v["move3"]["from"][0]
    dy = v["move3"]["to"][1] - v["move3"]["from"][1]
    assert _near(_px(objs[2]["box"], rect), [ax + dx, ay + dy, bx + dx, by + dy]), (objs[2], v["draw3"], v["move3"])
    assert rect["width"] / rect["height"] == pytest.approx(768 / 512, rel=0.01)
    run = v["run"]
    assert run["status"]["status_str"] == "success", run["status"]
    inputs = next(n["inputs"] for n in run["prompt"].values() if n["class_type"] == "LRDM_Layout")
    assert inputs["layout_json"] == v["afterEdit"]["json"]


def test_delete_key_lock_and_clear(editor):
    v = editor["vue"]
    assert [o["phrase"] for o in _objects(v["afterDeleteKey"]["json"])] == ["a red fox", "a hot air balloon"]
    assert v["nodeCount"] == 4, "the Delete key reached the graph and removed a node"
    left = _objects(v["afterLockAndClear"]["json"])
    assert [(o["phrase"], o.get("locked")) for o in left] == [("a red fox", True)]


def test_screenshot_for_the_readme_is_written(editor):
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 10_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert editor["wall_s"] < 180, f"the editor test took {editor['wall_s']:.0f} s"
