"""Thin ComfyUI V3 nodes over lrdm_core; every node id is prefixed LRDM_."""

from comfy_api.latest import ComfyExtension, io

from .layout_nodes import LayoutFromJSON, LayoutPreview
from .patch_nodes import ApplyLayout, Guider
from .sampler_node import Sampler
from .stage_nodes import CaptureAttention

NODE_LIST: list[type[io.ComfyNode]] = [
    Sampler,
    ApplyLayout,
    Guider,
    CaptureAttention,
    LayoutFromJSON,
    LayoutPreview,
]


class LRDMExtension(ComfyExtension):
    """The pack's one extension: registers every LRDM_ node."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODE_LIST)
