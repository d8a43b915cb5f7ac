"""Seeded synthetic scenes for the toy model: coloured shapes on a plain background, no-position captions."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Palette, RGB in [0, 1]. Hues are far apart so a detector separates them by hue alone.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.12, 0.12),
    "green": (0.12, 0.66, 0.18),
    "blue": (0.14, 0.30, 0.88),
    "yellow": (0.95, 0.82, 0.10),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Neutral (zero-chroma) backgrounds, never named in captions.
BACKGROUNDS: dict[str, tuple[float, float, float]] = {
    "white": (0.96, 0.96, 0.96),
    "grey": (0.55, 0.55, 0.55),
    "black": (0.08, 0.08, 0.08),
}

IMAGE_SIZE = 64
EMPTY_CAPTION = "empty"  # the caption of a scene without objects (and the background phrase that asks for none)


class SceneObject(NamedTuple):
    """One object: palette colour name, shape name, box as normalised xyxy in [0, 1] (x right, y down)."""

    colour: str
    shape: str
    box: tuple[float, float, float, float]

    @property
    def phrase(self) -> str:
        """The object's caption phrase, e.g. 'a red circle'."""
        return object_phrase(self.colour, self.shape)


class Scene(NamedTuple):
    """A scene: objects (in caption order), background name, image side in pixels, pixel block size.

    `grid` > 1 renders at size / grid and repeats each pixel grid x grid times (the toy VAE's resolution).
    """

    objects: tuple[SceneObject, ...]
    background: str
    size: int = IMAGE_SIZE
    grid: int = 2

    @property
    def caption(self) -> str:
        """Position-free caption, e.g. 'a red circle and a blue square'; 'empty' for a scene without objects."""
        return join_phrases([o.phrase for o in self.objects]) if self.objects else EMPTY_CAPTION


def object_phrase(colour: str, shape: str) -> str:
    """Phrase for one object: 'a <colour> <shape>'."""
    return f"a {colour} {shape}"


def join_phrases(phrases: list[str]) -> str:
    """Join phrases as English: 'x', 'x and y', 'x, y and z'."""
    if not phrases:
        return ""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _boxes_clear(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]], gap: int) -> bool:
    """True when the pixel box (x0, y0, x1, y1) keeps at least `gap` pixels from every other box."""
    x0, y0, x1, y1 = box
    for a0, b0, a1, b1 in others:
        if x0 < a1 + gap and a0 < x1 + gap and y0 < b1 + gap and b0 < y1 + gap:
            return False
    return True


def sample_scene(
    rng: np.random.Generator,
    size: int = IMAGE_SIZE,
    min_objects: int = 1,
    max_objects: int = 3,
    min_side: int = 16,
    max_side: int = 32,
    gap: int = 2,
    grid: int = 2,
) -> Scene:
    """Sample a scene: distinct (colour, shape) pairs, square boxes of random side, no overlaps.

    Sides, positions and gaps are in pixels of a `size` image and snap to multiples of `grid`.
    """
    if size % grid or min_side % grid or max_side % grid or gap % grid:
        raise ValueError(f"size, sides and gap must be multiples of grid={grid}.")
    size_g, min_g, max_g, gap_g = size // grid, min_side // grid, max_side // grid, gap // grid
    n = int(rng.integers(min_objects, max_objects + 1))
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    chosen = rng.choice(len(pairs), size=n, replace=False)
    placed: list[tuple[int, int, int, int]] = []
    objects: list[SceneObject] = []
    for idx in chosen:
        colour, shape = pairs[int(idx)]
        hi = max_g
        for attempt in range(200):
            if attempt and attempt % 40 == 0:
                hi = max(min_g, hi - 2)  # crowded: shrink the size range
            side = int(rng.integers(min_g, hi + 1))
            x0 = int(rng.integers(0, size_g - side + 1))
            y0 = int(rng.integers(0, size_g - side + 1))
            box = (x0, y0, x0 + side, y0 + side)
            if _boxes_clear(box, placed, gap_g):
                placed.append(box)
                norm = (x0 / size_g, y0 / size_g, (x0 + side) / size_g, (y0 + side) / size_g)
                objects.append(SceneObject(colour, shape, norm))
                break
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    return Scene(tuple(objects), background, size, grid)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Intersection area of two grid boxes (x0, y0, x1, y1)."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def sample_hard_scene(
    rng: np.random.Generator,
    size: int = IMAGE_SIZE,
    min_objects: int = 4,
    max_objects: int = 6,
    min_side: int = 10,
    max_side: int = 16,
    max_pair_overlap: float = 0.25,
    max_covered: float = 0.4,
    grid: int = 2,
) -> Scene:
    """A hard layout (issue 18): 4-6 small square boxes (side 10-16 px of 64, 0.15-0.25), at least one
    overlapping pair, and one colour used twice with two different shapes; (colour, shape) pairs distinct.

    Each pair of boxes shares at most `max_pair_overlap` of the smaller box and no box has more than
    `max_covered` of its area under the others, so every object stays visible in a render (later objects
    are drawn on top). Sides and positions snap to multiples of `grid` pixels.
    """
    size_g, min_g, max_g = size // grid, -(-min_side // grid), max_side // grid
    n = int(rng.integers(min_objects, max_objects + 1))
    colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
    twin = [(colour, SHAPES[int(i)]) for i in rng.choice(len(SHAPES), size=2, replace=False)]
    rest = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in twin]
    pairs = twin + [rest[int(i)] for i in rng.choice(len(rest), size=n - 2, replace=False)]
    pairs = [pairs[int(i)] for i in rng.permutation(n)]
    boxes = None
    while boxes is None:
        boxes = _place_hard_boxes(rng, [c for c, _ in pairs], size_g, min_g, max_g, max_pair_overlap, max_covered)
    objects = tuple(SceneObject(c, s, tuple(v / size_g for v in box)) for (c, s), box in zip(pairs, boxes, strict=True))
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    return Scene(objects, background, size, grid)


def _place_hard_boxes(
    rng: np.random.Generator,
    colours: list[str],
    size_g: int,
    min_g: int,
    max_g: int,
    pair_cap: float,
    covered_cap: float,
) -> list[tuple[int, int, int, int]] | None:
    """One random square grid box per colour within the caps, at least one overlapping pair, boxes of one colour
    a cell apart (touching same-colour shapes would read as one object); None after 400 tries."""
    n, placed = len(colours), []
    for _ in range(400):
        if len(placed) == n:
            break
        side = int(rng.integers(min_g, max_g + 1))
        x0, y0 = (int(v) for v in rng.integers(0, size_g - side + 1, size=2))
        box = (x0, y0, x0 + side, y0 + side)
        same = [b for b, c in zip(placed, colours, strict=False) if c == colours[len(placed)]]
        if not _boxes_clear(box, same, 1):
            continue
        areas = [_overlap(box, b) for b in placed]
        if any(a > pair_cap * min(side, b[2] - b[0]) ** 2 for a, b in zip(areas, placed, strict=True)):
            continue
        trial = placed + [box]
        if all(sum(_overlap(b, o) for o in trial if o is not b) <= covered_cap * (b[2] - b[0]) ** 2 for b in trial):
            placed = trial
    if len(placed) < n or not any(_overlap(a, b) for i, a in enumerate(placed) for b in placed[i + 1 :]):
        return None
    return placed


def shape_mask(shape: str, box_px: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Boolean [size, size] mask of a shape filling the pixel box (pixel centres tested)."""
    x0, y0, x1, y1 = box_px
    c = np.arange(size, dtype=np.float64) + 0.5
    xs, ys = c[None, :], c[:, None]  # [1, W], [H, 1]
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)  # [H, W]
    if shape == "square":
        return inside
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "circle":
        rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
        return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0  # [H, W]
    if shape == "triangle":
        # Apex at the top centre, base along the bottom edge.
        half = (ys - y0) / (y1 - y0) * (x1 - x0) / 2  # [H, 1]
        return inside & (np.abs(xs - cx) <= half)  # [H, W]
    raise ValueError(f"Unknown shape {shape!r}. Expected one of {SHAPES}.")


def render(scene: Scene) -> np.ndarray:
    """Render a scene to a float32 RGB image [H, W, 3] in [0, 1] (hard edges, exact palette colours)."""
    s = scene.size // scene.grid
    img = np.empty((s, s, 3), dtype=np.float32)  # [h, w, 3]
    img[:] = BACKGROUNDS[scene.background]
    for obj in scene.objects:
        box_px = (obj.box[0] * s, obj.box[1] * s, obj.box[2] * s, obj.box[3] * s)
        img[shape_mask(obj.shape, box_px, s)] = COLOURS[obj.colour]
    return img.repeat(scene.grid, 0).repeat(scene.grid, 1)  # [H, W, 3]


def sample_batch(seed: int, n: int, size: int = IMAGE_SIZE, **scene_kwargs: int) -> tuple[list[Scene], np.ndarray]:
    """Scenes and images [n, H, W, 3] drawn from one seed (same seed, same batch)."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, size=size, **scene_kwargs) for _ in range(n)]
    images = np.stack([render(sc) for sc in scenes])  # [n, H, W, 3]
    return scenes, images


def vocabulary() -> list[str]:
    """Every word a caption can contain."""
    return ["a", "and", ",", EMPTY_CAPTION] + list(COLOURS) + list(SHAPES)
