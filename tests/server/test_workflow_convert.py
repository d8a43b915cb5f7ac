"""UI-format workflow -> API prompt (tools/hostkit/workflow.py) on handcrafted workflows; no server."""

import copy
import json
from pathlib import Path

import pytest
from hostkit import workflow as wf

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def info() -> dict:
    """A trimmed /object_info of ComfyUI 0.3.75 (the nodes the fixtures use)."""
    return json.loads((FIXTURES / "object_info_subset.json").read_text())


def load(name: str) -> dict:
    return wf.load_workflow(FIXTURES / name)


def test_stock_txt2img(info):
    prompt = wf.ui_to_api(load("stock_txt2img.json"), info)
    assert list(prompt) == ["3", "4", "5", "6", "7", "8", "9"]
    assert prompt["3"] == {
        "class_type": "KSampler",
        "inputs": {
            "seed": 42,
            "steps": 3,
            "cfg": 7.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
        "_meta": {"title": "KSampler"},
    }
    assert prompt["4"]["inputs"] == {"ckpt_name": "lrdm_random_sd15.safetensors"}
    assert prompt["6"]["inputs"] == {"text": "a red apple on a wooden table", "clip": ["4", 1]}
    assert prompt["9"]["inputs"] == {"filename_prefix": "lrdm_stock", "images": ["8", 0]}


def test_virtual_muted_and_bypassed_nodes(info):
    prompt = wf.ui_to_api(load("tricky_ui.json"), info)
    # Note, MarkdownNote, Reroute, PrimitiveNode, the muted PreviewImage and the bypassed upscale vanish.
    assert set(prompt) == {"1", "3", "4", "6", "8", "10", "11", "15"}
    ks = prompt["8"]["inputs"]
    assert ks["model"] == ["1", 0]  # through the Reroute
    assert ks["latent_image"] == ["6", 0]  # around the bypassed LatentUpscaleBy
    assert ks["seed"] == 123456  # from the PrimitiveNode, not the widget's 7
    assert (ks["steps"], ks["cfg"], ks["sampler_name"], ks["scheduler"]) == (20, 6.5, "dpmpp_2m", "karras")
    assert prompt["3"]["inputs"]["text"] == "a cat on a mat"
    assert prompt["11"]["_meta"]["title"] == "Save the result"
    assert prompt["15"]["inputs"] == {"image": "example.png"}  # the upload button's value is skipped
    assert prompt["6"]["inputs"] == {"width": 512, "height": 768, "batch_size": 2}


def test_link_from_muted_node_is_dropped(info):
    w = load("stock_txt2img.json")
    next(n for n in w["nodes"] if n["id"] == 5)["mode"] = wf.MODE_MUTED
    prompt = wf.ui_to_api(w, info)
    assert "5" not in prompt and "latent_image" not in prompt["3"]["inputs"]


def test_bypass_without_matching_input_drops_the_link(info):
    w = load("stock_txt2img.json")
    next(n for n in w["nodes"] if n["id"] == 8)["mode"] = wf.MODE_BYPASSED  # VAEDecode: LATENT,VAE -> IMAGE
    prompt = wf.ui_to_api(w, info)
    assert "8" not in prompt and "images" not in prompt["9"]["inputs"]


def test_dict_links_and_dict_widget_values(info):
    w = load("stock_txt2img.json")
    w["links"] = [
        dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), link, strict=True))
        for link in w["links"]
    ]
    latent = next(n for n in w["nodes"] if n["id"] == 5)
    latent["widgets_values"] = {"width": 96, "height": 80, "batch_size": 2}
    prompt = wf.ui_to_api(w, info)
    assert prompt["5"]["inputs"] == {"width": 96, "height": 80, "batch_size": 2}
    assert prompt["3"]["inputs"]["latent_image"] == ["5", 0]


def test_seed_without_control_value(info):
    w = load("stock_txt2img.json")
    ks = next(n for n in w["nodes"] if n["id"] == 3)
    ks["widgets_values"] = [5, 3, 7.0, "euler", "normal", 1.0]  # saved by a frontend without the control
    assert wf.ui_to_api(w, info)["3"]["inputs"]["steps"] == 3


def test_list_values_are_wrapped(info):
    w = load("stock_txt2img.json")
    next(n for n in w["nodes"] if n["id"] == 6)["widgets_values"] = [["a", "b"]]
    assert wf.ui_to_api(w, info)["6"]["inputs"]["text"] == {"__value__": ["a", "b"]}


def test_unknown_node_type_and_subgraph_are_rejected(info):
    w = load("stock_txt2img.json")
    w["nodes"][0]["type"] = "NotInstalledNode"
    with pytest.raises(wf.WorkflowError, match="NotInstalledNode"):
        wf.ui_to_api(w, info)
    w = load("stock_txt2img.json")
    w["definitions"] = {"subgraphs": [{"id": "x"}]}
    with pytest.raises(wf.WorkflowError, match="subgraph"):
        wf.ui_to_api(w, info)


def test_api_prompt_is_not_a_ui_workflow(tmp_path):
    p = tmp_path / "api.json"
    p.write_text(json.dumps({"3": {"class_type": "KSampler", "inputs": {}}}))
    with pytest.raises(wf.WorkflowError, match="not a UI-format"):
        wf.load_workflow(p)


def test_checkpoint_overrides_and_shrink(info):
    prompt = wf.ui_to_api(load("tricky_ui.json"), info)
    assert wf.set_checkpoint(prompt, "real.safetensors") == 1
    assert prompt["1"]["inputs"]["ckpt_name"] == "real.safetensors"
    before = copy.deepcopy(prompt)
    wf.apply_overrides(prompt, ["KSampler.cfg=4.5", "8.sampler_name=euler", 'text="a dog"'])
    assert prompt["8"]["inputs"]["cfg"] == 4.5 and prompt["8"]["inputs"]["sampler_name"] == "euler"
    assert prompt["3"]["inputs"]["text"] == prompt["4"]["inputs"]["text"] == "a dog"
    assert prompt["8"]["inputs"]["model"] == before["8"]["inputs"]["model"]
    with pytest.raises(wf.WorkflowError, match="matched no literal input"):
        wf.apply_overrides(prompt, ["KSampler.model=3"])
    with pytest.raises(wf.WorkflowError, match="expected"):
        wf.apply_overrides(prompt, ["steps"])
    wf.shrink(prompt)
    assert prompt["6"]["inputs"] == {"width": 64, "height": 64, "batch_size": 1}
    assert prompt["8"]["inputs"]["steps"] == 3
