"""bench/eval_real.py's plumbing: toy model and a tiny checkpoint end to end, CLIP / detector scorers on tiny
random-initialised transformers models (the real metric models are not available here), missing-package and
missing-model messages, the shipped COCO-style layouts."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tomllib
import torch
from conftest import bench_module

REPO = Path(__file__).resolve().parents[2]
STEPS = "2"


@pytest.fixture(scope="module")
def ev(pack):
    """bench/eval_real.py."""
    return bench_module("lrdm_bench_eval_real", REPO / "bench" / "eval_real.py")


def _clip_tokenizer():
    """The real CLIP BPE tokenizer from ComfyUI's own files (no download)."""
    import comfy.sd1_clip
    from transformers import CLIPTokenizer

    d = Path(comfy.sd1_clip.__file__).parent / "sd1_tokenizer"
    return CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"))


TEXT = dict(
    vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
    max_position_embeddings=77,
)  # fmt: skip
VISION = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
              num_attention_heads=2)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    """A random CLIP (32-wide, 1 layer, 32 px) + CLIPProcessor saved with save_pretrained."""
    import transformers as tf

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip")
    tf.CLIPModel(tf.CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=32)).save_pretrained(path)
    image = tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    tf.CLIPProcessor(image_processor=image, tokenizer=_clip_tokenizer()).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_owl(tmp_path_factory) -> str:
    """A random OWLv2 (16 boxes at 32 px) + Owlv2Processor."""
    import transformers as tf

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("owlv2")
    config = tf.Owlv2Config(text_config=dict(TEXT, max_position_embeddings=16), vision_config=VISION, projection_dim=32)
    tf.Owlv2ForObjectDetection(config).save_pretrained(path)
    image = tf.Owlv2ImageProcessor(size={"height": 32, "width": 32})
    tf.Owlv2Processor(image_processor=image, tokenizer=_clip_tokenizer()).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_gdino(tmp_path_factory) -> str:
    """A random Grounding DINO (Swin 2 stages, BERT 1 layer, 10 queries) + processor with a 12-word vocabulary."""
    import transformers as tf

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("gdino")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "an", "red", "apple", "dog", "cup"]
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    backbone = dict(model_type="swin", image_size=32, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1],
                    window_size=2, out_features=["stage1", "stage2"])  # fmt: skip
    text = dict(model_type="bert", vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=32)  # fmt: skip
    config = tf.GroundingDinoConfig(
        backbone_config=backbone, use_timm_backbone=False, use_pretrained_backbone=False, text_config=text,
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10, num_feature_levels=2,
        encoder_n_points=1, decoder_n_points=1, max_text_len=32,
    )  # fmt: skip
    tf.GroundingDinoForObjectDetection(config).save_pretrained(path)
    image = tf.GroundingDinoImageProcessor(size={"shortest_edge": 32, "longest_edge": 32})
    tokenizer = tf.BertTokenizer(str(path / "vocab.txt"))
    tf.GroundingDinoProcessor(image_processor=image, tokenizer=tokenizer).save_pretrained(path)
    return str(path)


def _check_report(out: Path, methods: list[str], metrics: list[str], n_images: int) -> dict:
    """eval_real.json has every method with every metric in range, one per-image row per image, the images."""
    report = json.loads((out / "eval_real.json").read_text())
    assert list(report["methods"]) == methods
    for m in methods:
        r = report["methods"][m]
        for k in metrics:
            lo, hi = (0.0, 100.0) if k.startswith("clip") else (0.0, 1.0)
            assert lo <= r[k] <= hi, (m, k, r[k])
        assert r["sec_per_image"] > 0 and r["n_images"] == n_images
        rows = report["per_image"][m]
        assert len(rows) == n_images
        for row in rows:
            assert (out / row["file"]).is_file()
        assert (out / f"grid_{m}.png").is_file()
    lrdm = report["methods"]["lrdm"]["config"]  # bench/quality.py's lrdm (eval_real imported it): the toy-calibrated
    assert report["methods"]["plain"]["config"] is None and lrdm == sys.modules["quality"].METHODS["lrdm"]
    return report


def test_toy_end_to_end_toy_and_clip_scorers(ev, tiny_clip, tmp_path, capsys) -> None:
    """--toy: 2 layouts x 2 methods with the toy detector and the CLIP scorer; table, JSON, 64 px images."""
    from PIL import Image

    out = tmp_path / "out"
    argv = ["--toy", "--limit", "2", "--methods", "plain,lrdm",
            "--steps", STEPS, "--scorers", "toy,clip", "--clip-model", tiny_clip, "--out", str(out)]  # fmt: skip
    assert ev.main(argv) == 0
    report = _check_report(out, ["plain", "lrdm"], ["mIoU", "AP50", "presence", "quality", "clip_score"], 2)
    assert report["scorers"] == {"toy": "toy detector", "clip": tiny_clip} and report["size"] == 64
    assert report["background"] == "empty"  # the toy world's phrase for "no objects"
    row = report["per_image"]["lrdm"][0]
    n_obj = len(json.loads(Path(report["layouts"]).read_text().splitlines()[0])["objects"])
    assert len(row["ious"]) == len(row["present"]) == len(row["clip_local"]) == n_obj
    assert Image.open(out / row["file"]).size == (64, 64)
    table = capsys.readouterr().out
    assert "| method | mIoU | AP50 | presence | CLIP | local CLIP | s/img |" in table
    assert re.search(r"\| lrdm \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", table)


class StubVAE:
    """decode: 4-channel latent [B, 4, h, w] -> image [B, 8h, 8w, 3] in [0, 1] (a VAE stand-in). It has a
    parameter, as a real VAE has: outside inference mode its output requires grad (and .numpy() fails)."""

    def __init__(self) -> None:
        self.gain = torch.nn.Parameter(torch.ones(()))

    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        up = torch.nn.functional.interpolate(samples[:, :3].float(), scale_factor=8, mode="nearest")
        return torch.sigmoid(up * self.gain).movedim(1, -1)  # BCHW -> BHWC


def test_checkpoint_path_with_clip_and_owlv2(ev, sd15, clip, tiny_clip, tiny_owl, tmp_path, monkeypatch) -> None:
    """--ckpt: comfy.sd.load_checkpoint_guess_config's (MODEL, CLIP, VAE) -> CheckpointRunner -> CLIP + OWLv2."""
    import comfy.sd

    ckpt = tmp_path / "tiny.safetensors"
    ckpt.write_bytes(b"")
    seen = []
    monkeypatch.setattr(
        comfy.sd, "load_checkpoint_guess_config", lambda p, **kw: seen.append(p) or (sd15, clip, StubVAE(), None)
    )
    out = tmp_path / "out"
    argv = ["--ckpt", str(ckpt), "--size", "64", "--limit", "2",
            "--methods", "plain,lrdm", "--steps", STEPS, "--sampler", "euler", "--scheduler", "normal",
            "--clip-model", tiny_clip, "--detector", tiny_owl, "--out", str(out)]  # fmt: skip
    assert ev.main(argv) == 0 and seen == [str(ckpt)]
    report = _check_report(out, ["plain", "lrdm"], ["mIoU", "AP50", "presence", "clip_score", "clip_local"], 2)
    assert report["scorers"] == {"clip": tiny_clip, "detector": tiny_owl} and report["det_threshold"] == 0.1
    assert "NOT the paper's" in report["layouts_note"] and report["model"] == str(ckpt)
    assert report["background"] == ""  # real checkpoints: only a line's own background phrase
    lines = [json.loads(t) for t in Path(report["layouts"]).read_text().splitlines()]
    for row in report["per_image"]["lrdm"]:
        phrases = {o["phrase"] for o in lines[row["layout"]]["objects"]}
        for phrase, score, box in row["detections"]:
            assert phrase in phrases and score >= 0.1
            assert 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1


def test_grounding_dino_scorer(ev, tiny_gdino) -> None:
    """Grounding DINO: phrase tokens without articles, [N, P] phrase scores, detections in range."""
    scorer = ev.eval_scorers.DetectorScorer(tiny_gdino, "cpu", threshold=0.0)
    assert scorer.kind == "grounding-dino" and scorer.threshold == 0.0
    text = "a red apple. a dog."
    enc = scorer.processor.tokenizer(text, return_offsets_mapping=True)
    toks = scorer.phrase_tokens(text, ["a red apple", "a dog"], enc["offset_mapping"], enc["input_ids"])
    words = [[scorer.processor.tokenizer.decode([enc["input_ids"][t]]) for t in ts] for ts in toks]
    assert words == [["red", "apple"], ["dog"]]
    rng = np.random.default_rng(0)
    images = [rng.random((48, 64, 3)).astype(np.float32) for _ in range(2)]
    objects = [{"phrase": "a red apple", "box": [0.1, 0.1, 0.5, 0.5]}, {"phrase": "a dog", "box": [0.5, 0.5, 0.9, 0.9]}]
    lines = [{"prompt": "a red apple and a dog", "objects": objects}] * 2
    summary, rows = scorer.score(images, lines)
    assert 0 <= summary["mIoU"] <= 1 and 0 <= summary["AP50"] <= 1 and summary["n_objects"] == 4
    assert all(d[0] in ("a red apple", "a dog") for r in rows for d in r["detections"])


def test_detector_decoding(ev, tiny_owl) -> None:
    """Threshold, per-phrase NMS, OWLv2's square padding undone, greedy IoU matching and AP50, on known boxes."""
    from PIL import Image

    scorer = ev.eval_scorers.DetectorScorer(tiny_owl, "cpu")
    # cxcywh relative to the padded square: a wide 64 x 32 image is the top half of a 64 x 64 square.
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.26, 0.25, 0.5, 0.5], [0.75, 0.25, 0.3, 0.3], [0.5, 0.1, 0.1, 0.1]])
    logits = torch.logit(torch.tensor([[0.9, 0.0], [0.8, 0.0], [0.05, 0.7], [0.05, 0.02]]).clamp(1e-4, 1 - 1e-4))
    scorer.model = lambda **kw: SimpleNamespace(pred_boxes=boxes[None], logits=logits[None])
    got, probs = scorer._owl(Image.new("RGB", (64, 32)), ["a dog", "a cup"])
    assert torch.allclose(got[0], torch.tensor([0.25, 0.5, 0.5, 1.0])) and probs.shape == (4, 2)
    scorer._owl = lambda image, phrases: (boxes, torch.sigmoid(logits))
    dets = scorer.detect(np.zeros((64, 64, 3)), ["a dog", "a cup"])
    assert [(d.colour, round(d.score, 2)) for d in dets] == [("a dog", 0.9), ("a cup", 0.7)]  # NMS, 0.1 threshold
    line = {"prompt": "a dog and a cup", "objects": [{"phrase": "a dog", "box": [0.0, 0.0, 0.5, 0.5]},
                                                     {"phrase": "a cup", "box": [0.0, 0.5, 0.5, 1.0]}]}  # fmt: skip
    summary, rows = scorer.score([np.zeros((64, 64, 3))], [line])
    assert rows[0]["ious"] == [1.0, 0.0] and rows[0]["present"] == [True, True]
    assert summary["mIoU"] == 0.5 and summary["presence"] == 1.0 and summary["AP50"] == pytest.approx(0.5)


def test_box_crop_is_square_and_keeps_the_box(ev) -> None:
    img = np.zeros((64, 64, 3), dtype=np.float32)
    img[8:24, 0:48] = 1.0
    crop = ev.eval_scorers.box_crop(img, (0.0, 0.125, 0.75, 0.375))
    assert crop.shape == (48, 48, 3) and (crop == 1).sum() == 16 * 48 * 3 and (crop == 0.5).sum() == 32 * 48 * 3
    assert ev.eval_scorers.box_crop(img, (0.5, 0.5, 0.5, 0.5)).shape == (2, 2, 3)  # degenerate box: 2 x 2


def test_missing_transformers_message(ev, tmp_path, monkeypatch, capsys) -> None:
    """No transformers: exit 2 before any sampling, naming the package and `pip install '.[eval]'`."""
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` raises ImportError
    out = tmp_path / "out"
    assert ev.main(["--toy", "--scorers", "clip", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'transformers'" in err and "pip install 'transformers>=4.50.3' pillow scipy" in err and "CLIP scorer" in err
    assert not out.exists()
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["eval"]
    assert ev.eval_scorers.EVAL_EXTRA == extra


def test_unloadable_metric_model_message(ev, tmp_path, monkeypatch, capsys) -> None:
    """A model that is neither a folder nor in the cache: exit 2, how to download it or pass a folder."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets: no network
    missing = str(tmp_path / "no" / "such" / "model")
    assert ev.main(["--toy", "--scorers", "clip", "--clip-model", missing, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"could not load the CLIP model from the folder '{missing}'" in err and "--clip-model takes" in err
    assert ev.main(["--toy", "--scorers", "clip", "--clip-model", "no-such-org/no-such-clip"]) == 2
    err = capsys.readouterr().err
    assert "could not load the CLIP model 'no-such-org/no-such-clip'" in err and "hf download" in err


def test_options(ev) -> None:
    """Defaults per mode, METHODS reused by name, --variant, refused combinations."""
    a = ev.parse_args(["--ckpt", "x.safetensors"])
    assert (a.steps, a.cfg, a.sampler, a.scheduler, a.scorers, a.size) == (50, 7.5, "ddim", "ddim_uniform",
                                                                             "clip,detector", None)  # fmt: skip
    assert a.layouts.endswith("layouts_coco_style.jsonl") and a.methods == "plain,lrdm_paper_button,lrdm_plus"
    t = ev.parse_args(["--toy"])
    assert (t.steps, t.cfg, t.size, t.scorers) == (25, 4.5, 64, "toy") and t.layouts.endswith("layouts_default.jsonl")
    m = ev.parse_methods("plain,lrdm_plus", ["mine=t0:0.5,guidance:state"])
    assert m["lrdm_plus"] is ev.METHODS["lrdm_plus"] and m["mine"] == dict(ev.quality.PAPER, t0=0.5, guidance="state")
    for bad in (["--toy", "--size", "128"], ["--toy", "--scorers", "toy,detector"], ["--ckpt", "x", "--scorers", "toy"],
                ["--ckpt", "x", "--scorers", "fid"], ["--ckpt", "x", "--toy"], []):  # fmt: skip
        with pytest.raises(SystemExit):
            ev.parse_args(bad)
    with pytest.raises(SystemExit):
        ev.parse_methods("plain,nope", [])


def test_coco_style_layouts_are_the_generated_ones(tmp_path) -> None:
    """bench/layouts_coco_style.jsonl is what bench/make_coco_layouts.py writes; 50 valid layouts."""
    gen = bench_module("lrdm_bench_make_coco_layouts", REPO / "bench" / "make_coco_layouts.py")
    out = tmp_path / "l.jsonl"
    argv, sys.argv = sys.argv, ["make_coco_layouts.py", "--out", str(out)]
    try:
        gen.main()
    finally:
        sys.argv = argv
    shipped = (REPO / "bench" / "layouts_coco_style.jsonl").read_text()
    assert out.read_text() == shipped
    lines = [json.loads(s) for s in shipped.splitlines()]
    assert len(lines) == 50
    for line in lines:
        assert 1 <= len(line["objects"]) <= 3
        for o in line["objects"]:
            x0, y0, x1, y1 = o["box"]
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and o["phrase"] in line["prompt"]


def test_pack_never_imports_the_eval_extra() -> None:
    """transformers / PIL / scipy stay out of the pack (nodes/, lrdm_core/, __init__.py)."""
    pattern = re.compile(r"^\s*(import|from)\s+(transformers|PIL|scipy)\b", re.M)
    files = [REPO / "__init__.py", *(REPO / "nodes").rglob("*.py"), *(REPO / "lrdm_core").rglob("*.py")]
    assert [str(f) for f in files if pattern.search(f.read_text())] == []
