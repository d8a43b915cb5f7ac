"""LRDM_Layout: a layout drawn in the node's canvas editor (web/js/layout_editor/), kept as widget JSON.

The editor writes the versioned layout JSON into the real `layout_json` STRING widget, so saved
workflows, copy/paste, undo and API-format prompts all carry the boxes. The node never reads the
saved workflow (extra_pnginfo): what the prompt carries is what was drawn.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import torch
from comfy_api.latest import io, ui

from ..lrdm_core.errors import LRDMError
from ..lrdm_core.layout import LAYOUT_VERSION, Layout, layout_from_json
from .params import LAYOUT

log = logging.getLogger("lrdm.nodes.layout_editor")

EMPTY_JSON = f'{{"version": {LAYOUT_VERSION}, "objects": []}}'
UI_LAYOUT = "lrdm_layout"  # ui key: the layout as the server parsed it (editor sync, tests)
UI_BACKGROUND = "lrdm_background"  # ui key: the optional image, saved to temp, drawn behind the boxes


class LayoutEditor(io.ComfyNode):
    """A layout drawn by hand: boxes with phrases, z-order and locks, on a canvas of the image's aspect."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_Layout",
            display_name="LRDM Layout",
            category="lrdm/layout",
            description="Draw the layout: drag on the canvas to add a box, type its phrase, move and resize "
            "it by its handles; z-order decides which box wins where boxes overlap. The boxes "
            "are stored as versioned JSON in the layout_json widget (normalised xyxy, origin "
            "top-left).",
            inputs=[
                io.String.Input(
                    "layout_json",
                    multiline=True,
                    default=EMPTY_JSON,
                    tooltip='The editor\'s state: {"version": 1, "objects": [{"phrase", '
                    '"box": [x0, y0, x1, y1]}]}, boxes normalised to [0, 1]. Written '
                    "by the canvas; the JSON button shows it for pasting or fixing.",
                ),
                io.Int.Input(
                    "width",
                    default=512,
                    min=64,
                    max=8192,
                    step=8,
                    tooltip="Width in pixels of the image the layout is for (sets the canvas aspect).",
                ),
                io.Int.Input(
                    "height",
                    default=512,
                    min=64,
                    max=8192,
                    step=8,
                    tooltip="Height in pixels of the image the layout is for (sets the canvas aspect).",
                ),
                io.String.Input(
                    "background",
                    default="",
                    tooltip="Optional phrase for everything outside the boxes (e.g. 'a wooden "
                    "table'); overrides a background stored in the JSON.",
                ),
                io.Image.Input(
                    "image",
                    optional=True,
                    tooltip="Optional image to draw over (a reference, or an earlier output "
                    "loaded with Load Image); shown behind the boxes.",
                ),
            ],
            outputs=[LAYOUT.Output(display_name="layout")],
        )

    @classmethod
    def validate_inputs(cls, layout_json: str | None = None) -> bool | str:
        if layout_json is None:  # linked from another node: checked when it runs
            return True
        try:
            layout_from_json(layout_json)
        except LRDMError as e:
            return f"LRDM Layout: {e}"
        return True

    @classmethod
    def execute(
        cls, layout_json: str, width: int, height: int, background: str = "", image: torch.Tensor | None = None
    ) -> io.NodeOutput:
        layout = with_canvas(layout_from_json(layout_json), width, height, background)
        shown: dict[str, list] = {UI_LAYOUT: [layout.to_dict()]}
        if image is not None:  # [B, H, W, 3] -> the first image as a temp PNG
            shown[UI_BACKGROUND] = list(ui.PreviewImage(image[:1], cls=cls).values)
        log.debug("LRDM_Layout: %d objects", len(layout.objects))
        return io.NodeOutput(layout, ui=shown)


def with_canvas(layout: Layout, width: int, height: int, background: str = "") -> Layout:
    """The layout with the node's canvas size and, if given, its background phrase."""
    return replace(layout, width=int(width), height=int(height), background=background.strip() or layout.background)
