"""Example workflows queued from ComfyUI's real frontend, and the README pictures of them.

check_screenshots.mjs loads example_workflows/lrdm_demo.json (the pack's small model) and a toy-model variant of
lrdm_step_by_step.json (LRDM_ToyModelLoader in place of the checkpoint loader, a layout in the toy model's words,
64x64, each preview 4x nearest), presses Run, waits until every output node shows its images, lays the nodes out
for a picture and saves a clipped screenshot. Checks: both runs succeed through the Run button; every image the
server returned is shown in its node; the capture node previews one attention map and one guidance map per
object. `make screenshots` writes the pictures to docs/images (then tools/image_manifest.py records their
hashes); otherwise they go to tests/browser/artifacts/.
"""

import json
import os
from pathlib import Path

import pytest
from driver import ARTIFACTS, run_script
from hostkit import server as srv
from hostkit.fixtures import REPO

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]

OUT_DIR = Path(os.environ.get("LRDM_SCREENSHOT_DIR") or ARTIFACTS)
EXAMPLES = REPO / "example_workflows"
# name -> (README picture, example workflow, variant, layout); the layouts and variants live in the .mjs.
SHOTS = {
    "workflow": ("workflow_demo.png", "lrdm_demo.json", "none", "demo"),
    "attention": ("attention_maps.png", "lrdm_step_by_step.json", "toy", "attention"),
}
N_OBJECTS = 2  # both workflows' layouts have two objects


@pytest.fixture(scope="module")
def shots(comfy_server, tmp_path_factory) -> dict:
    """Run check_screenshots.mjs once against the live server; its result JSON."""
    cfg = {
        "outDir": str(OUT_DIR),
        "shots": [
            {
                "name": name,
                "file": file,
                "workflow": json.loads((EXAMPLES / wf).read_text()),
                "variant": variant,
                "layout": layout,
                "timeoutMs": 400_000,
            }
            for name, (file, wf, variant, layout) in SHOTS.items()
        ],
    }
    result = run_script(
        comfy_server,
        tmp_path_factory.mktemp("screenshots"),
        "check_screenshots.mjs",
        cfg,
        "screenshots_result.json",
        900,
    )
    assert not result.get("fatal"), f"{result['fatal']}\nsteps: {result['steps']}"
    return result


def _shot(shots: dict, name: str) -> dict:
    shot = shots["shots"][name]
    assert not shot.get("error"), f"{name}: {shot['error']}\nsteps: {shots['steps']}"
    status = shot["run"]["status"]
    assert status["status_str"] == "success", srv.format_execution_error({"status": status})
    return shot


def _is_ours(text: str) -> bool:
    return f"/extensions/{srv.PACK_DIR_NAME}/" in text


@pytest.mark.parametrize("name", list(SHOTS))
def test_run_from_the_frontend_shows_every_output(shots, name):
    shot = _shot(shots, name)
    returned = {k: len(v.get("images", [])) for k, v in shot["run"]["outputs"].items() if v.get("images")}
    shown = {k: len(v["images"]) for k, v in shot["run"]["shown"].items()}
    assert returned and shown == returned, (returned, shown)


def test_demo_runs_lrdm_and_the_stock_sampler(shots):
    shot = _shot(shots, "workflow")
    types = sorted(n["class_type"] for n in shot["run"]["prompt"].values())
    assert {"LRDM_Sampler", "KSampler", "LRDM_ToyModelLoader"} <= set(types), types
    saved = [v for v in shot["run"]["shown"].values() if v["type"] == "SaveImage"]
    assert sorted(len(v["images"]) for v in saved) == [1, 4, 4]  # boxes; LRDM and stock, batch 4 each


def test_toy_step_by_step_previews_a_map_per_object(shots):
    shot = _shot(shots, "attention")
    prompt = shot["run"]["prompt"]
    types = {n["class_type"] for n in prompt.values()}
    assert "LRDM_ToyModelLoader" in types and "CheckpointLoaderSimple" not in types, types
    capture_id = next(k for k, v in prompt.items() if v["class_type"] == "LRDM_CaptureAttention")
    previews = [
        k
        for k, v in prompt.items()
        if v["class_type"] == "PreviewImage" and prompt[v["inputs"]["images"][0]]["inputs"]["image"][0] == capture_id
    ]
    assert len(previews) == 2, "expected the maps and the guidance previews of LRDM_CaptureAttention"
    for k in previews:
        assert shot["run"]["shown"][k]["images"] == [[256, 256]] * N_OBJECTS  # 64 px maps, shown 4x


@pytest.mark.parametrize("name", list(SHOTS))
def test_picture_is_written_and_every_node_placed(shots, name):
    shot = _shot(shots, name)
    path = OUT_DIR / SHOTS[name][0]
    assert Path(shot["file"]) == path and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
    assert not shot["unplaced"], f"nodes the picture layout in check_screenshots.mjs does not name: {shot['unplaced']}"
    assert 800 <= shot["size"]["width"] <= 2000 and 400 <= shot["size"]["height"] <= 1200, shot["size"]


def test_no_console_errors_from_our_files(shots):
    errors = [m for m in shots["console"] if m["type"] == "error" and (_is_ours(m["url"]) or _is_ours(m["text"]))]
    errors += [e for e in shots["pageErrors"] if _is_ours(e["stack"]) or _is_ours(e["message"])]
    assert not errors, errors
