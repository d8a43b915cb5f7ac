"""bench/speed.py: its options, the in-memory SDXL it builds (tiny, SDXL-shaped conditioning), the
memory-split path of calc_cond_batch that its --split-check forces (same result, one call per cond), and
one configuration run end to end (rows per preset and object count, the fields of bench/results/speed.json)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from helpers import run_lrdm, with_counter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def speed():
    """bench/speed.py as a module (bench/ is no package)."""
    if "lrdm_bench_speed" not in sys.modules:
        spec = importlib.util.spec_from_file_location("lrdm_bench_speed", REPO / "bench" / "speed.py")
        sys.modules["lrdm_bench_speed"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["lrdm_bench_speed"])
    return sys.modules["lrdm_bench_speed"]


@pytest.fixture(scope="module")
def tiny_sdxl(speed, pack):
    """(ModelPatcher, CLIP, info) of `--arch sdxl --tiny`: narrow U-Net, 3-layer full-width CLIP-L + CLIP-G."""
    return speed.build("sdxl", "auto", tiny=True)


def test_options(speed) -> None:
    """--arch / --dtype / --tiny / --split-check parse; bad object counts and sizes are refused."""
    a = speed.parse_args(["--arch", "sdxl", "--dtype", "bf16", "--tiny", "--split-check", "--objects", "1,16"])
    assert (a.arch, a.dtype, a.tiny, a.split_check, a.object_counts, a.ckpt) == (
        "sdxl",
        "bf16",
        True,
        True,
        [1, 16],
        "",
    )
    d = speed.parse_args([])
    assert (d.arch, d.dtype, d.preset_names, d.plan) == ("sd15", "auto", ["plus", "paper"], "")
    assert speed.parse_args(["--plan", "cpu", "--presets", "plus"]).preset_names == ["plus"]
    bad_args = (["--arch", "sd3"], ["--objects", "17"], ["--objects", "0"], ["--size", "100"], ["--presets", "x"])
    for bad in bad_args + (["--plan", "nope"],):
        with pytest.raises(SystemExit):
            speed.parse_args(bad)


def test_full_size_configs(speed) -> None:
    """The full-size configs are detected by ComfyUI as SD1.5 and SDXL (model_detection's own lookup)."""
    import comfy.model_detection

    for arch, name in speed.CONFIG_CLASS.items():
        found = comfy.model_detection.model_config_from_unet_config(dict(speed.UNET[arch]))
        assert type(found).__name__ == name, arch
    assert speed.UNET["sdxl"]["context_dim"] == 2048 and speed.UNET["sdxl"]["adm_in_channels"] == 2816


def test_tiny_sdxl_conditioning_shapes(tiny_sdxl) -> None:
    """model_base.SDXL; CLIP-L + CLIP-G context 768 + 1280 = 2048 wide, pooled 1280; adm 2816 wide."""
    import comfy.model_base

    model, clip, info = tiny_sdxl
    assert isinstance(model.model, comfy.model_base.SDXL)
    assert info["config"] == "SDXL" and info["context_dim"] == 2048 and info["adm_in_channels"] == 2816
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a red apple"))
    emb, extra = cond[0]
    assert emb.shape == (1, 77, 2048) and extra["pooled_output"].shape == (1, 1280)
    assert torch.isfinite(emb).all()
    adm = model.model.encode_adm(pooled_output=extra["pooled_output"], width=64, height=64)
    assert adm.shape == (1, 2816)


def test_tiny_sdxl_lrdm_runs(tiny_sdxl, pack) -> None:
    """LRDM on the tiny SDXL, 8x8 latent, 2 steps: the evaluation count of the formula (CFG per layer), finite
    latent."""
    model, clip, _ = tiny_sdxl
    counted, counter = with_counter(model)
    out = run_lrdm(pack, counted, clip, steps=2, lat={"samples": torch.zeros(1, 4, 8, 8)}, t0=0.5)
    k, n = 1, 2
    assert counter.rows == 1 + k * (n + 2) + (2 - k) * 2  # node defaults (guidance state): one shared uncond row
    assert out.shape == (1, 4, 8, 8) and torch.isfinite(out).all()


def test_forced_split_matches_batched(speed, pack, sd15, clip) -> None:
    """calc_cond_batch with no free memory: every cond its own U-Net call, same rows, same latent."""
    model, counter = with_counter(sd15)
    batched = run_lrdm(pack, model, clip)
    rows, calls = counter.rows, counter.calls
    counter.rows = counter.calls = 0
    with speed.forced_split():
        split = run_lrdm(pack, model, clip)
    counter_after = counter.rows, counter.calls
    counter.rows = counter.calls = 0
    again = run_lrdm(pack, model, clip)
    assert (counter.rows, counter.calls) == (rows, calls)  # the split ended with the context
    assert counter_after[0] == rows and counter_after[1] == rows > calls
    torch.testing.assert_close(again, batched, rtol=0, atol=0)
    torch.testing.assert_close(split, batched, rtol=1e-4, atol=1e-4)


def test_one_configuration_writes_a_row_per_preset_and_object_count(speed, pack, tmp_path) -> None:
    """Tiny SD1.5, 64 px, 3 steps: each LRDM run has layered, biased (plus) and plain steps; the row fields."""
    out = tmp_path / "speed.json"
    args = ["--arch", "sd15", "--tiny", "--steps", "3", "--objects", "2,16", "--threads", "1", "--out", str(out)]
    assert speed.main(args) == 0
    import json

    rows = json.loads(out.read_text())["rows"]
    assert [(r["preset"], r["objects"]) for r in rows] == [("plus", 2), ("paper", 2), ("plus", 16), ("paper", 16)]
    for r in rows:
        assert {
            "arch",
            "size",
            "stock_s",
            "lrdm_s",
            "ratio",
            "floor",
            "peak_stock_mb",
            "peak_lrdm_mb",
            "peak_ratio",
        } <= set(r)
        assert (r["arch"], r["size"], r["layered_steps"]) == ("sd15", 64, 1)
        assert (r["biased_steps"], r["plain_steps"]) == ((2, 1) if r["preset"] == "plus" else (0, 2))
        per_layer_cfg = r["preset"] == "paper"  # guidance 'input': one uncond row per shifted layer (Eq. 8 with CFG)
        assert r["evals_lrdm"] == r["evals_formula"]
        assert r["floor"] == pytest.approx(1 + r["objects"] / (3 if per_layer_cfg else 6))
