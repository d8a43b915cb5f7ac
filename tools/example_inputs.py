"""The input images of the example workflows (example_workflows/input/*.png), drawn with PIL.

A plain scene (a wall over a wooden table) for the image-editing example, with a red apple on the table,
and two copies of the empty scene whose alpha channel holds a painted mask, as ComfyUI's mask editor
saves them (Load Image's MASK = 1 - alpha: transparent where painted). Deterministic and small, so
`make examples` rewrites identical files; the server tests copy them into the server's input folder.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512
TABLE_TOP = 0.58  # fraction of the height where the table starts
APPLE_BOX = (0.10, 0.50, 0.36, 0.76)  # normalised xyxy of the apple drawn in the editing source
MASK_APPLE = (0.08, 0.42, 0.44, 0.84)  # normalised xyxy of the painted ellipse (the apple's mask)
MASK_CUP = (0.56, 0.26, 0.90, 0.84)  # normalised xyxy of the painted rounded rectangle (the cup's mask)


def _px(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A normalised xyxy box in pixels of the SIZE x SIZE canvas."""
    return tuple(round(v * SIZE) for v in box)  # type: ignore[return-value]


def scene() -> Image.Image:
    """The empty scene: a beige wall and a wooden table with a few grain lines (RGB)."""
    img = Image.new("RGB", (SIZE, SIZE), (232, 221, 200))
    d = ImageDraw.Draw(img)
    top = round(TABLE_TOP * SIZE)
    d.rectangle((0, top, SIZE, SIZE), fill=(150, 98, 58))
    d.rectangle((0, top, SIZE, top + 10), fill=(122, 78, 44))
    for i, y in enumerate(range(top + 34, SIZE, 38)):
        d.line((0, y, SIZE, y + (6 if i % 2 else -4)), fill=(132, 84, 48), width=3)
    return img


def edit_source() -> Image.Image:
    """The scene with a red apple on the table: what the image-editing example starts from (RGB)."""
    img = scene()
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = _px(APPLE_BOX)
    d.ellipse((x0, y0, x1, y1), fill=(196, 30, 36))
    d.ellipse((x0 + 22, y0 + 18, x0 + 52, y0 + 44), fill=(232, 110, 100))
    cx = (x0 + x1) // 2
    d.line((cx, y0 + 6, cx + 6, y0 - 18), fill=(90, 60, 30), width=6)
    d.ellipse((cx + 8, y0 - 24, cx + 40, y0 - 8), fill=(70, 140, 50))
    return img


def painted(shape: str, box: tuple[float, float, float, float]) -> Image.Image:
    """The scene as RGBA with alpha 0 inside `shape` ('ellipse' or 'rect') over `box`, 255 elsewhere."""
    img = scene().convert("RGBA")
    alpha = Image.new("L", img.size, 255)
    d = ImageDraw.Draw(alpha)
    if shape == "ellipse":
        d.ellipse(_px(box), fill=0)
    else:
        d.rounded_rectangle(_px(box), radius=28, fill=0)
    img.putalpha(alpha)
    return img


IMAGES = {
    "lrdm_edit_table.png": edit_source,
    "lrdm_mask_apple.png": lambda: painted("ellipse", MASK_APPLE),
    "lrdm_mask_cup.png": lambda: painted("rect", MASK_CUP),
}


def write_inputs(folder: Path) -> list[Path]:
    """Write every example input image into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in IMAGES.items():
        path = folder / name
        make().save(path, optimize=True)
        paths.append(path)
    return paths
