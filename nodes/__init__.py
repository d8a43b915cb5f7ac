"""Thin ComfyUI V3 nodes over lrdm_core; every node id is prefixed LRDM_."""

from comfy_api.latest import ComfyExtension, io

from .layout_editor import LayoutEditor
from .layout_nodes import LayoutFromJSON, LayoutPreview
from .layout_ops import LayoutCombine, LayoutFromBoundingBoxes, LayoutFromMasks, host_box_types
from .patch_nodes import ApplyLayout, Guider
from .sampler_node import Sampler
from .stage_nodes import CaptureAttention
from .toy_loader import TOY_NODES

NODE_LIST: list[type[io.ComfyNode]] = [
    Sampler,
    ApplyLayout,
    Guider,
    CaptureAttention,
    LayoutEditor,
    LayoutFromJSON,
    LayoutFromMasks,
    LayoutCombine,
    LayoutPreview,
    *TOY_NODES,
]
if host_box_types():  # ComfyUI with BOUNDING_BOX(ES) (CreateBoundingBoxes); 0.3.75 has neither
    NODE_LIST.append(LayoutFromBoundingBoxes)


class LRDMExtension(ComfyExtension):
    """The pack's one extension: registers every LRDM_ node."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODE_LIST)
