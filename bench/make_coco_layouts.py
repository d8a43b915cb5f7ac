"""Write bench/layouts_coco_style.jsonl: synthetic COCO-style layouts of everyday objects for bench/eval_real.py.

    .venv/bin/python bench/make_coco_layouts.py [--n 50] [--seed 2311] [--out bench/layouts_coco_style.jsonl]

NOT the paper's evaluation set. The paper evaluates on 1134 captions with boxes drawn from COCO val2017, which
it did not release in a form we could get; these layouts are generated here from a fixed seed: one of four
scenes (table, street, field, living room), 1-3 objects of COCO categories with a colour or material word,
box aspect ratios and sizes typical of the category, placed where the category usually is (ground objects in
the lower part, kites and birds high up), overlapping by at most IoU 0.05. Each line has the layout schema plus
a global prompt: {"prompt": ..., "objects": [{"phrase": "a red apple", "box": [x0, y0, x1, y1]}]}, boxes
normalised xyxy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# name: (adjectives, aspect w/h, area fraction (lo, hi), placement)
# placement: "table" / "ground": bottom edge in the lower part; "sky": top part; "any": anywhere.
CATEGORIES: dict[str, tuple[tuple[str, ...], float, tuple[float, float], str]] = {
    "apple": (("red", "green"), 1.0, (0.03, 0.09), "table"),
    "orange": (("ripe",), 1.0, (0.03, 0.09), "table"),
    "banana": (("yellow",), 1.8, (0.04, 0.10), "table"),
    "cup": (("white", "blue", "red"), 0.85, (0.04, 0.10), "table"),
    "bowl": (("white", "wooden"), 1.6, (0.06, 0.16), "table"),
    "bottle": (("green", "glass"), 0.4, (0.04, 0.10), "table"),
    "cake": (("chocolate", "birthday"), 1.2, (0.08, 0.20), "table"),
    "donut": (("pink", "glazed"), 1.2, (0.04, 0.10), "table"),
    "pizza": (("cheese",), 1.3, (0.10, 0.25), "table"),
    "vase": (("blue", "glass"), 0.6, (0.05, 0.14), "table"),
    "book": (("red", "blue"), 0.75, (0.04, 0.10), "table"),
    "laptop": (("silver", "black"), 1.4, (0.10, 0.25), "table"),
    "dog": (("brown", "black", "white"), 1.2, (0.08, 0.25), "ground"),
    "cat": (("black", "orange", "grey"), 1.1, (0.06, 0.18), "ground"),
    "car": (("red", "blue", "white"), 1.8, (0.10, 0.30), "ground"),
    "bicycle": (("red", "black"), 1.6, (0.08, 0.20), "ground"),
    "bench": (("wooden",), 2.0, (0.08, 0.20), "ground"),
    "fire hydrant": (("red", "yellow"), 0.55, (0.03, 0.08), "ground"),
    "umbrella": (("red", "blue", "yellow"), 1.3, (0.06, 0.16), "any"),
    "man": (("smiling",), 0.4, (0.08, 0.20), "ground"),
    "woman": (("smiling",), 0.4, (0.08, 0.20), "ground"),
    "horse": (("brown", "white"), 1.3, (0.12, 0.30), "ground"),
    "cow": (("black and white", "brown"), 1.5, (0.10, 0.25), "ground"),
    "sheep": (("white",), 1.3, (0.06, 0.15), "ground"),
    "bird": (("small", "blue"), 1.1, (0.02, 0.06), "sky"),
    "kite": (("red", "yellow"), 1.0, (0.03, 0.08), "sky"),
    "couch": (("grey", "red"), 2.0, (0.15, 0.35), "ground"),
    "chair": (("wooden", "white"), 0.8, (0.06, 0.16), "ground"),
    "potted plant": (("green",), 0.75, (0.05, 0.12), "ground"),
    "tv": (("black",), 1.5, (0.08, 0.20), "any"),
    "clock": (("round", "white"), 1.0, (0.03, 0.08), "sky"),
    "teddy bear": (("brown",), 0.8, (0.05, 0.12), "ground"),
}
SCENES: dict[str, tuple[str, tuple[str, ...]]] = {
    "table": (
        "on a wooden table",
        ("apple", "orange", "banana", "cup", "bowl", "bottle", "cake", "donut", "pizza", "vase", "book", "laptop"),
    ),
    "street": ("on a city street", ("dog", "car", "bicycle", "bench", "fire hydrant", "umbrella", "man", "woman")),
    "field": ("in a grassy field", ("dog", "horse", "cow", "sheep", "bird", "kite", "man", "woman")),
    "living room": ("in a living room", ("cat", "dog", "couch", "chair", "potted plant", "tv", "clock", "teddy bear")),
}
N_OBJECTS = ((1, 0.2), (2, 0.5), (3, 0.3))
MAX_OVERLAP = 0.05


def article(word: str) -> str:
    """'an' before a vowel letter, else 'a'."""
    return "an" if word[0] in "aeiou" else "a"


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two normalised xyxy boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def place(rng: np.random.Generator, name: str) -> tuple[float, float, float, float]:
    """A box for one category: its aspect ratio, an area in its range, a position by its placement."""
    _, aspect, (lo, hi), where = CATEGORIES[name]
    area = rng.uniform(lo, hi)
    w = min(0.9, float(np.sqrt(area * aspect)))
    h = min(0.9, float(np.sqrt(area / aspect)))
    x0 = rng.uniform(0.02, 0.98 - w)
    if where in ("table", "ground"):
        bottom = rng.uniform(0.62 if where == "table" else 0.7, 0.98)
        y0 = max(0.02, bottom - h)
    elif where == "sky":
        y0 = rng.uniform(0.03, max(0.04, 0.4 - h))
    else:
        y0 = rng.uniform(0.02, 0.98 - h)
    return (x0, y0, x0 + w, min(0.98, y0 + h))


def sample_layout(rng: np.random.Generator) -> dict | None:
    """One layout line, or None when the boxes did not fit without overlap (the caller draws again)."""
    scene = list(SCENES)[rng.integers(len(SCENES))]
    suffix, names = SCENES[scene]
    n = int(rng.choice([k for k, _ in N_OBJECTS], p=[p for _, p in N_OBJECTS]))
    picked = [names[i] for i in rng.choice(len(names), size=n, replace=False)]
    objects, boxes = [], []
    for name in picked:
        adjectives = CATEGORIES[name][0]
        adj = adjectives[rng.integers(len(adjectives))]
        for _ in range(50):
            box = place(rng, name)
            if all(iou(box, b) <= MAX_OVERLAP for b in boxes):
                break
        else:
            return None
        boxes.append(box)
        objects.append({"phrase": f"{article(adj)} {adj} {name}", "box": [round(v, 3) for v in box]})
    phrases = [o["phrase"] for o in objects]
    listing = phrases[0] if n == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return {"prompt": f"{listing} {suffix}", "objects": objects}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2311)
    ap.add_argument("--out", default=str(Path(__file__).with_name("layouts_coco_style.jsonl")))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    lines: list[str] = []
    while len(lines) < args.n:
        line = sample_layout(rng)
        if line is not None:
            lines.append(json.dumps(line))
    Path(args.out).write_text("\n".join(lines) + "\n")
    sys.stdout.write(f"wrote {len(lines)} layouts to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
