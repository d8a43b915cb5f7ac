"""Immutable, versioned layout data (LRDM_LAYOUT) and its JSON schema (METHOD.md 'Inputs').

A layout is a set of objects, each a phrase y^i and a region M^i (a normalised xyxy box, origin at
the top-left corner, or a soft mask), plus an optional background phrase. JSON carries boxes only;
masks live in memory (they come from MASK inputs).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import LayoutError, quote, user_error

LAYOUT_VERSION = 1
MAX_OBJECTS = 16
# Bounds on untrusted layout input (shared workflows, queued API prompts); checked before or while parsing.
MAX_JSON_CHARS = 100_000  # layout JSON text: 16 objects with 1 000-character phrases fit five times over
MAX_PHRASE_CHARS = 1_000  # one phrase; all phrases together must fit 75 CLIP tokens anyway (tokens.py)
MAX_TEXT_CHARS = 10_000  # background phrase and global prompt
MAX_DEPTH = 16  # [ / { nesting of layout JSON (the schema needs 3)
MAX_JSON_DICTS = 4 * MAX_OBJECTS  # JSON objects of any kind: parsing stops at the first one past this
MAX_DIGITS = 15  # digits of an integer in layout JSON
MAX_Z = 1_000_000  # |z|
MAX_CANVAS_PX = 65_536  # width / height
MAX_COLOR_CHARS = 32
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
                quote(self.phrase),
                "Type what should appear in the region, e.g. 'a red apple'.",
                LayoutError,
            )
        check_text(self.phrase, "phrase", MAX_PHRASE_CHARS)
        if self.color is not None and not (isinstance(self.color, str) and len(self.color) <= MAX_COLOR_CHARS):
            raise user_error(
                'a "color" written as text like "#e6194b"',
                quote(self.color),
                'Fix or remove the "color" of the object (it only tints the editor).',
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
        check_object_count(len(self.objects))
        check_text(self.background, "background", MAX_TEXT_CHARS)
        check_text(self.prompt, "prompt", MAX_TEXT_CHARS)

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
    if not _is_numbers(box):
        raise user_error(
            "a box of four numbers [x0, y0, x1, y1]", quote(box), f"Fix the box of {quote(phrase)}.", LayoutError
        )
    try:
        vals = tuple(float(v) for v in box)
    except OverflowError:  # an int too large for a float
        vals = (math.inf,)
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise user_error(
            "a box of four finite numbers [x0, y0, x1, y1]",
            quote(box),
            f"Fix the box of {quote(phrase)}.",
            LayoutError,
        )
    x0, y0, x1, y1 = vals
    if max(vals) > 1.0 + 1e-6 and max(vals) > 2.0:
        raise user_error(
            "normalised coordinates in [0, 1] (x0, y0, x1, y1 as fractions of width and height)",
            f"{list(vals)} for {quote(phrase)}, which look like pixels",
            'Divide by the image size, or set "units": "px" with "width" and "height" in the layout JSON.',
            LayoutError,
        )
    if x1 < x0 or y1 < y0:
        raise user_error(
            "x0 < x1 and y0 < y1 (xyxy: left, top, right, bottom)",
            f"{list(vals)} for {quote(phrase)}",
            "Swap the corners; boxes are [left, top, right, bottom], not [x, y, w, h].",
            LayoutError,
        )
    if min(vals) < -1e-6 or max(vals) > 1.0 + 1e-6:
        raise user_error(
            "a box inside the canvas, every value in [0, 1]",
            f"{list(vals)} for {quote(phrase)}",
            "Move or shrink the box so it lies on the canvas.",
            LayoutError,
        )
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise user_error(
            "a box of non-zero area",
            f"{list(vals)} for {quote(phrase)}",
            "Drag the box open, or remove it.",
            LayoutError,
        )
    return (min(max(x0, 0.0), 1.0), min(max(y0, 0.0), 1.0), min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0))


def validate_mask(mask: Any, phrase: str) -> torch.Tensor:
    """Check a soft mask: a 2-D tensor of finite values in [0, 1] with some area."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise user_error(
            "a mask of shape [H, W]", f"{shape} for {quote(phrase)}", "Pass one mask per object.", LayoutError
        )
    m = mask.detach().float()
    if not torch.isfinite(m).all():
        raise user_error(
            "finite mask values",
            f"NaN or inf in the mask of {quote(phrase)}",
            "Check the node that made the mask.",
            LayoutError,
        )
    m = m.clamp(0.0, 1.0)
    if float(m.max()) <= 0.0:
        raise user_error(
            "a mask with some area",
            f"an empty mask for {quote(phrase)}",
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
        raise user_error('an integer "version" (1)', quote(version), 'Set "version": 1.', LayoutError)
    if version > LAYOUT_VERSION:
        raise user_error(
            f"layout version <= {LAYOUT_VERSION}",
            f"version {quote(version)}",
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
        foreign = sorted(map(str, set(data) - _TOP_KEYS))
        raise user_error(
            'an "objects" list (LRDM layout schema)',
            f"keys {quote(foreign or sorted(map(str, data)))}",
            'Convert it: {"version": 1, "objects": [{"phrase": "...", '
            '"box": [x0, y0, x1, y1]}]} with boxes normalised to [0, 1].',
            LayoutError,
        )
    check_object_count(len(objects))  # before any object is built
    scale = _pixel_scale(data)
    return Layout(
        objects=tuple(_object_from_dict(o, i, scale) for i, o in enumerate(objects)),
        background=_text_field(data, "background", MAX_TEXT_CHARS),
        prompt=_text_field(data, "prompt", MAX_TEXT_CHARS),
        width=_opt_int(data.get("width")),
        height=_opt_int(data.get("height")),
        version=LAYOUT_VERSION,
    )


def layout_from_json(text: str) -> Layout:
    """Parse layout JSON text: size capped before parsing, objects and phrases while parsing, then the schema."""
    if not isinstance(text, str) or not text.strip():
        raise user_error(
            "layout JSON text",
            "an empty string" if isinstance(text, str) else type(text).__name__,
            "Draw boxes in LRDM Layout or paste layout JSON.",
            LayoutError,
        )
    if len(text) > MAX_JSON_CHARS:
        raise user_error(
            f"layout JSON of at most {MAX_JSON_CHARS} characters",
            f"{len(text)} characters",
            f"Keep at most {MAX_OBJECTS} objects with short phrases (a few words each).",
            LayoutError,
        )
    if nested_deeper(text, MAX_DEPTH):
        raise user_error(
            f"layout JSON nested at most {MAX_DEPTH} levels deep",
            "deeper nesting",
            'Write {"version": 1, "objects": [{"phrase": ..., "box": [x0, y0, x1, y1]}]}.',
            LayoutError,
        )
    try:
        data = _decode(text)
    except json.JSONDecodeError as e:
        raise user_error(
            "valid JSON",
            f"a syntax error at line {e.lineno} column {e.colno} ({e.msg})",
            "Fix the JSON text.",
            LayoutError,
        ) from None
    except RecursionError:  # not reached below MAX_DEPTH; kept so no raw error can escape
        raise user_error("shallow layout JSON", "deeper nesting", "Fix the JSON text.", LayoutError) from None
    return layout_from_dict(data)


def check_object_count(n: int) -> None:
    """At most MAX_OBJECTS objects."""
    if n > MAX_OBJECTS:
        raise user_error(f"at most {MAX_OBJECTS} objects", f"{n}", "Merge or remove objects.", LayoutError)


def check_text(text: str, what: str, limit: int) -> None:
    """A phrase, background or prompt of at most `limit` characters (quoted cut short in the message)."""
    if isinstance(text, str) and len(text) > limit:
        raise user_error(
            f"a {what} of at most {limit} characters",
            f"{len(text)} characters ({quote(text)})",
            f"Shorten the {what} to a few words.",
            LayoutError,
        )


_STRUCTURE = re.compile(r'[\[\]{}"\\]')


def nested_deeper(text: str, limit: int) -> bool:
    """Whether JSON text nests [ / { more than `limit` deep outside strings (one linear scan, no recursion)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped_at = -1
    for m in _STRUCTURE.finditer(text):
        i, ch = m.start(), m.group()
        if i == escaped_at:
            continue
        if in_string:
            if ch == "\\":
                escaped_at = i + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    """json parse_constant: Infinity and NaN are not JSON numbers."""
    raise user_error("finite numbers", name, "Write a plain number (JSON has no Infinity or NaN).", LayoutError)


def _bounded_int(digits: str) -> int:
    """json parse_int: at most MAX_DIGITS digits (no quadratic int parsing, no giant values)."""
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise user_error(
            f"numbers of at most {MAX_DIGITS} digits", f"a {len(digits)}-digit number", "Fix the number.", LayoutError
        )
    return int(digits)


def _finite_float(text: str) -> float:
    """json parse_float: a finite value (1e999 is not)."""
    value = float(text)
    if not math.isfinite(value):
        raise user_error("finite numbers", quote(text), "Write a number of normal size.", LayoutError)
    return value


def _decode(text: str) -> Any:
    """json.loads with the bounds above: JSON objects counted and phrases measured as each object closes."""
    seen = 0

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen += 1
        if seen > MAX_JSON_DICTS:
            raise user_error(
                f"at most {MAX_OBJECTS} objects",
                f"more than {MAX_JSON_DICTS} JSON objects",
                "Merge or remove objects.",
                LayoutError,
            )
        out = dict(pairs)
        phrase = out.get("phrase")
        if isinstance(phrase, str):
            check_text(phrase, "phrase", MAX_PHRASE_CHARS)
        return out

    decoder = json.JSONDecoder(
        object_pairs_hook=pairs_hook,
        parse_int=_bounded_int,
        parse_float=_finite_float,
        parse_constant=_reject_constant,
    )
    return decoder.decode(text)


def _pixel_scale(data: dict[str, Any]) -> tuple[float, float] | None:
    """(width, height) when the JSON says its boxes are in pixels."""
    if data.get("units", "normalized") in ("normalized", "normalised", None):
        return None
    if data["units"] != "px":
        raise user_error('"units" of "normalized" or "px"', quote(data["units"]), "Fix the units field.", LayoutError)
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
            f"keys {quote(sorted(map(str, obj)))}",
            'Add "box": [x0, y0, x1, y1] (normalised xyxy).'
            + (f" Unknown keys: {quote(sorted(map(str, unknown)))}." if unknown else ""),
            LayoutError,
        )
    phrase = obj.get("phrase", "")
    if isinstance(phrase, (int, float)) and not isinstance(phrase, bool):
        phrase = str(phrase)  # a number typed as a phrase ("7") is still words
    box = obj["box"]
    if scale is not None and _is_numbers(box) and len(box) == 4:
        w, h = scale
        box = [box[0] / w, box[1] / h, box[2] / w, box[3] / h]
    return LayoutObject(
        phrase=phrase,
        box=box,
        z=_opt_z(obj.get("z"), index),
        locked=bool(obj.get("locked", False)),
        color=obj.get("color"),
    )


def _is_numbers(values: Any) -> bool:
    """A list or tuple of real numbers (not strings, not booleans)."""
    return isinstance(values, (list, tuple)) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
    )


def _opt_z(z: Any, index: int) -> int | None:
    """An object's optional stacking order: a finite number within +-MAX_Z, truncated to an integer."""
    if z is None:
        return None
    if not isinstance(z, (int, float)) or isinstance(z, bool) or not math.isfinite(z) or abs(z) > MAX_Z:
        raise user_error(
            f'"z" of object {index} to be a number between {-MAX_Z} and {MAX_Z}',
            quote(z),
            'Use small integers for "z" (higher is on top), or remove it.',
            LayoutError,
        )
    return int(z)


def _text_field(data: dict[str, Any], key: str, limit: int) -> str:
    """An optional top-level text field (background, prompt): a string of at most `limit` characters."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise user_error(f'"{key}" to be text', quote(value), f'Write "{key}" as a string, or remove it.', LayoutError)
    check_text(value, key, limit)
    return value


def _opt_int(v: Any) -> int | None:
    """An optional positive integer field (canvas width or height in pixels)."""
    if v is None or v == "":
        return None
    try:
        i = int(v)
    except (TypeError, ValueError, OverflowError):
        raise user_error("an integer size", quote(v), "Fix width/height.", LayoutError) from None
    if i > MAX_CANVAS_PX:
        raise user_error(f"a size of at most {MAX_CANVAS_PX} pixels", quote(v), "Fix width/height.", LayoutError)
    return i if i > 0 else None
