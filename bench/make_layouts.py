"""Write the default layouts file for `make bench-quality`: random toy-world scenes as layout lines.

    .venv/bin/python bench/make_layouts.py [--n 100] [--seed 2026] [--out bench/layouts_default.jsonl]

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=str(Path(__file__).with_name("layouts_default.jsonl")))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    lines = []
    while len(lines) < args.n:
        sc = scenes.sample_scene(rng)
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
    Path(args.out).write_text("\n".join(lines) + "\n")
    sys.stdout.write(f"wrote {len(lines)} layouts to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
