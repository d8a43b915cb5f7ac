"""LRDM under ComfyUI's own execution engine (execution.PromptExecutor, its output cache and its interrupt).

API-format prompts run in-process through validate_prompt and PromptExecutor, as the server's prompt worker
runs them; a test loader node hands out the session's tiny SD1.5 model and CLIP. Checked: identical runs are
identical; changing only the layout re-runs exactly the nodes downstream of it; a cached LRDM MODEL is reused
with another seed and under a second LRDM node with another layout; two LRDM nodes in one graph do not see
each other; an interrupt (the flag ComfyUI's /interrupt sets) mid-capture or mid-window leaves nothing behind
and the next run equals a clean one.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json

import comfy.model_management
import execution
import pytest
import torch
from comfy.patcher_extension import WrappersMP
from helpers import LAYOUT_JSON, METHOD, PROMPT, model_state

import nodes as comfy_nodes

LAYOUT_B = json.dumps(
    {
        "objects": [
            {"phrase": "a red apple", "box": [0.5, 0.5, 1.0, 1.0]},
            {"phrase": "a blue cup", "box": [0.0, 0.0, 0.4, 0.45]},
        ]
    }
)
_ids = itertools.count()


class FakeServer:
    """What PromptExecutor needs of server.PromptServer: a client id and send_sync (kept as events)."""

    def __init__(self) -> None:
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.events: list[tuple[str, dict]] = []

    def send_sync(self, event, data, sid=None) -> None:
        self.events.append((event, data))


class TinyModels:
    """Test loader node: the session's tiny model (with an optional interrupting wrapper) and CLIP."""

    model = None
    clip = None

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("MODEL", "CLIP")
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self):
        return (self.model, self.clip)


class Keep:
    """Test output node: keeps the sampled latent under a label."""

    kept: dict[str, torch.Tensor] = {}

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "label": ("STRING", {"default": "out"})}}

    RETURN_TYPES = ()
    FUNCTION = "keep"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def keep(self, samples, label):
        type(self).kept[label] = samples["samples"].clone()
        return ()


class InterruptAt:
    """DIFFUSION_MODEL wrapper that sets ComfyUI's interrupt flag on its n-th U-Net call while armed."""

    def __init__(self) -> None:
        self.at = 0
        self.calls = 0

    def __call__(self, executor, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            comfy.model_management.interrupt_current_processing(True)  # what POST /interrupt does
        return executor(*args, **kwargs)


@pytest.fixture(scope="module")
def engine(pack, sd15, clip):
    """The pack's nodes and the two test nodes registered as ComfyUI registers them; restored afterwards."""
    saved = dict(comfy_nodes.NODE_CLASS_MAPPINGS)
    for node in pack.nodes.NODE_LIST:
        comfy_nodes.NODE_CLASS_MAPPINGS[node.GET_SCHEMA().node_id] = node
    comfy_nodes.NODE_CLASS_MAPPINGS.update(LRDMTest_TinyModels=TinyModels, LRDMTest_Keep=Keep)
    interrupter = InterruptAt()
    base = sd15.clone()
    base.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "test_interrupt", interrupter)
    TinyModels.model, TinyModels.clip = base, clip
    yield base, interrupter
    comfy_nodes.NODE_CLASS_MAPPINGS.clear()
    comfy_nodes.NODE_CLASS_MAPPINGS.update(saved)


def _executor():
    # The keys of main.py's cache_args across hosts ("ram_inactive" since ComfyUI 0.2x; older hosts ignore it).
    return execution.PromptExecutor(
        FakeServer(), cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0, "ram_inactive": 0}
    )


def _graph(layout_json=LAYOUT_JSON, seed=1, label="out", second_layout=None) -> dict:
    """Loader -> LayoutFromJSON -> LRDM_ApplyLayout [-> a second LRDM_ApplyLayout] -> KSampler -> Keep."""
    method = dict(METHOD, t0=0.67)
    g = {
        "1": {"class_type": "LRDMTest_TinyModels", "inputs": {}},
        "2": {"class_type": "LRDM_LayoutFromJSON", "inputs": {"json": layout_json}},
        "3": {
            "class_type": "LRDM_ApplyLayout",
            "inputs": {"model": ["1", 0], "clip": ["1", 1], "layout": ["2", 0], "prompt": PROMPT, **method},
        },
        "4": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": PROMPT}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": ""}},
        "6": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "7": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["3", 0],
                "seed": seed,
                "steps": 3,
                "cfg": 7.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "positive": ["4", 0],
                "negative": ["5", 0],
                "latent_image": ["6", 0],
                "denoise": 1.0,
            },
        },
        "8": {"class_type": "LRDMTest_Keep", "inputs": {"samples": ["7", 0], "label": label}},
    }
    if second_layout is not None:
        g["9"] = {"class_type": "LRDM_LayoutFromJSON", "inputs": {"json": second_layout}}
        g["10"] = {
            "class_type": "LRDM_ApplyLayout",
            "inputs": {"model": ["3", 0], "clip": ["1", 1], "layout": ["9", 0], "prompt": PROMPT, **method},
        }
        g["7"]["inputs"]["model"] = ["10", 0]
    return g


def _run(executor, prompt: dict) -> tuple[set[str], list[str]]:
    """Validate and execute like the prompt worker; returns (executed node ids, status message kinds)."""
    valid, error, outputs, node_errors = asyncio.run(execution.validate_prompt("p", prompt, None))
    assert valid, (error, node_errors)
    Keep.kept.clear()
    executor.server.events.clear()
    executor.execute(prompt, f"prompt-{next(_ids)}", {"client_id": "test"}, outputs)
    ran = {d["node"] for e, d in executor.server.events if e == "executing" and d.get("node") is not None}
    return ran, [kind for kind, _ in executor.status_messages]


def _fresh(prompt: dict, label="out") -> torch.Tensor:
    ran, kinds = _run(_executor(), prompt)
    assert kinds[-1] == "execution_success", kinds
    return Keep.kept[label]


def test_same_inputs_same_output_and_only_the_changed_layout_reruns(engine):
    base, _ = engine
    before = model_state(base)
    first = _fresh(_graph())
    assert torch.equal(_fresh(_graph()), first)  # a new executor (empty cache), same seed: identical

    ex = _executor()
    ran, _ = _run(ex, _graph())
    assert ran == {str(i) for i in range(1, 9)} and torch.equal(Keep.kept["out"], first)
    ran, _ = _run(ex, _graph())
    assert ran == set()  # nothing changed: everything comes from ComfyUI's cache
    ran, kinds = _run(ex, _graph(LAYOUT_B))
    assert ran == {"2", "3", "7", "8"} and kinds[-1] == "execution_success"  # only the layout's downstream
    other = Keep.kept["out"]
    assert not torch.equal(other, first) and torch.equal(other, _fresh(_graph(LAYOUT_B)))
    ran, _ = _run(ex, _graph(LAYOUT_JSON))
    assert ran == {"2", "3", "7", "8"} and torch.equal(Keep.kept["out"], first)  # back to A: nothing leaked
    assert model_state(base) == before


def test_cached_lrdm_model_is_reused_with_another_seed_and_another_layout(engine):
    ex = _executor()
    _run(ex, _graph(seed=1))
    ran, _ = _run(ex, _graph(seed=2))
    assert ran == {"7", "8"}  # the LRDM MODEL of node 3 comes from the cache
    assert torch.equal(Keep.kept["out"], _fresh(_graph(seed=2)))
    ran, _ = _run(ex, _graph(seed=2, second_layout=LAYOUT_B))
    assert "3" not in ran and {"9", "10", "7"} <= ran  # the cached LRDM MODEL feeds a second LRDM node
    assert torch.equal(Keep.kept["out"], _fresh(_graph(LAYOUT_B, seed=2)))  # the second layout replaces the first


def test_two_lrdm_nodes_in_one_graph_do_not_see_each_other(engine):
    """Two branches from one loader: LRDM(A) -> KSampler and LRDM(B) -> KSampler, sharing the encoders and the
    latent; each branch gives what it gives alone."""
    a, b = _graph(label="a"), _graph(LAYOUT_B, label="b")
    own = {"2", "3", "7"}  # the second branch's own layout, LRDM and sampler nodes; the rest is shared
    both = dict(a)
    for k in ("2", "3", "7", "8"):
        inputs = {
            name: ([("b" + v[0]) if v[0] in own else v[0], v[1]] if isinstance(v, list) else v)
            for name, v in b[k]["inputs"].items()
        }
        both["b" + k] = {"class_type": b[k]["class_type"], "inputs": inputs}
    ran, kinds = _run(_executor(), both)
    assert kinds[-1] == "execution_success" and {"3", "b3", "7", "b7"} <= ran
    got_a, got_b = Keep.kept["a"], Keep.kept["b"]
    assert not torch.equal(got_a, got_b)
    assert torch.equal(got_a, _fresh(a, "a")) and torch.equal(got_b, _fresh(b, "b"))


@pytest.mark.parametrize("at, where", [(1, "capture"), (2, "layered step")])
def test_interrupt_then_rerun_equals_a_clean_run(engine, at, where):
    base, interrupter = engine
    clean = _fresh(_graph())
    ex = _executor()
    _run(ex, _graph(seed=5))  # fill the cache: node 3's LRDM MODEL is shared by the next runs
    entry = ex.caches.outputs.get("3")  # CacheEntry(ui, outputs); a coroutine on newer hosts (0.33.0)
    if inspect.isawaitable(entry):
        entry = asyncio.run(entry)
    lrdm_model = entry.outputs[0][0]
    before_base, before_lrdm = model_state(base), model_state(lrdm_model)
    interrupter.calls, interrupter.at = 0, at
    try:
        ran, kinds = _run(ex, _graph())
    finally:
        interrupter.at = 0
    assert interrupter.calls == at and "execution_interrupted" in kinds, (where, kinds)
    assert not comfy.model_management.processing_interrupted()
    assert model_state(base) == before_base and model_state(lrdm_model) == before_lrdm
    assert not _lrdm_keys(base.model_options)  # the shared model carries nothing of ours, not even per-run keys
    ran, kinds = _run(ex, _graph())
    assert kinds[-1] == "execution_success" and ran == {"7", "8"}  # the sampler re-runs on the cached model
    assert torch.equal(Keep.kept["out"], clean)


def _lrdm_keys(options) -> list[str]:
    """Keys of ours (lrdm_ prefix) anywhere in a (nested) options dict."""
    found = []
    if isinstance(options, dict):
        for k, v in options.items():
            if isinstance(k, str) and k.startswith("lrdm"):
                found.append(k)
            found += _lrdm_keys(v)
    return found


def test_every_node_with_the_biases_refuses_the_old_logit_values(pack):
    """Each node that takes attn_bias / self_bias (sampler, patch, guider, capture) answers the old logit values
    with the pack's message; the defaults pass. The function is the one ComfyUI's validation finds (the V3
    override lookup sees the mixin's)."""
    from comfy_api.internal import first_real_override

    takers = [n for n in pack.nodes.NODE_LIST if {"attn_bias", "self_bias"} <= _input_names(n)]
    assert len(takers) >= 4, [n.__name__ for n in takers]
    for node in takers:
        validate = first_real_override(node, "validate_inputs")
        assert validate is not None, node.__name__
        assert validate(attn_bias=2.0, self_bias=0.4) is True, node.__name__
        said = validate(attn_bias=12.0, self_bias=6.0)
        assert isinstance(said, str) and "old logit values (12 and 6)" in said, (node.__name__, said)


def _input_names(node) -> set[str]:
    return {i.id for i in node.define_schema().inputs}


@pytest.mark.parametrize("old", [dict(attn_bias=12.0, self_bias=6.0), dict(self_bias=6.0)], ids=["both", "self"])
def test_a_workflow_saved_with_the_old_logit_biases_is_refused_with_the_fix(engine, old):
    """Issue 18: the biases are fractions of each block's logit range now; a graph carrying the old logit values
    (12 and 6) must not silently mean something else. ComfyUI's own validation refuses it before anything runs,
    with the pack's expected / got / fix message (not ComfyUI's bare 'bigger than max'); the defaults pass."""
    prompt = _graph()
    prompt["3"]["inputs"].update(old)
    valid, error, outputs, node_errors = asyncio.run(execution.validate_prompt("p", prompt, None))
    assert not valid and set(node_errors) == {"3"}, node_errors
    said = [e["details"] for e in node_errors["3"]["errors"]]
    name, value = next(iter(old.items()))
    assert any(f"Expected {name} to be a finite number in [0, 4], got {value}" in d for d in said), said
    assert any("old logit values (12 and 6)" in d and "the default is" in d for d in said), said
    assert not any("bigger than max" in e["message"] for e in node_errors["3"]["errors"])
    assert asyncio.run(execution.validate_prompt("p", _graph(), None))[0]
