"""docs/images/screenshots.json: every README picture with its sha256 and what makes it.

    python tools/image_manifest.py --screenshots   # `make screenshots`, right after the browser run wrote them
    python tools/image_manifest.py                 # `make images-manifest`: re-hash the other figures only

The screenshots (SCREENSHOTS) are recorded only with --screenshots, i.e. by `make screenshots`, which writes them
from the real frontend first; without it their entries are kept as they are, so a screenshot replaced by hand
no longer matches and tests/core/test_docs.py fails. The other figures (FIGURES) come from benchmark and demo
runs; re-run this after replacing one. Standard library only.
"""

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
MANIFEST = IMAGES / "screenshots.json"

# Written by the browser tier under `make screenshots` (LRDM_SCREENSHOT_DIR=docs/images).
SCREENSHOTS = {
    "layout_editor.png": "tests/browser/test_layout_editor.py (check_layout_editor.mjs): the LRDM Layout editor, "
    "boxes drawn with mouse drags",
    "workflow_demo.png": "tests/browser/test_screenshots.py (check_screenshots.mjs): example_workflows/"
    "lrdm_demo.json queued with the Run button",
    "attention_maps.png": "tests/browser/test_screenshots.py (check_screenshots.mjs): lrdm_step_by_step.json on "
    "the toy model, LRDM Capture Attention's previews",
}
# README figures that are not screenshots.
FIGURES = {
    "quality_grid.png": "bench/results/quality_grid.png from `make bench-quality` (rows plain, mask, lrdm, "
    "lrdm_plus), copied",
}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def entry(name: str, made_by: str, screenshot: bool) -> dict:
    path = IMAGES / name
    w, h = png_size(path)
    return {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "width": w,
        "height": h,
        "screenshot": screenshot,
        "made_by": made_by,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screenshots", action="store_true", help="record the screenshots too (make screenshots)")
    args = ap.parse_args(argv)
    old = json.loads(MANIFEST.read_text())["images"] if MANIFEST.exists() else {}
    images = {}
    for name, made_by in SCREENSHOTS.items():
        if args.screenshots:
            images[name] = entry(name, made_by, screenshot=True)
        elif name in old:
            images[name] = old[name]
    for name, made_by in FIGURES.items():
        if (IMAGES / name).exists():
            images[name] = entry(name, made_by, screenshot=False)
    MANIFEST.write_text(
        json.dumps(
            {
                "about": "README pictures and their sha256; screenshots are recorded only by `make screenshots`, "
                "the other figures by `make images-manifest` (tools/image_manifest.py).",
                "images": dict(sorted(images.items())),
            },
            indent=1,
        )
        + "\n"
    )
    missing = [n for n in SCREENSHOTS if n not in images]
    if missing:
        sys.stderr.write(f"no entry yet for {', '.join(missing)}: run `make screenshots`\n")
    print(f"{MANIFEST.relative_to(REPO)}: {len(images)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
