"""The pack inside a real headless ComfyUI: registration, tooltips, /prompt, /history.

Workflows run on the random-weight full-size SD1.5 checkpoint, shrunk to a 64x64 image (8x8
latent: the U-Net's up path still passes three attention resolutions, 8x8/4x4/2x2) and <= 3 steps.
The example workflows' model files are replaced by random-weight stand-ins (use_test_models): SDXL
checkpoint names by an SDXL-architecture checkpoint that ComfyUI's loader detects as SDXL (SDXL's
block layout, text encoders and conditioning; narrower deep levels, see tools/hostkit/sdxl.py),
every other checkpoint by the SD1.5 one, every LoRA by a kohya-format SD1.5 LoRA; the images they
load are copied into the server's input folder by the comfy_server fixture.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostkit import server as srv
from hostkit import workflow as wf
from hostkit.fixtures import REPO, TEST_CKPT_NAME, TEST_LORA_NAME, TEST_SDXL_CKPT_NAME

pytestmark = pytest.mark.server

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = sorted((REPO / "example_workflows").glob("*.json"))


def test_pack_loaded_without_import_errors(comfy_server):
    log = comfy_server.log_text()
    pack = srv.PACK_DIR_NAME
    # "   0.2 seconds: <dir>"; newer hosts put a coloured "[INFO]" before it.
    plain = [re.sub(r"^\s*(\[[A-Z]+\])?", "", re.sub(r"\x1b\[[0-9;]*m", "", line)) for line in log.splitlines()]
    timing = [line for line in plain if re.match(r"\s*[\d.]+ seconds.*: ", line) and pack in line]
    assert timing, f"{pack} missing from 'Import times for custom nodes':\n{comfy_server.log_tail()}"
    assert not any("IMPORT FAILED" in line for line in timing), timing
    assert not re.search(rf"Cannot import .*{pack}", log), comfy_server.log_tail()
    startup = log.split("Starting server", 1)[0]  # the import phase (runs later in the session have own tests)
    ours = [
        tb
        for tb in _tracebacks(startup)
        if pack in tb or any(f"{REPO}/{d}" in tb for d in ("nodes", "lrdm_core", "__init__.py"))
    ]
    assert not ours, ours[0][:3000]


def _tracebacks(log: str) -> list[str]:
    """Each 'Traceback ...' block of the log, up to and including its exception line."""
    blocks, current = [], None
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line and not line.startswith(" "):
                blocks.append("\n".join(current))
                current = None
    return blocks


def test_every_lrdm_node_input_has_a_tooltip(object_info, lrdm_node_ids):
    missing = []
    for node_id in lrdm_node_ids:
        info = object_info[node_id]
        for section in ("required", "optional"):
            for name, spec in (info["input"].get(section) or {}).items():
                opts = spec[1] if isinstance(spec, list) and len(spec) > 1 else {}
                opts = opts if isinstance(opts, dict) else {}
                if not str(opts.get("tooltip", "")).strip():
                    missing.append(f"{node_id}.{name}")
    assert not missing, f"inputs without tooltip: {missing}"


def test_lrdm_nodes_live_in_the_lrdm_category(object_info, lrdm_node_ids):
    wrong = {
        n: object_info[n].get("category")
        for n in lrdm_node_ids
        if not str(object_info[n].get("category", "")).startswith("lrdm")
    }
    assert not wrong, f"expected category lrdm/...: {wrong}"


def test_invalid_prompt_gets_400_with_node_errors(comfy_server):
    prompt = {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "2": {"class_type": "KSampler", "inputs": {"latent_image": ["1", 0], "seed": 0, "steps": 1}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    }
    status, body = comfy_server.client.post_prompt(prompt)
    assert status == 400, body
    assert "2" in body["node_errors"], body
    assert body["node_errors"]["2"]["class_type"] == "KSampler"
    with pytest.raises(srv.ComfyError, match=r"node 2 \(KSampler\)"):
        comfy_server.client.submit(prompt)


def run_prompt(server, prompt: dict) -> list[dict]:
    wf.shrink(prompt, size=64, max_steps=3)
    entry = server.client.wait(server.client.submit(prompt), timeout=900)
    return srv.image_refs(entry)


def run_cli(comfy_server, workflow: Path, out: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """`python -m hostkit run` against the live server (what `make run URL=...` calls)."""
    cmd = [sys.executable, "-m", "hostkit", "run", "--tree", str(comfy_server.tree), "--url", comfy_server.url]
    cmd += ["--workflow", str(workflow), "--out", str(out), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def test_cli_runs_a_stock_workflow_on_a_running_server(comfy_server, tmp_path):
    """`make run URL=...` path: convert, queue, poll /history, download, print the image paths."""
    r = run_cli(comfy_server, FIXTURES / "stock_txt2img.json", tmp_path, "--ckpt", TEST_CKPT_NAME, "--shrink")
    assert r.returncode == 0, r.stderr[-3000:]
    paths = [Path(p) for p in r.stdout.split()]
    assert len(paths) == 1 and paths[0].is_file() and paths[0].parent == tmp_path
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_node_errors_and_fails(comfy_server, tmp_path):
    bad = json.loads((FIXTURES / "stock_txt2img.json").read_text())
    for node in bad["nodes"]:
        if node["type"] == "KSampler":
            node["inputs"] = [i for i in node["inputs"] if i["name"] != "model"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    r = run_cli(comfy_server, path, tmp_path / "out", timeout=120)
    assert r.returncode == 1
    assert "node 3 (KSampler)" in r.stderr and "model" in r.stderr, r.stderr


def test_example_workflows_exist():
    assert EXAMPLES, "example_workflows/ has no *.json (the demo workflow lrdm_demo.json belongs there)"


def use_test_models(prompt: dict, request) -> set[str]:
    """Put the stand-ins into every literal ckpt_name / lora_name input; returns the file names used."""
    used = set()
    for node in prompt.values():
        inputs = node["inputs"]
        if isinstance(inputs.get("ckpt_name"), str):
            sdxl = "xl" in inputs["ckpt_name"].lower()  # sd_xl_base_1.0, juggernautXL_v9, ...
            request.getfixturevalue("test_sdxl_ckpt" if sdxl else "test_ckpt")  # fails clearly if not made
            inputs["ckpt_name"] = TEST_SDXL_CKPT_NAME if sdxl else TEST_CKPT_NAME
            used.add(inputs["ckpt_name"])
        if isinstance(inputs.get("lora_name"), str):
            request.getfixturevalue("test_lora")
            inputs["lora_name"] = TEST_LORA_NAME
            used.add(TEST_LORA_NAME)
    return used


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_workflow_produces_an_image(comfy_server, object_info, path, request):
    prompt = wf.ui_to_api(wf.load_workflow(path), object_info)
    used = use_test_models(prompt, request)
    log_start = len(comfy_server.log_text())
    refs = run_prompt(comfy_server, prompt)
    assert refs, f"{path.name} finished without images"
    log = comfy_server.log_text()[log_start:]
    assert "invalid value encountered" not in log, f"{path.name} made a NaN/inf image:\n{log[-3000:]}"
    if TEST_SDXL_CKPT_NAME in used:  # the stand-in really ran as SDXL (ComfyUI names the model class)
        assert re.search(r"Requested to load SDXL\b", log), log[-3000:]
    if TEST_LORA_NAME in used:  # every key of the LoRA matched a weight and was patched in
        bad = [ln for ln in log.splitlines() if re.search(r"lora key not loaded|NOT LOADED|ERROR lora", ln)]
        assert not bad, bad[:10]


def _layout_from_preview(entry: dict, node: str) -> list[tuple[str, list[float]]]:
    """(phrase, box) of each object in PreviewAny's text of an LRDM_LAYOUT (the Layout dataclass repr)."""
    text = "".join(entry["outputs"][node]["text"])
    found = re.findall(r"phrase='([^']*)', box=\(([^)]*)\)", text)
    return [(phrase, [float(v) for v in box.split(",")]) for phrase, box in found]


def test_layout_from_the_hosts_create_bounding_boxes(comfy_server, object_info):
    """Core `Create Bounding Boxes` (newer hosts) -> LRDM_LayoutFromBoundingBoxes: its pixel boxes and, per box,
    the phrase from its `elements` output (the box's description) or else the phrases input's line."""
    if "CreateBoundingBoxes" not in object_info:
        assert "LRDM_LayoutFromBoundingBoxes" not in object_info  # registered only beside the host's box types
        pytest.skip("this ComfyUI has no Create Bounding Boxes node (0.3.75 has no BOUNDING_BOX type)")
    spec = object_info["LRDM_LayoutFromBoundingBoxes"]["input"]
    assert spec["optional"]["elements"][0] == "ARRAY"
    outputs = object_info["CreateBoundingBoxes"]["output"]
    assert outputs[1:3] == ["BOUNDING_BOX", "ARRAY"], outputs
    editor_state = [  # what its canvas stores: pixel boxes, descriptions in metadata (box 2 has none)
        {"x": 32, "y": 64, "width": 128, "height": 256, "metadata": {"type": "obj", "desc": "a hot air balloon"}},
        {"x": 256, "y": 0, "width": 256, "height": 128, "metadata": {"type": "obj", "desc": ""}},
    ]
    prompt = {
        "1": {
            "class_type": "CreateBoundingBoxes",
            "inputs": {"width": 512, "height": 512, "editor_state": {"__value__": editor_state}},
        },
        "2": {
            "class_type": "LRDM_LayoutFromBoundingBoxes",
            "inputs": {
                "bboxes": ["1", 1],
                "elements": ["1", 2],
                "width": 512,
                "height": 512,
                "phrases": "not used: box 1 has a description\na blue cup",
                "background": "a meadow",
                "frame": 0,
            },
        },
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    }
    entry = comfy_server.client.wait(comfy_server.client.submit(prompt), timeout=300)
    got = _layout_from_preview(entry, "3")
    assert [p for p, _ in got] == ["a hot air balloon", "a blue cup"], entry["outputs"]
    assert got[0][1] == pytest.approx([32 / 512, 64 / 512, 160 / 512, 320 / 512])
    assert got[1][1] == pytest.approx([0.5, 0.0, 1.0, 0.25])
    # Without the elements link the boxes carry no descriptions (the bboxes output is pixels only): the phrases
    # input names every box, and a missing line is a clear error.
    del prompt["2"]["inputs"]["elements"]
    prompt["2"]["inputs"]["phrases"] = "a red kite\na blue cup"
    got = _layout_from_preview(comfy_server.client.wait(comfy_server.client.submit(prompt), timeout=300), "3")
    assert [p for p, _ in got] == ["a red kite", "a blue cup"]
    prompt["2"]["inputs"]["phrases"] = "a red kite"
    with pytest.raises(srv.ComfyError, match="a phrase for box 2"):
        comfy_server.client.wait(comfy_server.client.submit(prompt), timeout=300)


def _sampled_latent(server, prompt: dict, sampler_id: str):
    """Run the prompt with the test-only LRDMTest_LatentValues on one sampler's output; its latent."""
    import torch

    prompt = {**prompt, "lrdm_values": {"class_type": "LRDMTest_LatentValues", "inputs": {"samples": [sampler_id, 0]}}}
    entry = server.client.wait(server.client.submit(prompt), timeout=900)
    out = entry["outputs"]["lrdm_values"]
    return torch.tensor(out["values"]).reshape(out["shape"])


@pytest.mark.slow
def test_lora_pag_example_applies_pag_and_lrdm(comfy_server, object_info, request):
    """lrdm_lora_pag: PAG (before LRDM, node defaults) changes the result as much as it does without LRDM, and LRDM
    changes it too. PAG's effect on the random model at 128 px is small with or without LRDM (about 1e-4 of the
    latent's scale, measured on ComfyUI 0.3.75), so its effect without LRDM is the measure, not a fixed floor."""
    prompt = wf.ui_to_api(wf.load_workflow(REPO / "example_workflows" / "lrdm_lora_pag.json"), object_info)
    use_test_models(prompt, request)
    wf.shrink(prompt, size=128, max_steps=3)  # 128 px: SD1.5's middle block is 2x2 (1x1 at 64 px: PAG is a no-op)
    pag = next(k for k, n in prompt.items() if n["class_type"] == "PerturbedAttentionGuidance")
    lrdm = next(k for k, n in prompt.items() if n["class_type"] == "LRDM_ApplyLayout")
    sampler = next(k for k, n in prompt.items() if n["class_type"] == "KSampler")
    assert prompt[pag]["inputs"]["scale"] > 0 and prompt[lrdm]["inputs"]["model"] == [pag, 0]
    no_pag = json.loads(json.dumps(prompt))
    no_pag[pag]["inputs"]["scale"] = 0.0  # PAG's own off switch: its post-CFG function returns early
    no_lrdm = json.loads(json.dumps(prompt))
    no_lrdm[sampler]["inputs"]["model"] = [pag, 0]
    neither = json.loads(json.dumps(no_lrdm))
    neither[pag]["inputs"]["scale"] = 0.0
    shipped, without_lrdm = (_sampled_latent(comfy_server, p, sampler) for p in (prompt, no_lrdm))
    pag_effect = float((shipped - _sampled_latent(comfy_server, no_pag, sampler)).abs().max() / shipped.abs().max())
    own = float((without_lrdm - _sampled_latent(comfy_server, neither, sampler)).abs().max() / without_lrdm.abs().max())
    assert own > 0 and pag_effect >= 0.5 * own, f"PAG's effect beside LRDM {pag_effect:.2e}, without LRDM {own:.2e}"
    lrdm_effect = float((shipped - without_lrdm).abs().max() / shipped.abs().max())
    assert lrdm_effect > 1e-3, f"LRDM had no effect beside PAG: {lrdm_effect:.2e}"
