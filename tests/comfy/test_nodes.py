"""The V3 nodes through their schemas and execute(): patch + stock KSampler, GUIDER, stages, layout nodes."""

from __future__ import annotations

import comfy.sample
import comfy.samplers
import pytest
import torch
from helpers import LAYOUT_JSON, METHOD, PROMPT, latent, layout, run_lrdm

import nodes as comfy_nodes


def _conds(clip):
    return (
        clip.encode_from_tokens_scheduled(clip.tokenize(PROMPT)),
        clip.encode_from_tokens_scheduled(clip.tokenize("")),
    )


def test_every_node_has_id_category_description_and_tooltips(pack):
    ids = set()
    for node in pack.nodes.NODE_LIST:
        schema = node.define_schema()
        assert schema.node_id.startswith("LRDM_") and schema.category.startswith("lrdm/")
        assert schema.description and len(schema.description) > 20
        for inp in schema.inputs:
            assert inp.tooltip, f"{schema.node_id}.{inp.id} has no tooltip"
        ids.add(schema.node_id)
    assert len(ids) == len(pack.nodes.NODE_LIST)


def test_model_patch_drives_the_stock_ksampler(pack, sd15, clip):
    patched = pack.nodes.patch_nodes.ApplyLayout.execute(sd15, clip, layout(pack), PROMPT, **METHOD).args[0]
    pos, neg = _conds(clip)
    via_ksampler = comfy_nodes.common_ksampler(patched, 1, 4, 7.5, "euler", "normal", pos, neg, latent())[0]
    assert torch.equal(via_ksampler["samples"], run_lrdm(pack, sd15, clip))


def test_guider_with_sampler_custom_advanced_path(pack, sd15, clip):
    pos, neg = _conds(clip)
    guider = pack.nodes.patch_nodes.Guider.execute(sd15, clip, layout(pack), PROMPT, pos, neg, 7.5, **METHOD).args[0]
    lat = comfy.sample.fix_empty_latent_channels(sd15, latent()["samples"])
    noise = comfy.sample.prepare_noise(lat, 1)
    sigmas = comfy.samplers.calculate_sigmas(sd15.get_model_object("model_sampling"), "normal", 4)
    out = guider.sample(noise, lat, comfy.samplers.sampler_object("euler"), sigmas, seed=1)
    assert torch.allclose(out, run_lrdm(pack, sd15, clip), atol=1e-5)


def test_objects_conditioning_replaces_phrase_encodings(pack, sd15, clip):
    apply = pack.nodes.patch_nodes.ApplyLayout
    one = clip.encode_from_tokens_scheduled(clip.tokenize("a red apple"))
    two = clip.encode_from_tokens_scheduled(clip.tokenize("a blue cup"))
    combined = one + two  # what Conditioning (Combine) makes
    patched = apply.execute(sd15, clip, layout(pack), PROMPT, objects_conditioning=combined, **METHOD).args[0]
    pos, neg = _conds(clip)
    out = comfy_nodes.common_ksampler(patched, 1, 4, 7.5, "euler", "normal", pos, neg, latent())[0]["samples"]
    assert torch.allclose(out, run_lrdm(pack, sd15, clip), atol=1e-5)
    with pytest.raises(pack.lrdm_core.errors.LRDMError, match="one encoded phrase per object"):
        apply.execute(sd15, clip, layout(pack), PROMPT, objects_conditioning=one, **METHOD)


def test_capture_node_returns_maps_and_previews(pack, sd15, clip):
    out = pack.nodes.stage_nodes.CaptureAttention.execute(
        sd15, clip, layout(pack), PROMPT, latent(), 1, 4, "normal", **METHOD
    ).args
    maps, maps_preview, guidance_preview = out
    assert maps.shape == (2, 128, 128) and float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert maps_preview.shape == (2, 128, 128, 3) and guidance_preview.shape == (2, 128, 128, 3)


def test_capture_reads_phrase_encoding_when_prompt_lacks_it(pack, sd15, clip, caplog):
    seen = []
    cfg = pack.lrdm_core.config.LRDMConfig(t0=0.5)
    spec = pack.nodes.host.spec.build_spec(clip, layout(pack), "a photo", cfg, observer=seen.append)
    assert spec.prompt_positions == (None, None)
    model = pack.nodes.host.runtime.install(sd15, spec)
    pack.nodes.sampler_node.sample(model, *_conds(clip), latent(), 1, 4, 7.5, "euler", "normal", 1.0)
    assert seen[0].maps.shape == (2, 1, 16, 16) and torch.isfinite(seen[0].maps).all()


def test_layout_from_json_validates_before_running(pack):
    node = pack.nodes.layout_nodes.LayoutFromJSON
    assert node.validate_inputs(LAYOUT_JSON) is True
    msg = node.validate_inputs('{"objects": [{"phrase": "x", "box": [0.5, 0.5, 0.1, 0.9]}]}')
    assert isinstance(msg, str) and "x0 < x1" in msg
    assert node.execute(LAYOUT_JSON).args[0].phrases() == ["a red apple", "a blue cup"]


def test_layout_preview_draws_regions(pack):
    img = pack.nodes.layout_nodes.LayoutPreview.execute(layout(pack), 64, 64).args[0]
    assert img.shape == (1, 64, 64, 3)
    red = torch.tensor([0.90, 0.10, 0.29])
    assert torch.allclose(img[0, 10, 3], red, atol=1e-3)  # the first box's border, in its colour
    assert torch.allclose(img[0, 0, 63], torch.full((3,), 0.92))  # outside every box: untouched


def test_config_round_trips_through_node_inputs(pack):
    params = pack.nodes.params
    cfg = pack.lrdm_core.config.LRDMConfig(t0=0.4, strength=1.5, strength_out=0.5, attn_bias=2.0)
    assert pack.lrdm_core.config.LRDMConfig(**cfg.to_dict()) == cfg
    assert list(cfg.to_dict()) == [i.id for i in params.method_inputs()]


def test_presets_match_the_frontend_buttons_and_the_benchmark(pack):
    """web/js/presets.js and bench/quality.py's lrdm_paper_button / lrdm_plus are the node inputs of PRESETS; plus =
    defaults."""
    import json
    import sys

    from conftest import REPO

    config = pack.lrdm_core.config
    assert config.PRESETS["plus"] == config.LRDMConfig()
    text = (REPO / "web" / "js" / "presets.js").read_text()
    start = text.index("{", text.index("PRESETS ="))
    js = json.loads(text[start : text.index("};", start) + 1])
    assert js == {name: cfg.to_dict() for name, cfg in config.PRESETS.items()}
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import quality
    finally:
        sys.path.remove(str(REPO / "bench"))
    assert quality.METHODS["lrdm_paper_button"] == config.PRESETS["paper"].to_dict()
    assert quality.METHODS["lrdm_plus"] == config.PRESETS["plus"].to_dict()


def test_every_node_has_a_help_page_and_every_example_a_thumbnail(pack):
    from conftest import REPO

    for node in pack.nodes.NODE_LIST:
        page = REPO / "web" / "docs" / f"{node.define_schema().node_id}.md"
        assert page.is_file() and page.read_text().startswith("# "), page
    examples = sorted((REPO / "example_workflows").glob("*.json"))
    assert examples
    for wf in examples:
        assert wf.with_suffix(".jpg").is_file(), wf
