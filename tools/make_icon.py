"""docs/images/icon.png: the pack's 400x400 icon for the Comfy Registry ([tool.comfy] Icon in pyproject.toml).

    python tools/make_icon.py [--out docs/images/icon.png]      (`make icon`)

Drawn with Pillow, deterministic: two layers behind a canvas that holds the demo's layout, a red circle in the
lower-left box and a blue square in the upper-right one. Drawn at 4x and reduced (antialiasing).
"""

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SIZE = 400
S = 4  # supersampling factor
SHIFT = (-8, 18)  # centres the drawing (layers + canvas span x 60..356, y 24..340)


def _box(xyxy: tuple[float, float, float, float]) -> list[int]:
    return [round((v + SHIFT[i % 2]) * S) for i, v in enumerate(xyxy)]


def _dashed_rect(d: ImageDraw.ImageDraw, xyxy, color, width: int, dash: int = 14, gap: int = 10) -> None:
    x0, y0, x1, y1 = xyxy
    for a, b, horizontal, c in ((x0, x1, True, y0), (x0, x1, True, y1), (y0, y1, False, x0), (y0, y1, False, x1)):
        t = a
        while t < b:
            e = min(t + dash, b)
            seg = (t, c, e, c) if horizontal else (c, t, c, e)
            d.line(_box(seg), fill=color, width=width * S)
            t = e + gap


def draw() -> Image.Image:
    img = Image.new("RGBA", (SIZE * S, SIZE * S), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, SIZE * S, SIZE * S], radius=72 * S, fill=(30, 34, 48, 255))
    # Two layers behind the canvas (the layered rendering), then the canvas itself.
    for off, col in ((56, (66, 100, 216, 255)), (36, (61, 181, 74, 255))):
        d.rounded_rectangle(
            _box((60 + off, 60 - off + 20, 300 + off, 300 - off + 20)),
            radius=22 * S,
            fill=(*col[:3], 255),
            outline=(235, 238, 245, 255),
            width=6 * S,
        )
    canvas = (60, 100, 300, 340)
    d.rounded_rectangle(
        _box(canvas), radius=22 * S, fill=(244, 244, 240, 255), outline=(235, 238, 245, 255), width=6 * S
    )
    # The demo layout: a red circle in the lower-left box, a blue square in the upper-right box.
    red, blue = (230, 26, 74, 255), (66, 100, 216, 255)
    _dashed_rect(d, (78, 210, 172, 322), red, 5)
    d.ellipse(_box((88, 228, 162, 302)), fill=red)
    _dashed_rect(d, (188, 118, 282, 212), blue, 5)
    d.rectangle(_box((202, 132, 268, 198)), fill=blue)
    return img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "icon.png")
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(args.out, format="PNG", optimize=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
