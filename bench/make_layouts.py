"""Write a layouts file for `make bench-quality`: random toy-world scenes as layout lines.

    .venv/bin/python bench/make_layouts.py [--n 100] [--seed 2026] [--out bench/layouts_default.jsonl]
    .venv/bin/python bench/make_layouts.py --hard  # bench/layouts_hard.jsonl (seed 2027)

Default set: 1-3 objects, sides 0.25-0.5, no overlaps (the toy model's training scenes). --hard (issue 18):
4-6 objects, sides 0.15-0.25, at least one overlapping pair, one colour twice with two shapes
(tools/toyworld/scenes.py sample_hard_scene).

Each line: {"prompt": caption, "objects": [{"phrase": "a red circle", "box": [x0, y0, x1, y1]}]}, boxes
normalised xyxy: the pack's layout JSON schema plus a global prompt.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from toyworld import scenes  # noqa: E402

DEFAULT_SEED, HARD_SEED = 2026, 2027


def main(argv: list[str] | None = None) -> int:
    """Write the file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--hard", action="store_true", help="the hard set (default seed 2027, layouts_hard.jsonl)")
    ap.add_argument("--seed", type=int, default=None, help="default 2026, or 2027 with --hard")
    ap.add_argument("--out", default=None, help="default bench/layouts_default.jsonl or bench/layouts_hard.jsonl")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else (HARD_SEED if args.hard else DEFAULT_SEED)
    out = args.out or str(Path(__file__).with_name("layouts_hard.jsonl" if args.hard else "layouts_default.jsonl"))
    Path(out).write_text(layout_lines(args.n, seed, args.hard))
    sys.stdout.write(f"wrote {args.n} layouts to {out}\n")
    return 0


def layout_lines(n: int, seed: int, hard: bool = False) -> str:
    """The file's text: n layout lines (JSON) drawn from one seed; scenes without objects are skipped."""
    rng = np.random.default_rng(seed)
    lines = []
    while len(lines) < n:
        sc = scenes.sample_hard_scene(rng) if hard else scenes.sample_scene(rng)
        if not sc.objects:
            continue
        lines.append(
            json.dumps(
                {
                    "prompt": sc.caption,
                    "objects": [{"phrase": o.phrase, "box": [round(v, 4) for v in o.box]} for o in sc.objects],
                }
            )
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
