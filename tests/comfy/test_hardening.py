"""Bad input through the nodes: each is refused (or warned about) with what was expected, what was got and the fix.

Covered elsewhere and not repeated here: bad boxes, empty phrases, pixel-looking boxes and malformed JSON in
the editor node (test_layout_nodes.py), the schema itself (tests/core/test_layout.py), batch 2 with one layout
(test_lrdm_sampling.py::test_batch_img2img_and_bf16), Flux refused (test_dit_model_is_refused_clearly).
Runs use an 8x8 latent and 3 steps to stay fast.
"""

from __future__ import annotations

import json
import logging

import pytest
import torch
from helpers import METHOD, PROMPT, latent, layout, run_lrdm, run_stock

import nodes as comfy_nodes


def _lrdm(pack, model, clip, lat=None, **kw):
    return run_lrdm(pack, model, clip, steps=3, lat=lat or latent(8), **kw)


def _errors(pack):
    return pack.lrdm_core.errors.LRDMError


def _assert_actionable(msg: str, *needles: str) -> None:
    """The pack's convention: 'Expected X, got Y. Fix.' (optionally behind a node prefix)."""
    assert "Expected " in msg and ", got " in msg, msg
    assert msg.rstrip().endswith("."), msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def _json(objects, **top) -> str:
    return json.dumps({"version": 1, **top, "objects": objects})


# --- layout JSON as a user pastes it ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, needles",
    [
        (_json([]), ["at least one object", "an empty layout", "Draw a box"]),
        ('{"version": 1, "objects": [{"phrase": "a cat", "box": [0.1, 0.2', ["valid JSON", "line 1 column"]),
        (
            _json([{"phrase": "a cat", "box": [0, 0, 1, 1]}]).replace('"version": 1', '"version": 3'),
            ["layout version <= 1", "version 3", "update the pack"],
        ),
        (
            '{"phrases": ["a cat"], "locations": [[0.1, 0.1, 0.5, 0.5]]}',  # GLIGEN-style
            ['an "objects" list', "keys ['locations', 'phrases']", "Convert it"],
        ),
        (
            '{"boxes": [[10, 10, 200, 200]], "labels": ["a cat"], "width": 512}',  # detector output
            ['an "objects" list', "keys ['boxes', 'labels']", "normalised to [0, 1]"],
        ),
        ('"a cat on the left"', ['a JSON object with an "objects" list', "got str"]),
        (
            '{"version": 1, "objects": {"phrase": "a cat", "box": [0, 0, 1, 1]}}',
            ['"objects" to be a list of', "got dict", "Wrap the objects in [ ]"],
        ),
        (
            _json([{"phrase": f"object {i}", "box": [0, 0, 0.5, 0.5]} for i in range(17)]),
            ["at most 16 objects", "got 17", "Merge or remove"],
        ),
        (_json([{"phrase": "a cat", "box": [0.6, 0.1, 0.2, 0.5]}]), ["x0 < x1", "Swap the corners"]),
        (_json([{"phrase": "a cat", "box": [0.2, 0.1, 0.2, 0.5]}]), ["non-zero area", "Drag the box open"]),
        (_json([{"phrase": "a cat", "box": [0.2, 0.1, 1.4, 0.5]}]), ["inside the canvas", "Move or shrink"]),
        (_json([{"phrase": "  ", "box": [0, 0, 1, 1]}]), ["non-empty phrase", "Type what should appear"]),
    ],
    ids=[
        "empty",
        "malformed",
        "version",
        "gligen",
        "detector",
        "not-object",
        "objects-not-list",
        "too-many",
        "inverted",
        "zero-area",
        "out-of-range",
        "empty-phrase",
    ],
)
def test_layout_json_node_refuses_with_the_fix(pack, text, needles):
    node = pack.nodes.layout_nodes.LayoutFromJSON
    msg = node.validate_inputs(text)
    assert isinstance(msg, str) and msg.startswith("LRDM layout JSON: Expected"), msg
    _assert_actionable(msg, *needles)
    with pytest.raises(_errors(pack)):
        node.execute(text)


# --- method parameters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, needles",
    [
        (dict(t0=1.5), ["t0 to be a finite number in [0, 1]", "got 1.5", "Set t0 between 0"]),
        (dict(t0=-0.1), ["t0 to be a finite number in [0, 1]", "got -0.1"]),
        (dict(t0=float("nan")), ["t0 to be a finite number in [0, 1]", "got nan"]),
        (dict(strength=float("nan")), ["strength to be a finite number in [-10, 10]", "got nan", "Set strength"]),
        (dict(strength=1e9), ["strength to be a finite number in [-10, 10]", "got 1000000000.0"]),
        (dict(strength_out=float("-inf")), ["strength_out to be a finite number", "got -inf", "Set strength_out"]),
        (dict(attn_bias=float("nan")), ["attn_bias to be a finite number in [0, 4]", "got nan"]),
        (dict(self_bias=-1.0), ["self_bias to be a finite number in [0, 4]", "got -1.0", "0 turns it off"]),
        (dict(attn_bias=12.0), ["attn_bias to be a finite number in [0, 4]", "got 12.0", "old logit values"]),
        (dict(bias_cap=1.5), ["bias_cap to be a finite number in [0, 1]", "got 1.5", "1 = no cap"]),
        (dict(bias_end=2.0), ["bias_end to be a finite number in [0, 1]", "got 2.0", "Set bias_end between 0"]),
        (dict(delta_space="pixel"), ["delta_space in ('latent', 'rgb')", "'pixel'"]),
        (dict(capture_blocks="7,99"), ["output block ids with cross-attention (0,1,2,3,4,5)", "'7,99'"]),
    ],
    ids=[
        "t0-high",
        "t0-negative",
        "t0-nan",
        "strength-nan",
        "strength-huge",
        "strength-out-inf",
        "bias-nan",
        "self-bias-negative",
        "bias-old-logit-units",
        "bias-cap-high",
        "bias-end-high",
        "delta-space",
        "blocks",
    ],
)
def test_bad_method_values_are_refused_before_sampling(pack, sd15, clip, override, needles):
    apply = pack.nodes.patch_nodes.ApplyLayout
    with pytest.raises(_errors(pack)) as e:
        patched = apply.execute(sd15, clip, layout(pack), PROMPT, **dict(METHOD, **override)).args[0]
        pos = clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT))
        comfy_nodes.common_ksampler(patched, 1, 3, 7.5, "euler", "normal", pos, pos, latent(8))
    _assert_actionable(str(e.value), *needles)


def test_more_objects_than_the_prompt_window_allows(pack, sd15, clip):
    long = _json(
        [{"phrase": "a very small shiny red ceramic coffee mug with a golden handle", "box": [0, 0, 0.5, 0.5]}] * 8
    )
    with pytest.raises(pack.lrdm_core.errors.LayoutError) as e:
        pack.nodes.patch_nodes.ApplyLayout.execute(sd15, clip, layout(pack, long), "", **METHOD)
    _assert_actionable(
        str(e.value), "fit in one CLIP window (75 tokens)", "got 96 tokens for 8 objects", "Shorten the phrases"
    )


def test_phrase_budget_is_checked_before_any_phrase_is_encoded(pack, sd15, clip):
    """Eight long phrases are refused by the token count alone: no phrase goes through the text encoder."""
    long = _json(
        [{"phrase": "a very small shiny red ceramic coffee mug with a golden handle", "box": [0, 0, 0.5, 0.5]}] * 8
    )
    spy = clip.clone()
    encoded = []
    real = spy.encode_from_tokens_scheduled
    spy.encode_from_tokens_scheduled = lambda tokens, *a, **k: encoded.append(tokens) or real(tokens, *a, **k)
    with pytest.raises(pack.lrdm_core.errors.LayoutError, match="one CLIP window"):
        pack.nodes.patch_nodes.ApplyLayout.execute(sd15, spy, layout(pack, long), "", **METHOD)
    assert encoded == []


def test_models_without_cross_attention_up_blocks_are_refused(pack, clip):
    import comfy.model_patcher
    import comfy.supported_models

    sd3 = comfy.supported_models.SD3(
        {
            "in_channels": 16,
            "out_channels": 16,
            "patch_size": 2,
            "depth": 1,
            "adm_in_channels": 32,
            "pos_embed_max_size": 16,
            "num_patches": 256,
            "pos_embed_scaling_factor": None,
            "pos_embed_offset": None,
            "context_embedder_config": {"target": "torch.nn.Linear", "params": {"in_features": 64, "out_features": 64}},
        }
    ).get_model({})
    model = comfy.model_patcher.ModelPatcher(sd3, "cpu", "cpu")
    with pytest.raises(_errors(pack)) as e:
        pack.nodes.patch_nodes.ApplyLayout.execute(model, clip, layout(pack), PROMPT, **METHOD)
    _assert_actionable(
        str(e.value),
        "got SD3 (OpenAISignatureMMDITWrapper)",
        "DiT models have none",
        "Use an SD1.5, SD2.x or SDXL checkpoint",
    )


# --- regions against the latent ---------------------------------------------------------------------------------


def test_region_smaller_than_one_latent_cell_names_its_size(pack, sd15, clip):
    tiny = _json([{"phrase": "a red apple", "box": [0.1, 0.1, 0.2, 0.2]}])
    with pytest.raises(pack.lrdm_core.errors.LayoutError) as e:
        _lrdm(pack, sd15, clip, text=tiny)
    _assert_actionable(
        str(e.value),
        "each region to cover at least 1 latent cell (the latent is 8x8 cells, 64x64 px)",
        "got 0.64 cells for 'a red apple'",
        "Make the region larger or the image larger",
    )


def test_latent_sizes_off_the_unet_grid_work(pack, sd15, clip, caplog):
    """EmptyLatentImage floors pixels to whole cells (100x60 px -> 12x7 cells); odd cell counts (13x11) give
    odd sizes inside the U-Net (13 -> 7 -> 4): both sample, and the rounding is not an aspect warning."""
    canvas = pack.nodes.layout_editor.LayoutEditor.execute(
        _json([{"phrase": "a red apple", "box": [0.0, 0.0, 0.6, 0.7]}]), 100, 60
    ).args[0]
    empty = comfy_nodes.EmptyLatentImage().generate(100, 60, 1)[0]
    assert tuple(empty["samples"].shape[-2:]) == (7, 12)
    sampler = pack.nodes.sampler_node.Sampler
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        out = sampler.execute(
            sd15, clip, canvas, "a red apple", "", empty, 1, 3, 7.5, "euler", "normal", 1.0, **METHOD
        ).args[0]["samples"]
    assert out.shape == (1, 4, 7, 12) and torch.isfinite(out).all()
    assert not [r for r in caplog.records if r.name == "lrdm"], caplog.text
    odd = _lrdm(pack, sd15, clip, lat={"samples": torch.zeros(1, 4, 13, 11)})
    assert odd.shape == (1, 4, 13, 11) and torch.isfinite(odd).all()


def test_canvas_of_another_aspect_warns_and_stretches(pack, sd15, clip, caplog):
    drawn = pack.nodes.layout_editor.LayoutEditor.execute(
        _json([{"phrase": "a red apple", "box": [0.1, 0.1, 0.6, 0.6]}]), 512, 512
    ).args[0]
    wide = {"samples": torch.zeros(1, 4, 8, 16)}  # 128x64 px
    sampler = pack.nodes.sampler_node.Sampler
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        out = sampler.execute(
            sd15, clip, drawn, "a red apple", "", wide, 1, 3, 7.5, "euler", "normal", 1.0, **METHOD
        ).args[0]["samples"]
    assert torch.isfinite(out).all()
    warnings = [r.getMessage() for r in caplog.records if r.name == "lrdm"]
    assert warnings == [
        "LRDM: Expected the layout canvas to have the latent's aspect (128x64 px, 2.00:1), got 512x512 px "
        "(1.00:1). The regions are stretched to fit the latent; set the layout's width and height to the image "
        "size (or use masks of the image's size) to place them as drawn."
    ]


def _masks(n: int, h: int, w: int) -> torch.Tensor:
    m = torch.zeros(n, h, w)  # [B, H, W]
    for i in range(n):
        m[i, : h // 2, i * w // (2 * n) : (i + 1) * w // n] = 1.0
    return m


def test_masks_of_another_size_or_batch(pack, sd15, clip, caplog):
    from_masks = pack.nodes.layout_ops.LayoutFromMasks
    # a MASK batch is one object per mask: a batch of 2 with one phrase is refused
    with pytest.raises(pack.lrdm_core.errors.LayoutError) as e:
        from_masks.execute("a red apple", _masks(2, 64, 64))
    _assert_actionable(
        str(e.value), "one phrase per mask (2 phrases", "got 1 phrase(s)", "not one image of the latent batch"
    )
    # masks of the image's size (8x the latent) are resampled onto the latent grid, silently
    same_aspect = from_masks.execute("a red apple\na blue cup", _masks(2, 64, 64)).args[0]
    sampler = pack.nodes.sampler_node.Sampler
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        out = sampler.execute(
            sd15, clip, same_aspect, PROMPT, "", latent(8), 1, 3, 7.5, "euler", "normal", 1.0, **METHOD
        ).args[0]["samples"]
    assert torch.isfinite(out).all() and not [r for r in caplog.records if r.name == "lrdm"]
    # masks of another aspect are stretched, with the warning
    other = from_masks.execute("a red apple", _masks(1, 32, 96)).args[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        sampler.execute(sd15, clip, other, PROMPT, "", latent(8), 1, 3, 7.5, "euler", "normal", 1.0, **METHOD)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "lrdm"]
    _assert_actionable(
        warning,
        "the layout canvas to have the latent's aspect (64x64 px, 1.00:1)",
        "got 96x32 px (3.00:1)",
        "stretched",
    )


# --- prompts and phrases ------------------------------------------------------------------------------------------


def test_phrase_not_in_the_prompt_warns_once_and_falls_back(pack, sd15, clip, caplog):
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        out = _lrdm(pack, sd15, clip, prompt="a photo of a kitchen table")
    assert torch.isfinite(out).all()
    warnings = [r.getMessage() for r in caplog.records if r.name == "lrdm"]
    assert warnings == [
        "LRDM: Expected every object's phrase word for word in the global prompt, got 'a red apple', 'a blue cup' "
        "not in it. Their attention maps are read from each phrase encoded alone; copy the phrase into the prompt "
        "to read it in context.",
        "LRDM: attn_bias needs each phrase inside the global prompt; 0 of 2 found.",  # the defaults' region bias
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lrdm"):
        _lrdm(pack, sd15, clip, prompt="a photo of a kitchen table", capture_source="phrase")  # asked for: silent
    assert [r.getMessage() for r in caplog.records if r.name == "lrdm"] == warnings[1:]  # only the bias's


def test_cfg_one_still_renders_the_layout(pack, sd15, clip):
    """cfg = 1: ComfyUI skips the unconditional pass; the layers are still composed (and differ from stock)."""
    out = _lrdm(pack, sd15, clip, cfg=1.0)
    assert torch.isfinite(out).all()
    assert not torch.equal(out, run_stock(sd15, clip, steps=3, cfg=1.0, lat=latent(8)))
