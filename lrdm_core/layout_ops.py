"""Layouts from other sources and combined layouts: masks + phrases, pixel boxes, several layouts in one.

Conventions at this boundary: masks are [H, W] tensors in [0, 1] (one per object); pixel boxes are
ComfyUI's BOUNDING_BOX dicts {x, y, width, height} (pixels, origin top-left, xywh); layout boxes are
normalised xyxy. Every failure is a LayoutError that says what to change.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

from .errors import LayoutError, quote, user_error
from .layout import MAX_OBJECTS, MAX_PHRASE_CHARS, Layout, LayoutObject, check_object_count, check_text


def split_phrases(text: str) -> list[str]:
    """One phrase per line; blank lines and surrounding spaces are dropped (text capped before splitting)."""
    check_text(text or "", "phrases text", MAX_OBJECTS * (MAX_PHRASE_CHARS + 1))
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def mask_list(masks: torch.Tensor | None) -> list[torch.Tensor]:
    """A MASK input ([B, H, W] or [H, W]) as a list of [H, W] masks; None gives []."""
    if masks is None:
        return []
    if not isinstance(masks, torch.Tensor) or masks.dim() not in (2, 3):
        shape = tuple(masks.shape) if isinstance(masks, torch.Tensor) else type(masks).__name__
        raise user_error(
            "a MASK of shape [B, H, W] or [H, W]",
            f"{shape}",
            "Connect a MASK output (LoadImage's mask, a segmentation node).",
            LayoutError,
        )
    return list(masks) if masks.dim() == 3 else [masks]  # [B, H, W] -> B x [H, W]


def check_mask_sizes(masks: Sequence[torch.Tensor], what: str = "mask") -> None:
    """All masks must share the first one's size: regions drawn on different canvases do not line up."""
    if not masks:
        return
    h, w = masks[0].shape[-2:]
    for i, m in enumerate(masks[1:], start=2):
        hm, wm = m.shape[-2:]
        if (hm, wm) != (h, w):
            raise user_error(
                f"every {what} of the size of the first one, {w}x{h}",
                f"{wm}x{hm} for {what} {i}",
                "Resize the masks to one canvas size (e.g. with an image/mask resize node) before building the layout.",
                LayoutError,
            )


def layout_from_masks(masks: Sequence[torch.Tensor], phrases: Sequence[str], background: str = "") -> Layout:
    """One object per mask ([H, W] in [0, 1]) with the phrase of the same index."""
    if not masks:
        raise user_error("at least one mask", "none", "Connect a MASK (a batch, or mask_1 ...).", LayoutError)
    if len(phrases) != len(masks):
        raise user_error(
            f"one phrase per mask ({len(masks)} phrases, one per line)",
            f"{len(phrases)} phrase(s)",
            "Write one line per mask, in the order of the masks (batch first, then mask_1, mask_2, ...); "
            "each mask of a MASK batch is one object, not one image of the latent batch.",
            LayoutError,
        )
    check_mask_sizes(masks)
    objs = tuple(LayoutObject(phrase=p, mask=m.detach().float().cpu()) for p, m in zip(phrases, masks, strict=True))
    h, w = masks[0].shape[-2:]
    return Layout(objects=objs, background=background.strip(), width=int(w), height=int(h))


def combine_layouts(layouts: Sequence[Layout], background: str = "") -> Layout:
    """The objects of several layouts in order; background: the argument, else the first one's that is set."""
    layouts = [lay for lay in layouts if lay is not None]
    if not layouts:
        raise user_error("at least one layout", "none", "Connect a layout to layout_a.", LayoutError)
    objects = tuple(o for lay in layouts for o in lay.objects)
    if len(objects) > MAX_OBJECTS:
        raise user_error(
            f"at most {MAX_OBJECTS} objects in the combined layout",
            f"{len(objects)}",
            "Combine fewer layouts or remove objects.",
            LayoutError,
        )
    check_mask_sizes([o.mask for o in objects if o.mask is not None], what="object mask")
    bg = background.strip() or next((lay.background for lay in layouts if lay.background), "")
    prompt = next((lay.prompt for lay in layouts if lay.prompt), "")
    width = next((lay.width for lay in layouts if lay.width), None)
    height = next((lay.height for lay in layouts if lay.height), None)
    return Layout(objects=objects, background=bg, prompt=prompt, width=width, height=height)


def flatten_pixel_boxes(value: Any, frame: int = 0) -> list[dict]:
    """ComfyUI box values as one list of dicts: a box, a list of boxes, or per-frame lists -> `frame`."""
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise user_error(
            "bounding boxes (a BOUNDING_BOX or BOUNDING_BOXES value)",
            quote(value),
            "Draw boxes in CreateBoundingBoxes and connect its bboxes output.",
            LayoutError,
        )
    if all(isinstance(b, dict) for b in value):
        return list(value)
    if all(isinstance(f, (list, tuple)) for f in value):  # per-frame lists
        if not 0 <= frame < len(value):
            raise user_error(f"a frame index below {len(value)}", f"{frame}", "Lower the frame input.", LayoutError)
        boxes = list(value[frame])
        if not boxes:
            raise user_error(
                "at least one box",
                f"an empty frame {frame}",
                "Draw a box in CreateBoundingBoxes.",
                LayoutError,
            )
        return flatten_pixel_boxes(boxes)
    raise user_error(
        "a list of boxes {x, y, width, height}",
        quote(value),
        "Connect CreateBoundingBoxes' bboxes output.",
        LayoutError,
    )


def layout_from_pixel_boxes(
    boxes: Sequence[Any], width: int, height: int, phrases: Sequence[str] = (), background: str = ""
) -> Layout:
    """Pixel xywh boxes on a width x height canvas -> normalised xyxy objects.

    Each box's phrase is its metadata's "desc" (or "text"), else the phrase of the same index.
    """
    if width <= 0 or height <= 0:
        raise user_error(
            "a canvas width and height > 0",
            f"{width}x{height}",
            "Set width/height to the canvas size the boxes were drawn on.",
            LayoutError,
        )
    check_object_count(len(boxes))  # before any box is read
    objs = []
    for i, box in enumerate(boxes):
        if not isinstance(box, dict) or not all(k in box for k in ("x", "y", "width", "height")):
            raise user_error(
                f"box {i + 1} as {{x, y, width, height}} in pixels",
                quote(box),
                "Connect CreateBoundingBoxes' bboxes output.",
                LayoutError,
            )
        raw = [box[k] for k in ("x", "y", "width", "height")]
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw):
            raise user_error(f"numbers for box {i + 1}", quote(box), "Redraw the box.", LayoutError)
        try:
            x, y, bw, bh = (float(v) for v in raw)
        except OverflowError:  # an int too large for a float
            x = y = bw = bh = math.inf
        if not all(math.isfinite(v) for v in (x, y, bw, bh)):
            raise user_error(f"finite numbers for box {i + 1}", quote(box), "Redraw the box.", LayoutError)
        meta = box.get("metadata") if isinstance(box.get("metadata"), dict) else {}
        desc = meta.get("desc") or meta.get("text") or ""
        phrase = desc.strip() if isinstance(desc, str) else ""
        if not phrase and i < len(phrases):
            phrase = phrases[i]
        if not phrase:
            raise user_error(
                f"a phrase for box {i + 1}",
                "no desc in the box and no line for it in phrases",
                "Type the box's description in CreateBoundingBoxes, or one line per box in phrases.",
                LayoutError,
            )
        if min(x, y) < -1 or x + bw > width * 1.001 + 1 or y + bh > height * 1.001 + 1:
            raise user_error(
                f"box {i + 1} inside the {width}x{height} px canvas",
                f"x={x:g}, y={y:g}, width={bw:g}, height={bh:g}",
                "Set width/height to the size used in CreateBoundingBoxes.",
                LayoutError,
            )
        xyxy = [x / width, y / height, (x + bw) / width, (y + bh) / height]
        objs.append(LayoutObject(phrase=phrase, box=tuple(min(max(v, 0.0), 1.0) for v in xyxy)))
    if not objs:
        raise user_error("at least one box", "none", "Draw a box in CreateBoundingBoxes.", LayoutError)
    return Layout(objects=tuple(objs), background=background.strip(), width=width, height=height)
