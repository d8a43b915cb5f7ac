"""Layout accuracy on the toy model (`make bench-quality`): every method through ComfyUI's own sampling code.

    PYTHONPATH=. .venv/bin/python bench/quality.py [--model lrdm_toy] [--layouts bench/layouts_default.jsonl]
        [--seeds 1] [--methods plain,area,...|all] [--background empty] [--steps 25] [--cfg 4.5] [--limit N] [--grid 8]
        [--merge]  (re-run only --methods and keep the output file's other rows)

Prints a table and writes bench/results/quality.json ({"methods": {name: {mIoU, AP50, presence, quality,
n_objects, sec_per_image, ...}}, "model": ..., "layouts": ..., "seeds": ...}) and one grid PNG per method
(target boxes drawn over the first outputs). Another --model or --layouts writes
bench/results/quality_<model>_<set>.json and quality_<model>_<set>_grid_<method>.png instead, so the default
run's files (the README's) stay as they are.
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
import host  # noqa: E402

PRESETS = host.pack_module("lrdm_core.config").PRESETS  # the nodes' two settings, as node inputs
PAPER = PRESETS["paper"].to_dict()
PLUS = PRESETS["plus"].to_dict()
# The paper's algorithm with three of the choices it leaves open calibrated on this model (docs/METHOD.md choices 2, 4
# and 5: lambda, one value inside and outside as in Eq. 6; delta in image space, as the authors' code computes it; t0),
# with CFG per layer (choice 8), on the first 50 layouts of layouts_default.jsonl (bench/README.md); the node's
# "paper" button keeps the authors' numbers and Eq. 6's latent delta (PAPER).
TOY_PAPER = dict(PAPER, strength=10.0, strength_out=10.0, t0=0.5, delta_space="rgb")
METHODS: dict[str, dict | str] = {
    "plain": "plain",
    "area": "area",
    "mask": "mask",
    # DenseDiffusion-style bias on every step, no layers: the defaults' cross-attention bias (units, cap, decay)
    "attn_bias": dict(PAPER, t0=0.0, **{k: PLUS[k] for k in ("attn_bias", "bias_cap", "bias_decay")}),
    "lrdm": TOY_PAPER,  # the paper's method, figure's reading (xi on each layer's input, CFG per layer), calibrated
    "lrdm_paper_button": PAPER,  # the same with the authors' numbers: t0 0.3, lambda 1
    "lrdm_plus": PLUS,  # the node defaults: the best measured mode (bench/README.md)
    "lrdm_plus_no_bias": dict(PLUS, attn_bias=0.0, self_bias=0.0),  # its LRDM part alone
    "bias_only": dict(PLUS, t0=0.0, guidance="none"),  # its region biases alone (no layers, no guidance)
    "lrdm_layers_only": dict(TOY_PAPER, guidance="none"),
    "lrdm_guidance_only": dict(TOY_PAPER, t0=0.0, guidance="state"),
    "lrdm_state": dict(TOY_PAPER, guidance="state"),  # authors' code: xi shifts x_T once (choice 9)
    "lrdm_eps": dict(TOY_PAPER, guidance="eps"),  # noise-prediction reading of Eq. 8 (choice 9)
    "lrdm_fuse": dict(TOY_PAPER, composition="fuse"),  # authors' code: trajectories fused once at t0 (choice 1)
}


# `make bench-quality`'s rows (the issue's baselines, presets and ablations, about 10 min); --methods all adds the rest.
DEFAULT_METHODS = ("plain", "area", "mask", "attn_bias", "lrdm", "lrdm_paper_button", "lrdm_plus",
                   "lrdm_layers_only", "lrdm_guidance_only", "lrdm_fuse")  # fmt: skip


def parse_methods(names: str, variants: list[str], sets: list[str] = ()) -> dict:
    """METHODS by name ('all': every one), then --set name.field=value, then --variant name=field:value,... on
    the paper preset."""
    chosen = list(METHODS) if names == "all" else [m for m in names.split(",") if m]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise SystemExit(f"error: unknown method(s) {unknown}; choose from {', '.join(METHODS)}, all, or use --variant")
    methods = {m: METHODS[m] for m in chosen}
    for item in sets:
        key, value = item.split("=", 1)
        name, field = key.split(".", 1)
        methods[name] = dict(methods[name], **{field: type(PAPER[field])(value)})
    for item in variants:
        name, fields = item.split("=", 1)
        over = dict(f.split(":", 1) for f in fields.split(",") if f)
        methods[name] = dict(PAPER, **{k: type(PAPER[k])(v) for k, v in over.items()})
    return methods


class Runner:
    """The toy model loaded once; one method call -> one RGB image [H, W, 3] in [0, 1]."""

    def __init__(
        self, pack, weights: str, steps: int, cfg: float, sampler: str, scheduler: str, background: str
    ) -> None:
        import nodes as comfy_nodes

        self.pack, self.nodes = pack, comfy_nodes
        toy = pack.nodes.host.toy_model
        self.model, self.clip, self.vae, _ = toy.load_toy(weights, dtype=torch.float32)
        self.steps, self.cfg, self.sampler, self.scheduler = steps, cfg, sampler, scheduler
        self.size = 64
        self.negative = self.encode("")
        self.background = background

    def encode(self, text: str):
        return self.clip.encode_from_tokens_scheduled(self.clip.tokenize(text))

    def latent(self) -> dict:
        return {"samples": torch.zeros(1, 4, self.size // 8, self.size // 8)}

    @torch.inference_mode()  # as ComfyUI's executor runs nodes (a real VAE's decode would otherwise need grad)
    def run(self, method, line: dict, seed: int) -> np.ndarray:
        """Sample one layout line with one method."""
        if isinstance(method, dict):
            lay = self.pack.lrdm_core.layout.layout_from_dict(dict(line, background=self.background_of(line)))
            out = self.pack.nodes.sampler_node.Sampler.execute(
                self.model,
                self.clip,
                lay,
                line["prompt"],
                "",
                self.latent(),
                seed,
                self.steps,
                self.cfg,
                self.sampler,
                self.scheduler,
                1.0,
                **method,
            ).args[0]
        else:
            positive = getattr(self, f"_cond_{method}")(line)
            out = self.nodes.common_ksampler(
                self.model,
                seed,
                self.steps,
                self.cfg,
                self.sampler,
                self.scheduler,
                positive,
                self.negative,
                self.latent(),
            )[0]
        return self.vae.decode(out["samples"])[0].float().clamp(0, 1).numpy()  # [H, W, 3]

    def background_of(self, line: dict) -> str:
        """The line's background phrase, else the run's (--background)."""
        return line.get("background") or self.background

    def _cond_plain(self, line: dict):
        return self.encode(line["prompt"])

    def _cond_area(self, line: dict):
        """ConditioningSetArea per object (pixel box on the 8-px grid) combined with the global prompt."""
        cond = self.encode(line["prompt"])
        for o in line["objects"]:
            x0, y0, x1, y1 = (round(v * self.size / 8) * 8 for v in o["box"])
            part = self.nodes.ConditioningSetArea().append(
                self.encode(o["phrase"]), max(x1 - x0, 8), max(y1 - y0, 8), x0, y0, 1.0
            )[0]
            cond = self.nodes.ConditioningCombine().combine(cond, part)[0]
        return cond

    def _cond_mask(self, line: dict):
        """ConditioningSetMask per object (its box as a mask) and the background phrase outside all boxes,
        combined with the global prompt."""
        cond, outside = self.encode(line["prompt"]), torch.ones(1, self.size, self.size)
        for o in line["objects"]:
            mask = torch.zeros(1, self.size, self.size)
            x0, y0, x1, y1 = (round(v * self.size) for v in o["box"])
            mask[:, y0:y1, x0:x1] = 1.0
            outside = outside - mask
            cond = self._combine_masked(cond, o["phrase"], mask)
        background = self.background_of(line)
        return self._combine_masked(cond, background, outside.clamp(min=0)) if background else cond

    def _combine_masked(self, cond, text: str, mask: torch.Tensor):
        """cond + ConditioningSetMask(text, mask)."""
        part = self.nodes.ConditioningSetMask().append(self.encode(text), mask, "default", 1.0)[0]
        return self.nodes.ConditioningCombine().combine(cond, part)[0]


def targets_of(line: dict):
    """The requested objects of a layout line as metric targets (colour, shape, box)."""
    from toyworld.metrics import Target

    out = []
    for o in line["objects"]:
        _, colour, shape = o["phrase"].split()
        out.append(Target(colour, shape, tuple(o["box"])))
    return out


def evaluate(images: list[np.ndarray], lines: list[dict]) -> dict:
    """mIoU, AP50, presence, shape accuracy, extra objects per image, quality (near-palette fraction)."""
    from toyworld.detect import detect, near_palette_fraction
    from toyworld.metrics import ap50, score_image

    targets = [targets_of(line) for line in lines]
    dets = [detect(img) for img in images]
    scores = [score_image(t, d) for t, d in zip(targets, dets, strict=True)]
    ious = [v for s in scores for v in s.ious]
    return {
        "mIoU": float(np.mean(ious)),
        "AP50": ap50(targets, dets),
        "presence": float(np.mean([v for s in scores for v in s.present])),
        "shape_acc": float(np.mean([v for s in scores for v in s.shape_ok])),
        "extra_per_image": float(np.mean([s.extra for s in scores])),
        "quality": float(np.mean([near_palette_fraction(img) for img in images])),
        "n_objects": len(ious),
    }


README_ROWS = ("plain", "mask", "lrdm", "lrdm_plus")  # the README's grid: one row per method


def grid(images: list[np.ndarray], lines: list[dict], path: Path, n: int) -> None:
    """Save the first n outputs side by side with their target boxes drawn in white."""
    from PIL import Image

    Image.fromarray(grid_row(images, lines, n)).resize((min(n, len(images)) * 136, 136), Image.NEAREST).save(path)


def readme_grid(rows: dict[str, np.ndarray], path: Path) -> None:
    """The README picture: the grid rows of README_ROWS stacked (bench/results/quality_grid.png)."""
    from PIL import Image

    stack = np.concatenate([rows[m] for m in README_ROWS if m in rows], axis=0)  # [rows*68, n*68, 3]
    h, w, _ = stack.shape
    Image.fromarray(stack).resize((w * 2, h * 2), Image.NEAREST).save(path)


def grid_row(images: list[np.ndarray], lines: list[dict], n: int) -> np.ndarray:
    """The first n outputs side by side, target boxes in white, as uint8 [68, n*68, 3]."""
    tiles = []
    for img, line in zip(images[:n], lines[:n], strict=False):
        t = (img * 255).astype(np.uint8).copy()
        h, w, _ = t.shape
        for o in line["objects"]:
            x0, y0, x1, y1 = (int(round(v * s)) for v, s in zip(o["box"], (w, h, w, h), strict=True))
            x1, y1 = min(x1, w - 1), min(y1, h - 1)
            t[y0, x0 : x1 + 1] = t[y1, x0 : x1 + 1] = 255
            t[y0 : y1 + 1, x0] = t[y0 : y1 + 1, x1] = 255
        tiles.append(np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=40))
    return np.concatenate(tiles, axis=1)


DEFAULT_MODEL = "lrdm_toy"  # the shipped toy model (models/lrdm_toy.safetensors)
DEFAULT_LAYOUTS = Path(__file__).with_name("layouts_default.jsonl")


def model_path(model: str) -> Path:
    """A toy model's weights: a .safetensors path as given, else models/<name>.safetensors."""
    path = Path(model)
    if path.suffix != ".safetensors":
        path = host.REPO / "models" / f"{model}.safetensors"
    if not path.is_file():
        found = sorted(p.stem for p in (host.REPO / "models").glob("lrdm_toy*.safetensors"))
        raise SystemExit(f"error: toy model {model!r} not found at {path}; expected one of {found} or a path")
    return path


def default_out(weights: Path, layouts: str) -> Path:
    """bench/results/quality.json for the default model and layouts, else quality_<model>_<set>.json."""
    if weights.stem == DEFAULT_MODEL and Path(layouts).resolve() == DEFAULT_LAYOUTS.resolve():
        return host.RESULTS / "quality.json"
    return host.RESULTS / f"quality_{weights.stem}_{Path(layouts).stem.removeprefix('layouts_')}.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layouts", default=str(DEFAULT_LAYOUTS))
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="comma list of METHODS, or all")
    ap.add_argument(
        "--model",
        "--weights",
        dest="model",
        default=DEFAULT_MODEL,
        help="toy model: a name in models/ (lrdm_toy, lrdm_toy_b) or a .safetensors path",
    )
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--cfg", type=float, default=4.5)
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--scheduler", default="normal")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N layouts")
    ap.add_argument("--grid", type=int, default=8, help="tiles per method grid")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--background",
        default="empty",
        help="background phrase for the methods that take one (lrdm*, mask) where a line has none; "
        "'empty' is what the toy model's captions call a scene without objects ('' = none)",
    )
    ap.add_argument("--set", action="append", default=[], help="override a method field: name.field=value")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="an extra LRDM method: name=field:value,field:value (fields of the paper preset)",
    )
    ap.add_argument("--out", default=None, help="default: bench/results/quality.json, or quality_<model>_<set>.json")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of the --out file's methods not run now (same model, layouts, steps, cfg, sampler, seeds)",
    )
    args = ap.parse_args(argv)
    weights = model_path(args.model)
    out = Path(args.out or default_out(weights, args.layouts))

    pack = host.load("cpu", args.threads)
    lines = [json.loads(s) for s in Path(args.layouts).read_text().splitlines() if s.strip()]
    lines = lines[: args.limit] if args.limit else lines
    methods = parse_methods(args.methods, args.variant, args.set)
    runner = Runner(pack, str(weights), args.steps, args.cfg, args.sampler, args.scheduler, args.background)
    results, rows, out_dir, prefix = {}, {}, out.parent, out.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, method in methods.items():
        images, used, t = [], [], time.perf_counter()
        for seed in range(args.seeds):
            for i, line in enumerate(lines):
                images.append(runner.run(method, line, 1000 * seed + i))
                used.append(line)
        sec = (time.perf_counter() - t) / len(images)
        results[name] = dict(
            evaluate(images, used), sec_per_image=sec, config=method if isinstance(method, dict) else None
        )
        grid(images, used, out_dir / f"{prefix}_grid_{name}.png", args.grid)
        rows[name] = grid_row(images, used, args.grid)
        print_row(name, results[name])
    report = {
        "methods": results,
        "model": weights.name,
        "layouts": args.layouts,
        "seeds": args.seeds,
        "n_layouts": len(lines),
        "steps": args.steps,
        "cfg": args.cfg,
        "sampler": args.sampler,
        "background": args.background,
    }
    if args.merge:
        report = merged(report, out)
        rows = dict(kept_grid_rows(out_dir, prefix, [m for m in README_ROWS if m in report["methods"]]), **rows)
    out.write_text(json.dumps(report, indent=1))
    if any(m in rows for m in README_ROWS):
        readme_grid(rows, out_dir / f"{prefix}_grid.png")
    return 0


MERGE_KEYS = ("model", "seeds", "n_layouts", "steps", "cfg", "sampler", "background")  # a kept row's run must match


def merged(report: dict, out: Path) -> dict:
    """`report` with the rows of the earlier `out` file whose methods it did not run (--merge); the earlier
    run must have measured the same thing, else the script stops rather than mix two benchmarks in one table."""
    if not out.is_file():
        return report
    old = json.loads(out.read_text())
    differ = [k for k in MERGE_KEYS if k in old and old[k] != report[k]]  # a key it lacks predates that key
    if differ or Path(old.get("layouts", "")).name != Path(report["layouts"]).name:
        raise SystemExit(
            f"error: --merge into {out}: it was measured with other settings ({differ or ['layouts']}); "
            "rerun every method or write to another --out"
        )
    new = report["methods"]
    methods = {m: new.get(m, r) for m, r in old["methods"].items()}  # the earlier order, re-run rows replaced
    return dict(report, methods=dict(methods, **new))


def kept_grid_rows(out_dir: Path, prefix: str, names: list[str]) -> dict[str, np.ndarray]:
    """The README grid rows of methods kept by --merge, read back from their own grid PNGs (saved at 2x)."""
    from PIL import Image

    rows = {}
    for name in names:
        path = out_dir / f"{prefix}_grid_{name}.png"
        if path.is_file():
            img = np.asarray(Image.open(path).convert("RGB"))  # [136, n*136, 3]
            rows[name] = img[::2, ::2]  # [68, n*68, 3]
    return rows


def print_row(name: str, r: dict) -> None:
    """One table row (markdown), the header before the first."""
    if not getattr(print_row, "header", False):
        sys.stdout.write(
            "| method | mIoU | AP50 | presence | shape acc | extra/img | quality | s/img |\n"
            "|---|---|---|---|---|---|---|---|\n"
        )
        print_row.header = True
    sys.stdout.write(
        f"| {name} | {r['mIoU']:.3f} | {r['AP50']:.3f} | {r['presence']:.3f} | {r['shape_acc']:.3f} "
        f"| {r['extra_per_image']:.2f} | {r['quality']:.3f} | {r['sec_per_image']:.2f} |\n"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
