"""The pack in ComfyUI's real frontend, driven by playwright-core on the system chromium.

Checks: the page boots (window.app); the pack's web directory is served and no console error comes
from our files; every LRDM_ node is registered in LiteGraph; and the frontend's own graphToPrompt()
agrees with tools/hostkit/workflow.py on the fixture and example workflows. Screenshots go to
tests/browser/artifacts/ (ignored by git).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hostkit import server as srv
from hostkit import workflow as wf
from hostkit.fixtures import REPO

pytestmark = [pytest.mark.server, pytest.mark.browser]

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
FIXTURES = REPO / "tests" / "server" / "fixtures"
WORKFLOWS = [FIXTURES / "stock_txt2img.json", FIXTURES / "tricky_ui.json",
             *sorted((REPO / "example_workflows").glob("*.json"))]


def _is_ours(text: str) -> bool:
    return f"/extensions/{srv.PACK_DIR_NAME}/" in text


@pytest.fixture(scope="module")
def frontend(comfy_server, lrdm_node_ids, tmp_path_factory) -> dict:
    """Run check_frontend.mjs once against the live server; its result JSON."""
    chromium = os.environ.get("LRDM_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    if not (node and Path(chromium).exists() and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.fail(f"need node, {chromium} and node_modules/playwright-core: run `make browser-deps`",
                    pytrace=False)
    tmp = tmp_path_factory.mktemp("browser")
    # A returning user: no first-run templates dialog over the screenshots.
    settings = comfy_server.base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    ARTIFACTS.mkdir(exist_ok=True)
    cfg = {"url": comfy_server.url, "chromium": chromium, "userDataDir": str(tmp / "profile"),
           "artifacts": str(ARTIFACTS), "result": str(tmp / "result.json"), "pack": srv.PACK_DIR_NAME,
           "nodeIds": lrdm_node_ids,
           "workflows": [{"name": p.name, "workflow": json.loads(p.read_text())} for p in WORKFLOWS]}
    (tmp / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / ".config")}
    r = subprocess.run([node, str(HERE / "check_frontend.mjs"), str(tmp / "config.json")], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=600)
    result_path = Path(cfg["result"])
    if result_path.exists():
        shutil.copy(result_path, ARTIFACTS / "result.json")
    assert r.returncode == 0 and result_path.exists(), f"node failed ({r.returncode}):\n{r.stderr[-4000:]}"
    return json.loads(result_path.read_text())


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
    errors = [m for m in frontend["console"]
              if m["type"] == "error" and (_is_ours(m["url"]) or _is_ours(m["text"]))]
    errors += [e for e in frontend["pageErrors"] if _is_ours(e["stack"]) or _is_ours(e["message"])]
    assert not errors, errors


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_converter_matches_the_frontend(frontend, object_info, path):
    got = frontend["workflows"].get(path.name, {})
    assert "output" in got, got
    ours = wf.ui_to_api(wf.load_workflow(path), object_info)
    strip = {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in got["output"].items()}
    assert {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in ours.items()} == strip


def _js_presets() -> dict:
    """The PRESETS object of web/js/presets.js (tests/comfy/test_nodes.py checks it equals the Python presets)."""
    text = (REPO / "web" / "js" / "presets.js").read_text()
    start = text.index("{", text.index("PRESETS ="))
    return json.loads(text[start : text.index("};", start) + 1])


def test_preset_buttons_set_every_method_input_and_are_not_saved(frontend):
    """The two buttons under LRDM_Sampler's inputs set the inputs to lrdm_core.config.PRESETS (web/js/presets.js)."""
    pack_presets = _js_presets()
    got = frontend.get("presets")
    assert got and len(got["buttons"]) == 2, got
    for label, values in zip(got["buttons"], (pack_presets["plus"], pack_presets["paper"]), strict=True):
        pressed = got["pressed"][label]
        assert {k: pressed["inputs"][k] for k in values} == values, label
        assert label not in pressed["saved"] and None not in pressed["saved"], pressed["saved"]
