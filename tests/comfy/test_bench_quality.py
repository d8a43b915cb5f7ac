"""bench/quality.py (`make bench-quality`) end to end on the toy model: the JSON the issue fixes, grids, the
background phrase given to every method that takes one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import REPO, bench_module

pytestmark = pytest.mark.skipif(
    not (REPO / "models" / "lrdm_toy.safetensors").is_file(), reason="toy weights not present"
)


@pytest.fixture(scope="module")
def q(pack):
    """bench/quality.py."""
    return bench_module("lrdm_bench_quality", REPO / "bench" / "quality.py")


def test_two_layouts_three_methods(q, tmp_path: Path, capsys) -> None:
    """--limit 2 with plain, mask and lrdm: the table, quality.json's schema and one grid per method."""
    out = tmp_path / "quality.json"
    argv = ["--limit", "2", "--methods", "plain,mask,lrdm", "--steps", "2", "--grid", "2", "--threads", "0",
            "--out", str(out)]  # fmt: skip
    assert q.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["seeds"] == 1 and report["n_layouts"] == 2 and report["background"] == "empty"
    assert report["layouts"].endswith("layouts_default.jsonl")
    for name in ("plain", "mask", "lrdm"):
        r = report["methods"][name]
        assert {"mIoU", "AP50", "presence", "quality", "n_objects", "sec_per_image"} <= r.keys()
        assert 0 <= r["mIoU"] <= 1 and 0 <= r["quality"] <= 1 and r["sec_per_image"] > 0
        assert (tmp_path / f"quality_grid_{name}.png").is_file()
    lines = [json.loads(s) for s in (REPO / "bench" / "layouts_default.jsonl").read_text().splitlines()[:2]]
    assert report["methods"]["plain"]["n_objects"] == sum(len(s["objects"]) for s in lines)
    assert (tmp_path / "quality_grid.png").is_file()
    rows = [s.split(" | ")[0] for s in capsys.readouterr().out.splitlines() if s.startswith("| ")]
    assert rows[-3:] == ["| plain", "| mask", "| lrdm"]


def test_merge_keeps_the_rows_not_rerun(q, tmp_path: Path) -> None:
    """--merge replaces the re-run methods' rows in place and keeps the others (and their README grid rows);
    an earlier file measured with other settings is refused instead of mixed in."""
    out = tmp_path / "quality.json"
    base = ["--limit", "1", "--steps", "2", "--grid", "1", "--threads", "0", "--out", str(out)]
    assert q.main([*base, "--methods", "plain,lrdm"]) == 0
    first = json.loads(out.read_text())["methods"]
    assert q.main([*base, "--methods", "lrdm", "--set", "lrdm.t0=0.0", "--merge"]) == 0
    second = json.loads(out.read_text())["methods"]
    assert list(second) == ["plain", "lrdm"] and second["plain"] == first["plain"]
    assert second["lrdm"]["config"]["t0"] == 0.0 != first["lrdm"]["config"]["t0"]
    assert (tmp_path / "quality_grid.png").is_file()
    with pytest.raises(SystemExit, match="other settings"):
        q.main([*base[:2], "--steps", "3", *base[4:], "--methods", "plain", "--merge"])


def test_background_phrase(q, pack) -> None:
    """A line's own background wins over --background; mask adds the phrase outside every box."""
    runner = q.Runner.__new__(q.Runner)
    runner.background, runner.size = "empty", 64
    runner.encode = lambda text: [[torch.zeros(1, 77, 8), {"text": text}]]
    import nodes as comfy_nodes

    runner.nodes = comfy_nodes
    line = {"prompt": "a red circle", "objects": [{"phrase": "a red circle", "box": [0.0, 0.0, 0.5, 0.5]}]}
    assert runner.background_of(line) == "empty"
    assert runner.background_of(dict(line, background="a grey floor")) == "a grey floor"
    cond = runner._cond_mask(line)
    assert [c[1]["text"] for c in cond] == ["a red circle", "a red circle", "empty"]
    inside, outside = cond[1][1]["mask"], cond[2][1]["mask"]  # [1, 64, 64]
    assert inside[0, :32, :32].min() == 1 and inside.sum() == 32 * 32
    assert torch.equal(outside, 1 - inside)
    runner.background = ""
    assert len(runner._cond_mask(line)) == 2


def test_model_and_layouts_choose_the_output(q, tmp_path: Path, monkeypatch) -> None:
    """--model by name and --layouts (the hard set) on 2 layouts: the named weights run, the report says which,
    and the files go to quality_<model>_<set>* so the default run's quality.json and grids stay untouched."""
    monkeypatch.setattr(q.host, "RESULTS", tmp_path)
    hard = REPO / "bench" / "layouts_hard.jsonl"
    argv = ["--model", "lrdm_toy", "--layouts", str(hard), "--limit", "2", "--methods", "plain,lrdm_plus",
            "--steps", "2", "--grid", "2", "--threads", "0"]  # fmt: skip
    assert q.main(argv) == 0
    out = tmp_path / "quality_lrdm_toy_hard.json"
    report = json.loads(out.read_text())
    assert report["model"] == "lrdm_toy.safetensors" and report["layouts"].endswith("layouts_hard.jsonl")
    lines = [json.loads(s) for s in hard.read_text().splitlines()[:2]]
    assert report["methods"]["lrdm_plus"]["n_objects"] == sum(len(s["objects"]) for s in lines) >= 8
    assert (tmp_path / "quality_lrdm_toy_hard_grid_lrdm_plus.png").is_file()
    assert (tmp_path / "quality_lrdm_toy_hard_grid.png").is_file()
    assert not (tmp_path / "quality.json").exists() and not (tmp_path / "quality_grid.png").exists()
    assert q.default_out(q.model_path("lrdm_toy"), str(REPO / "bench" / "layouts_default.jsonl")) == (
        tmp_path / "quality.json"
    )


def test_unknown_model_is_a_clear_error(q) -> None:
    """A model name that is not in models/ stops with the names that are."""
    with pytest.raises(SystemExit, match=r"not found.*lrdm_toy"):
        q.model_path("no_such_model")
