"""Layout accuracy and text alignment of a real checkpoint, with and without LRDM (docs/EVALUATION.md).

    python bench/eval_real.py --ckpt /path/sd15.safetensors [--layouts bench/layouts_coco_style.jsonl]
        [--methods plain,lrdm_paper_button,lrdm_plus] [--seeds 1] [--size 512] [--steps 50] [--cfg 7.5]
        [--sampler ddim] [--scheduler ddim_uniform] [--scorers clip,detector] [--clip-model ID|DIR]
        [--detector ID|DIR] [--device cuda] [--out output/eval_real]
    python bench/eval_real.py --toy [--scorers toy]          # the pack's toy model, its own detector

Every layout line is sampled once per method and seed through ComfyUI's own code (a checkpoint loaded with
comfy.sd.load_checkpoint_guess_config: SD1.x, SD2.x, SDXL), the stock KSampler for `plain` / `area` / `mask`
and LRDM_Sampler for the LRDM presets (bench/quality.py's METHODS), same seeds for every method. The images
are scored by CLIP (CLIP score of the global prompt, local CLIP score of each box crop against its phrase)
and an open-vocabulary detector queried with the phrases (mIoU, AP50, presence), or by the toy detector.
Needs the `eval` extra for CLIP and the detector (bench/eval_scorers.py). Prints a table and writes
<out>/eval_real.json, <out>/images/<method>/<layout>_s<seed>.png and <out>/grid_<method>.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_scorers  # noqa: E402
import host  # noqa: E402
import quality  # noqa: E402
from quality import METHODS, parse_methods  # noqa: E402

HERE = Path(__file__).resolve().parent
COCO_LAYOUTS = HERE / "layouts_coco_style.jsonl"
TOY_LAYOUTS = HERE / "layouts_default.jsonl"
LAYOUTS_NOTE = {
    COCO_LAYOUTS.name: "synthetic COCO-style layouts (bench/make_coco_layouts.py), NOT the paper's 1134-caption set",
    TOY_LAYOUTS.name: "toy-world layouts (bench/make_layouts.py)",
}
DEFAULT_METHODS = "plain,lrdm_paper_button,lrdm_plus"  # on real checkpoints: the authors' numbers
# The paper samples 50 DDIM steps (the authors' code: layered until step 15 of 51); ComfyUI's ddim sampler.
CKPT_DEFAULTS = dict(
    steps=50, cfg=7.5, sampler="ddim", scheduler="ddim_uniform", scorers="clip,detector", background=""
)
TOY_DEFAULTS = dict(steps=25, cfg=4.5, sampler="euler", scheduler="normal", scorers="toy", size=64, background="empty")
COLUMNS = [("mIoU", "mIoU"), ("AP50", "AP50"), ("presence", "presence"), ("clip_score", "CLIP"),
           ("clip_local", "local CLIP"), ("sec_per_image", "s/img")]  # fmt: skip


class CheckpointRunner(quality.Runner):
    """quality.Runner on any (MODEL, CLIP, VAE): a real checkpoint at `size` px instead of the toy model."""

    def __init__(self, pack, model, clip, vae, size: int, steps: int, cfg: float, sampler: str, scheduler: str,
                 background: str):  # fmt: skip
        import nodes as comfy_nodes

        self.pack, self.nodes = pack, comfy_nodes
        self.model, self.clip, self.vae = model, clip, vae
        self.steps, self.cfg, self.sampler, self.scheduler = steps, cfg, sampler, scheduler
        self.size, self.background = size, background
        self.negative = self.encode("")


def load_checkpoint(path: str):
    """(MODEL, CLIP, VAE) of a checkpoint file (comfy.sd.load_checkpoint_guess_config)."""
    import comfy.sd

    if not Path(path).is_file():
        raise SystemExit(f"error: --ckpt {path}: no such file")
    model, clip, vae = comfy.sd.load_checkpoint_guess_config(path, output_vae=True, output_clip=True)[:3]
    if clip is None or vae is None:
        raise SystemExit(f"error: {path} has no text encoder or no VAE; use a full SD1.x / SD2.x / SDXL checkpoint")
    return model, clip, vae


def default_size(model) -> int:
    """The family's native size: 1024 px for SDXL, 768 for v-prediction SD2.x, else 512."""
    import comfy.model_base

    if isinstance(model.model, comfy.model_base.SDXL):
        return 1024
    return 768 if model.model.model_type == comfy.model_base.ModelType.V_PREDICTION else 512


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", help="checkpoint file (SD1.x / SD2.x / SDXL, .safetensors or .ckpt)")
    src.add_argument("--toy", action="store_true", help="the pack's toy model (models/lrdm_toy.safetensors)")
    ap.add_argument("--weights", default=str(host.REPO / "models" / "lrdm_toy.safetensors"), help="toy weights")
    ap.add_argument("--layouts", help=f"layout jsonl (default {COCO_LAYOUTS.name}, with --toy {TOY_LAYOUTS.name})")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N layouts")
    ap.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma list of {', '.join(METHODS)}")
    ap.add_argument("--variant", action="append", default=[], help="extra LRDM method: name=field:value,...")
    ap.add_argument("--seeds", type=int, default=1, help="samples per layout (seed 1000 * s + layout index)")
    ap.add_argument("--size", type=int, help="image side in px (default: 512 SD1.x, 768 SD2.x-v, 1024 SDXL)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--cfg", type=float)
    ap.add_argument("--sampler")
    ap.add_argument("--scheduler")
    ap.add_argument(
        "--background",
        help="background phrase for lrdm* and mask where a layout line has none (default '', --toy: 'empty')",
    )
    ap.add_argument("--scorers", help="comma list of clip, detector, toy (default clip,detector; --toy: toy)")
    ap.add_argument("--clip-model", default=eval_scorers.DEFAULT_CLIP, help="Hugging Face id or local folder")
    ap.add_argument("--detector", default=eval_scorers.DEFAULT_DETECTOR, help="OWLv2 / Grounding DINO id or folder")
    ap.add_argument("--det-threshold", type=float, help="detection score threshold (OWL 0.1, Grounding DINO 0.25)")
    ap.add_argument("--det-nms", type=float, default=0.5, help="per-phrase NMS IoU of the detector's boxes")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed samples per method before the timed ones")
    ap.add_argument("--grid", type=int, default=8, help="tiles per method grid")
    ap.add_argument("--out", default=str(host.REPO / "output" / "eval_real"), help="folder: JSON, images, grids")
    args = ap.parse_args(argv)
    for key, value in (TOY_DEFAULTS if args.toy else CKPT_DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.toy and args.size != 64:
        ap.error("--toy samples 64 x 64 images (the toy model's size)")
    if args.size is not None and args.size % 8:
        ap.error("--size must be a multiple of 8")
    names = [n for n in args.scorers.split(",") if n]
    if set(names) - {"toy", "clip", "detector"} or {"toy", "detector"} <= set(names):
        ap.error(f"--scorers {args.scorers}: a comma list of clip, detector, toy (toy and detector exclude each other)")
    if "toy" in names and not args.toy:
        ap.error("--scorers toy scores toy-world images only (use it with --toy)")
    args.layouts = args.layouts or str(TOY_LAYOUTS if args.toy else COCO_LAYOUTS)
    return args


def save_png(image: np.ndarray, path: Path) -> None:
    """RGB [H, W, 3] in [0, 1] -> 8-bit PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(path)


def print_row(name: str, r: dict, header: bool) -> None:
    """One markdown table row, the header first when asked; '-' for a metric no scorer gave."""
    if header:
        sys.stdout.write("| method | " + " | ".join(t for _, t in COLUMNS) + " |\n")
        sys.stdout.write("|---" * (len(COLUMNS) + 1) + "|\n")
    cells = [("-" if k not in r else f"{r[k]:.2f}" if k in ("clip_score", "clip_local", "sec_per_image")
              else f"{r[k]:.3f}") for k, _ in COLUMNS]  # fmt: skip
    sys.stdout.write(f"| {name} | " + " | ".join(cells) + " |\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> dict:
    """Sample every (method, seed, layout), score each method's images, write the JSON after each method."""
    names = [s for s in args.scorers.split(",") if s]
    pack = host.load(args.device, args.threads or None)
    scorers = eval_scorers.build(
        names, args.clip_model, args.detector, args.device, args.det_threshold, args.det_nms
    )  # loads the metric models first: a missing one fails before any sampling
    lines = [json.loads(s) for s in Path(args.layouts).read_text().splitlines() if s.strip()]
    lines = lines[: args.limit] if args.limit else lines
    if not lines:
        raise SystemExit(f"error: no layouts in {args.layouts}")
    methods = parse_methods(args.methods, args.variant)
    if args.toy:
        runner = quality.Runner(pack, args.weights, args.steps, args.cfg, args.sampler, args.scheduler, args.background)
    else:
        model, clip, vae = load_checkpoint(args.ckpt)
        args.size = args.size or default_size(model)
        runner = CheckpointRunner(
            pack, model, clip, vae, args.size, args.steps, args.cfg, args.sampler, args.scheduler, args.background
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "methods": {},
        "per_image": {},
        "model": "toy:" + args.weights if args.toy else args.ckpt,
        "layouts": args.layouts,
        "layouts_note": LAYOUTS_NOTE.get(Path(args.layouts).name, "user layouts"),
        "n_layouts": len(lines),
        "seeds": args.seeds,
        **{k: getattr(args, k) for k in ("size", "steps", "cfg", "sampler", "scheduler", "device", "background")},
        "scorers": {s.name: getattr(s, "model_name", "toy detector") for s in scorers},
        "det_threshold": next((s.threshold for s in scorers if s.name == "detector"), None),
    }
    sys.stdout.write(f"{len(lines)} layouts x {args.seeds} seed(s), {report['layouts_note']}\n")
    for name, method in methods.items():
        for _ in range(args.warmup):  # model loading and first-call costs stay out of sec_per_image
            runner.run(method, lines[0], 0)
        images, used, files, t = [], [], [], time.perf_counter()
        for seed in range(args.seeds):
            for i, line in enumerate(lines):
                images.append(runner.run(method, line, 1000 * seed + i))
                used.append(line)
                files.append(f"images/{name}/{i:03d}_s{seed}.png")
        sec = (time.perf_counter() - t) / max(len(images), 1)
        for img, f in zip(images, files, strict=True):
            save_png(img, out / f)
        metrics: dict = {}
        per_image = [{"file": f, "layout": i % len(lines)} for i, f in enumerate(files)]
        for scorer in scorers:
            summary, rows = scorer.score(images, used)
            metrics.update(summary)
            for row, extra in zip(per_image, rows, strict=True):
                row.update(extra)
        report["methods"][name] = dict(
            metrics, sec_per_image=sec, n_images=len(images), config=method if isinstance(method, dict) else None
        )
        report["per_image"][name] = per_image
        quality.grid(images, used, out / f"grid_{name}.png", args.grid)
        print_row(name, report["methods"][name], header=len(report["methods"]) == 1)
        (out / "eval_real.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except eval_scorers.ScorerUnavailable as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write(f"wrote {Path(args.out) / 'eval_real.json'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
