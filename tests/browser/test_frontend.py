"""The pack in ComfyUI's real frontend, driven by playwright-core on the system chromium.

Checks: the page boots (window.app); the pack's web directory is served and no console error comes
from our files; every LRDM_ node is registered in LiteGraph; and the frontend's own graphToPrompt()
agrees with tools/hostkit/workflow.py on the fixture and example workflows. Screenshots go to
tests/browser/artifacts/ (ignored by git).
"""

import json

import pytest
from driver import run_script
from hostkit import server as srv
from hostkit import workflow as wf
from hostkit.fixtures import REPO

pytestmark = [pytest.mark.server, pytest.mark.browser]

FIXTURES = REPO / "tests" / "server" / "fixtures"
WORKFLOWS = [
    FIXTURES / "stock_txt2img.json",
    FIXTURES / "tricky_ui.json",
    *sorted((REPO / "example_workflows").glob("*.json")),
]


def _is_ours(text: str) -> bool:
    return f"/extensions/{srv.PACK_DIR_NAME}/" in text


@pytest.fixture(scope="module")
def frontend(comfy_server, lrdm_node_ids, tmp_path_factory) -> dict:
    """Run check_frontend.mjs once against the live server; its result JSON."""
    cfg = {
        "pack": srv.PACK_DIR_NAME,
        "nodeIds": lrdm_node_ids,
        "workflows": [{"name": p.name, "workflow": json.loads(p.read_text())} for p in WORKFLOWS],
    }
    return run_script(comfy_server, tmp_path_factory.mktemp("browser"), "check_frontend.mjs", cfg, "result.json", 600)


def test_app_boots_and_pack_web_directory_is_served(frontend):
    assert frontend["registeredCount"] > 50, frontend["steps"]
    ok = [r["url"] for r in frontend["packResponses"] if r["status"] == 200 and "/js/" in r["url"]]
    assert ok, f"no file of web/js/ was served: {frontend['packResponses']}"
    bad = [r for r in frontend["packResponses"] if r["status"] >= 400]
    assert not bad, bad
    assert any(name.startswith("LRDM") for name in frontend["extensions"]), frontend["extensions"]


def test_every_lrdm_node_is_registered_in_litegraph(frontend, lrdm_node_ids):
    assert sorted(frontend["registered"]) == lrdm_node_ids


def test_no_console_errors_from_our_files(frontend):
    errors = [m for m in frontend["console"] if m["type"] == "error" and (_is_ours(m["url"]) or _is_ours(m["text"]))]
    errors += [e for e in frontend["pageErrors"] if _is_ours(e["stack"]) or _is_ours(e["message"])]
    assert not errors, errors


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_converter_matches_the_frontend(frontend, object_info, path):
    got = frontend["workflows"].get(path.name, {})
    assert "output" in got, got
    ours = wf.ui_to_api(wf.load_workflow(path), object_info)
    strip = {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in got["output"].items()}
    assert {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in ours.items()} == strip


def test_preset_buttons_set_every_method_input_and_are_not_saved(frontend):
    """The two buttons under LRDM_Sampler's inputs set the inputs to the served web/js/presets.js (which
    tests/comfy/test_nodes.py checks against lrdm_core.config.PRESETS)."""
    got = frontend.get("presets")
    assert got and len(got["buttons"]) == 2, got
    assert set(got["presets"]) == {"plus", "paper"}
    assert got["buttons"] == [got["labels"]["plus"], got["labels"]["paper"]]
    for name in ("plus", "paper"):
        label, values = got["labels"][name], got["presets"][name]
        pressed = got["pressed"][label]
        assert {k: pressed["inputs"][k] for k in values} == values, label
        assert label not in pressed["saved"] and None not in pressed["saved"], pressed["saved"]
