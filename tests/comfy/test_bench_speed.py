"""bench/speed.py: its options, the in-memory SDXL it builds (tiny, SDXL-shaped conditioning), and the
memory-split path of calc_cond_batch that its --split-check forces (same result, one call per cond)."""

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
    a = speed.parse_args(["--arch", "sdxl", "--dtype", "bf16", "--tiny", "--split-check", "--objects", "1,4"])
    assert (a.arch, a.dtype, a.tiny, a.split_check, a.object_counts, a.ckpt) == ("sdxl", "bf16", True, True, [1, 4], "")
    assert speed.parse_args([]).arch == "sd15" and speed.parse_args([]).dtype == "auto"
    for bad in (["--arch", "sd3"], ["--objects", "5"], ["--objects", "0"], ["--size", "100"]):
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
    """LRDM on the tiny SDXL, 8x8 latent, 2 steps: the evaluation count of the formula, finite latent."""
    model, clip, _ = tiny_sdxl
    counted, counter = with_counter(model)
    out = run_lrdm(pack, counted, clip, steps=2, lat={"samples": torch.zeros(1, 4, 8, 8)}, t0=0.5)
    k, n = 1, 2
    assert counter.rows == 1 + k * (n + 2) + (2 - k) * 2
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
