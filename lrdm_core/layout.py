"""Immutable, versioned layout data (LRDM_LAYOUT) and its JSON schema (METHOD.md 'Inputs').

A layout is a set of objects, each a phrase y^i and a region M^i (a normalised xyxy box, origin at
the top-left corner, or a soft mask), plus an optional background phrase. JSON carries boxes only;
masks live in memory (they come from MASK inputs).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import LayoutError, user_error

LAYOUT_VERSION = 1
MAX_OBJECTS = 16
_OBJECT_KEYS = {"phrase", "box", "z", "locked", "color"}
_TOP_KEYS = {"version", "objects", "background", "width", "height", "prompt", "units"}

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayoutObject:
    """One object: a phrase and its region, a normalised xyxy `box` and/or a soft `mask` [H, W]."""

    phrase: str
    box: Box | None = None  # normalised xyxy in [0, 1], origin top-left
    mask: torch.Tensor | None = field(default=None, compare=False, repr=False)  # [H, W] in [0, 1]
    z: int | None = None  # explicit stacking order (higher on top); None = smaller regions on top
    locked: bool = False  # editor state only
    color: str | None = None  # editor state only

    def __post_init__(self) -> None:
        if not isinstance(self.phrase, str) or not self.phrase.strip():
            raise user_error(
                "a non-empty phrase for every object",
                repr(self.phrase),
                "Type what should appear in the region, e.g. 'a red apple'.",
                LayoutError,
            )
        if self.box is None and self.mask is None:
            raise user_error("a box or a mask", "neither", "Give the object a region.", LayoutError)
        if self.box is not None:
            object.__setattr__(self, "box", validate_box(self.box, self.phrase))
        if self.mask is not None:
            object.__setattr__(self, "mask", validate_mask(self.mask, self.phrase))

    def region_area(self) -> float:
        """Area of the region as a fraction of the canvas (box area, or mean mask value)."""
        if self.mask is not None:
            return float(self.mask.float().mean())
        x0, y0, x1, y1 = self.box  # type: ignore[misc]
        return (x1 - x0) * (y1 - y0)


@dataclass(frozen=True)
class Layout:
    """A versioned, immutable layout: objects, optional background phrase and global prompt."""

    objects: tuple[LayoutObject, ...]
    background: str = ""
    prompt: str = ""  # optional global caption carried with the layout (bench files, LLM output)
    width: int | None = None  # canvas size in pixels, editor/preview only
    height: int | None = None
    version: int = LAYOUT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        if not self.objects:
            raise user_error(
                "at least one object",
                "an empty layout",
                "Draw a box (or add an object to the JSON) before sampling.",
                LayoutError,
            )
        if len(self.objects) > MAX_OBJECTS:
            raise user_error(
                f"at most {MAX_OBJECTS} objects",
                f"{len(self.objects)}",
                "Merge or remove objects.",
                LayoutError,
            )

    def phrases(self) -> list[str]:
        """The objects' phrases in layout order."""
        return [o.phrase for o in self.objects]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the schema (masks are not serialised)."""
        objs = []
        for o in self.objects:
            if o.box is None:
                raise user_error(
                    "objects with boxes",
                    f"a mask-only object {o.phrase!r}",
                    "Masks cannot be written to layout JSON; keep them as MASK inputs.",
                    LayoutError,
                )
            d: dict[str, Any] = {"phrase": o.phrase, "box": [round(v, 6) for v in o.box]}
            if o.z is not None:
                d["z"] = o.z
            if o.locked:
                d["locked"] = True
            if o.color:
                d["color"] = o.color
            objs.append(d)
        out: dict[str, Any] = {"version": self.version, "objects": objs}
        for key in ("background", "prompt", "width", "height"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    def to_json(self) -> str:
        """Serialise to the versioned JSON schema."""
        return json.dumps(self.to_dict())


def validate_box(box: Any, phrase: str) -> Box:
    """Check a normalised xyxy box: four finite numbers, 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1."""
    try:
        vals = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise user_error(
            "a box of four numbers [x0, y0, x1, y1]", repr(box), f"Fix the box of {phrase!r}.", LayoutError
        ) from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise user_error(
            "a box of four finite numbers [x0, y0, x1, y1]",
            repr(box),
            f"Fix the box of {phrase!r}.",
            LayoutError,
        )
    x0, y0, x1, y1 = vals
    if max(vals) > 1.0 + 1e-6 and max(vals) > 2.0:
        raise user_error(
            "normalised coordinates in [0, 1] (x0, y0, x1, y1 as fractions of width and height)",
            f"{list(vals)} for {phrase!r}, which look like pixels",
            'Divide by the image size, or set "units": "px" with "width" and "height" in the layout JSON.',
            LayoutError,
        )
    if x1 < x0 or y1 < y0:
        raise user_error(
            "x0 < x1 and y0 < y1 (xyxy: left, top, right, bottom)",
            f"{list(vals)} for {phrase!r}",
            "Swap the corners; boxes are [left, top, right, bottom], not [x, y, w, h].",
            LayoutError,
        )
    if min(vals) < -1e-6 or max(vals) > 1.0 + 1e-6:
        raise user_error(
            "a box inside the canvas, every value in [0, 1]",
            f"{list(vals)} for {phrase!r}",
            "Move or shrink the box so it lies on the canvas.",
            LayoutError,
        )
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise user_error(
            "a box of non-zero area",
            f"{list(vals)} for {phrase!r}",
            "Drag the box open, or remove it.",
            LayoutError,
        )
    return (min(max(x0, 0.0), 1.0), min(max(y0, 0.0), 1.0), min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0))


def validate_mask(mask: Any, phrase: str) -> torch.Tensor:
    """Check a soft mask: a 2-D tensor of finite values in [0, 1] with some area."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise user_error("a mask of shape [H, W]", f"{shape} for {phrase!r}", "Pass one mask per object.", LayoutError)
    m = mask.detach().float()
    if not torch.isfinite(m).all():
        raise user_error(
            "finite mask values",
            f"NaN or inf in the mask of {phrase!r}",
            "Check the node that made the mask.",
            LayoutError,
        )
    m = m.clamp(0.0, 1.0)
    if float(m.max()) <= 0.0:
        raise user_error(
            "a mask with some area",
            f"an empty mask for {phrase!r}",
            "Paint the region, or remove the object.",
            LayoutError,
        )
    return m


def layout_from_dict(data: Any) -> Layout:
    """Parse the versioned layout schema (also a bare list of objects, or a bench-file line)."""
    if isinstance(data, list):
        data = {"objects": data}
    if not isinstance(data, dict):
        raise user_error(
            'a JSON object with an "objects" list',
            type(data).__name__,
            "See the README's layout schema.",
            LayoutError,
        )
    version = data.get("version", LAYOUT_VERSION)
    if isinstance(version, float) and version.is_integer():  # JSON numbers have no int/float distinction
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise user_error('an integer "version" (1)', repr(version), 'Set "version": 1.', LayoutError)
    if version > LAYOUT_VERSION:
        raise user_error(
            f"layout version <= {LAYOUT_VERSION}",
            f"version {version}",
            "This layout was made by a newer LRDM; update the pack.",
            LayoutError,
        )
    objects = data.get("objects")
    if objects is not None and not isinstance(objects, list):
        raise user_error(
            '"objects" to be a list of {"phrase": ..., "box": [x0, y0, x1, y1]} objects',
            type(objects).__name__,
            'Wrap the objects in [ ], e.g. "objects": [{"phrase": "a cat", "box": [0.1, 0.1, 0.5, 0.5]}].',
            LayoutError,
        )
    if not isinstance(objects, list):
        foreign = sorted(set(data) - _TOP_KEYS)
        raise user_error(
            'an "objects" list (LRDM layout schema)',
            f"keys {foreign or sorted(data)}",
            'Convert it: {"version": 1, "objects": [{"phrase": "...", '
            '"box": [x0, y0, x1, y1]}]} with boxes normalised to [0, 1].',
            LayoutError,
        )
    scale = _pixel_scale(data)
    return Layout(
        objects=tuple(_object_from_dict(o, i, scale) for i, o in enumerate(objects)),
        background=str(data.get("background") or ""),
        prompt=str(data.get("prompt") or ""),
        width=_opt_int(data.get("width")),
        height=_opt_int(data.get("height")),
        version=LAYOUT_VERSION,
    )


def layout_from_json(text: str) -> Layout:
    """Parse layout JSON text; malformed JSON is reported with its position."""
    if not isinstance(text, str) or not text.strip():
        raise user_error(
            "layout JSON text",
            "an empty string",
            "Draw boxes in LRDM Layout or paste layout JSON.",
            LayoutError,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise user_error(
            "valid JSON",
            f"a syntax error at line {e.lineno} column {e.colno} ({e.msg})",
            "Fix the JSON text.",
            LayoutError,
        ) from None
    return layout_from_dict(data)


def _pixel_scale(data: dict[str, Any]) -> tuple[float, float] | None:
    """(width, height) when the JSON says its boxes are in pixels."""
    if data.get("units", "normalized") in ("normalized", "normalised", None):
        return None
    if data["units"] != "px":
        raise user_error('"units" of "normalized" or "px"', repr(data["units"]), "Fix the units field.", LayoutError)
    w, h = _opt_int(data.get("width")), _opt_int(data.get("height"))
    if not w or not h:
        raise user_error(
            '"width" and "height" with "units": "px"',
            f"width={w}, height={h}",
            "Give the canvas size in pixels.",
            LayoutError,
        )
    return float(w), float(h)


def _object_from_dict(obj: Any, index: int, scale: tuple[float, float] | None) -> LayoutObject:
    """One object of the schema."""
    if not isinstance(obj, dict):
        raise user_error(
            f"object {index} to be a JSON object",
            type(obj).__name__,
            'Write objects as {"phrase": ..., "box": [...]}',
            LayoutError,
        )
    unknown = set(obj) - _OBJECT_KEYS
    if "box" not in obj:
        raise user_error(
            f'a "box" for object {index}',
            f"keys {sorted(obj)}",
            'Add "box": [x0, y0, x1, y1] (normalised xyxy).'
            + (f" Unknown keys: {sorted(unknown)}." if unknown else ""),
            LayoutError,
        )
    box = obj["box"]
    if scale is not None and isinstance(box, (list, tuple)) and len(box) == 4:
        w, h = scale
        box = [box[0] / w, box[1] / h, box[2] / w, box[3] / h]
    z = obj.get("z")
    return LayoutObject(
        phrase=str(obj.get("phrase", "")),
        box=box,
        z=int(z) if isinstance(z, (int, float)) else None,
        locked=bool(obj.get("locked", False)),
        color=obj.get("color"),
    )


def _opt_int(v: Any) -> int | None:
    """An optional positive integer field."""
    if v is None or v == "":
        return None
    try:
        i = int(v)
    except (TypeError, ValueError):
        raise user_error("an integer size", repr(v), "Fix width/height.", LayoutError) from None
    return i if i > 0 else None
