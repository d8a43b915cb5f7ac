"""Layout nodes: LRDM_LAYOUT from JSON, and a preview image of the regions."""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..lrdm_core.errors import LRDMError
from ..lrdm_core.layout import Layout, layout_from_json
from ..lrdm_core.preview import draw_regions
from .params import LAYOUT

EXAMPLE = (
    '{"version": 1, "objects": [{"phrase": "a red apple", "box": [0.1, 0.3, 0.45, 0.8]}, '
    '{"phrase": "a blue cup", "box": [0.55, 0.25, 0.9, 0.8]}]}'
)


class LayoutFromJSON(io.ComfyNode):
    """LRDM_LAYOUT from layout JSON text (schema in the README)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_LayoutFromJSON",
            display_name="LRDM Layout from JSON",
            category="lrdm/layout",
            description='Parses layout JSON ({"version": 1, "objects": [{"phrase", "box": [x0, y0, x1, y1]}]}, '
            "boxes normalised to [0, 1], origin top-left) into an LRDM layout. Text from an LLM or a "
            "dataset line works too.",
            inputs=[
                io.String.Input(
                    "json",
                    multiline=True,
                    default=EXAMPLE,
                    tooltip="Layout JSON: objects with a phrase and a normalised xyxy box; optional "
                    '"background" phrase. See the README for the schema.',
                )
            ],
            outputs=[LAYOUT.Output(display_name="layout")],
        )

    @classmethod
    def validate_inputs(cls, json: str) -> bool | str:
        try:
            layout_from_json(json)
        except LRDMError as e:
            return f"LRDM layout JSON: {e}"
        return True

    @classmethod
    def execute(cls, json: str) -> io.NodeOutput:
        return io.NodeOutput(layout_from_json(json))


class LayoutPreview(io.ComfyNode):
    """An IMAGE of the layout's regions, coloured and numbered, optionally over an image."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_LayoutPreview",
            display_name="LRDM Layout Preview",
            category="lrdm/layout",
            description="Draws each object's region in its own colour (outline and light fill) over a plain canvas "
            "or over an image, to check a layout before sampling.",
            inputs=[
                LAYOUT.Input("layout", tooltip="The layout to draw."),
                io.Int.Input(
                    "width",
                    default=512,
                    min=16,
                    max=8192,
                    step=8,
                    tooltip="Canvas width in pixels when no image is given.",
                ),
                io.Int.Input(
                    "height",
                    default=512,
                    min=16,
                    max=8192,
                    step=8,
                    tooltip="Canvas height in pixels when no image is given.",
                ),
                io.Image.Input("image", optional=True, tooltip="Optional image to draw over (its size is used)."),
            ],
            outputs=[io.Image.Output(display_name="preview")],
        )

    @classmethod
    def execute(cls, layout: Layout, width: int, height: int, image: torch.Tensor | None = None) -> io.NodeOutput:
        base = image[:1] if image is not None else torch.full((1, height, width, 3), 0.92)  # [1, H, W, 3]
        return io.NodeOutput(draw_regions(layout, base))
