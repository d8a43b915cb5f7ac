"""Layouts from masks and from ComfyUI's bounding boxes, and several layouts combined into one."""

from __future__ import annotations

import logging

import torch
from comfy_api.latest import io

from ..lrdm_core.layout import MAX_OBJECTS, Layout
from ..lrdm_core.layout_ops import (
    combine_layouts,
    element_phrases,
    flatten_pixel_boxes,
    layout_from_masks,
    layout_from_pixel_boxes,
    mask_list,
    split_phrases,
)
from .params import LAYOUT

log = logging.getLogger("lrdm.nodes.layout_ops")

N_SINGLE_MASKS = 4
BOX_TYPE_NAMES = ("BoundingBox", "BoundingBoxes")  # comfy_api io types of newer ComfyUI (CreateBoundingBoxes)


class LayoutFromMasks(io.ComfyNode):
    """LRDM_LAYOUT with one object per mask (a MASK batch and/or single masks) and one phrase per line."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        singles = [
            io.Mask.Input(
                f"mask_{i}",
                optional=True,
                tooltip=f"Optional single mask for object {i} after the batch (painted area = 1).",
            )
            for i in range(1, N_SINGLE_MASKS + 1)
        ]
        return io.Schema(
            node_id="LRDM_LayoutFromMasks",
            display_name="LRDM Layout from Masks",
            category="lrdm/layout",
            description="Builds a layout from masks (the mask editor, Load Image's mask, segmentation "
            "nodes): the masks of the batch in order, then mask_1..mask_4, each paired with "
            "the phrase on the same line. All masks must have one size; soft masks stay soft.",
            inputs=[
                io.String.Input(
                    "phrases",
                    multiline=True,
                    default="",
                    tooltip="One phrase per line, one line per mask, in mask order (batch first).",
                ),
                io.Mask.Input("masks", optional=True, tooltip="A MASK batch [B, H, W]: one object per mask."),
                *singles,
                io.String.Input(
                    "background", default="", optional=True, tooltip="Optional phrase for everything outside the masks."
                ),
            ],
            outputs=[LAYOUT.Output(display_name="layout")],
        )

    @classmethod
    def execute(
        cls, phrases: str, masks: torch.Tensor | None = None, background: str = "", **singles: torch.Tensor | None
    ) -> io.NodeOutput:
        all_masks = mask_list(masks)
        for i in range(1, N_SINGLE_MASKS + 1):
            all_masks += mask_list(singles.get(f"mask_{i}"))
        layout = layout_from_masks(all_masks, split_phrases(phrases), background or "")
        log.debug("LRDM_LayoutFromMasks: %d objects", len(layout.objects))
        return io.NodeOutput(layout)


class LayoutCombine(io.ComfyNode):
    """One layout with the objects of up to four layouts, in input order."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_LayoutCombine",
            display_name="LRDM Layout Combine",
            category="lrdm/layout",
            description=f"Merges layouts (drawn boxes, masks, JSON) into one: the objects of layout_a, then "
            f"b, c, d, each keeping its z-order; at most {MAX_OBJECTS} objects in all.",
            inputs=[
                LAYOUT.Input("layout_a", tooltip="First layout; its background phrase is used unless overridden."),
                LAYOUT.Input("layout_b", optional=True, tooltip="Second layout (objects appended)."),
                LAYOUT.Input("layout_c", optional=True, tooltip="Third layout (objects appended)."),
                LAYOUT.Input("layout_d", optional=True, tooltip="Fourth layout (objects appended)."),
                io.String.Input(
                    "background",
                    default="",
                    optional=True,
                    tooltip="Background phrase of the result; empty = the first layout's that has one.",
                ),
            ],
            outputs=[LAYOUT.Output(display_name="layout")],
        )

    @classmethod
    def execute(
        cls,
        layout_a: Layout,
        layout_b: Layout | None = None,
        layout_c: Layout | None = None,
        layout_d: Layout | None = None,
        background: str = "",
    ) -> io.NodeOutput:
        return io.NodeOutput(combine_layouts([layout_a, layout_b, layout_c, layout_d], background or ""))


def host_box_types() -> list[type]:
    """The host's BOUNDING_BOX / BOUNDING_BOXES io types (newer ComfyUI); [] on hosts without them."""
    return [getattr(io, name) for name in BOX_TYPE_NAMES if hasattr(io, name)]


def _array_input(name: str, **kwargs: object) -> io.Input:
    """An ARRAY input (io.Array on hosts that have it, as CreateBoundingBoxes' elements output)."""
    array = getattr(io, "Array", None) or io.Custom("ARRAY")
    return array.Input(name, **kwargs)


class LayoutFromBoundingBoxes(io.ComfyNode):
    """LRDM_LAYOUT from ComfyUI's pixel boxes (CreateBoundingBoxes); registered only on hosts with them."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        io_type = ",".join(t.io_type for t in host_box_types()) or "BOUNDING_BOX"
        return io.Schema(
            node_id="LRDM_LayoutFromBoundingBoxes",
            display_name="LRDM Layout from Bounding Boxes",
            category="lrdm/layout",
            description="Converts ComfyUI's pixel bounding boxes ({x, y, width, height} on a width x height "
            "canvas, e.g. from Create Bounding Boxes) into an LRDM layout; a box's phrase is "
            "its description (in the box or in Create Bounding Boxes' elements output), else the "
            "line of the same index in phrases.",
            inputs=[
                io.Custom(io_type).Input(
                    "bboxes",
                    tooltip="BOUNDING_BOX / BOUNDING_BOXES: pixel boxes, a list of them, or one list per frame.",
                ),
                _array_input(
                    "elements",
                    optional=True,
                    tooltip="Create Bounding Boxes' elements output (optional): each box's desc/text "
                    "becomes its phrase, in box order.",
                ),
                io.Int.Input(
                    "width",
                    default=1024,
                    min=1,
                    max=16384,
                    tooltip="Width in pixels of the canvas the boxes were drawn on.",
                ),
                io.Int.Input(
                    "height",
                    default=1024,
                    min=1,
                    max=16384,
                    tooltip="Height in pixels of the canvas the boxes were drawn on.",
                ),
                io.String.Input(
                    "phrases",
                    multiline=True,
                    default="",
                    tooltip="One phrase per line for boxes without a description, in box order.",
                ),
                io.String.Input("background", default="", tooltip="Optional phrase for everything outside the boxes."),
                io.Int.Input(
                    "frame",
                    default=0,
                    min=0,
                    max=4096,
                    tooltip="Which frame's boxes to use when the input holds one list per frame.",
                ),
            ],
            outputs=[LAYOUT.Output(display_name="layout")],
        )

    @classmethod
    def execute(
        cls,
        bboxes: object,
        width: int,
        height: int,
        phrases: str = "",
        background: str = "",
        frame: int = 0,
        elements: list | None = None,
    ) -> io.NodeOutput:
        boxes = flatten_pixel_boxes(bboxes, frame)
        per_box = element_phrases(elements, split_phrases(phrases))
        layout = layout_from_pixel_boxes(boxes, width, height, per_box, background)
        return io.NodeOutput(layout)
