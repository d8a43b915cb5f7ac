"""LRDM: Layered Rendering Diffusion (Qi et al., arXiv 2311.18435) as a ComfyUI node pack.

Host imports happen inside comfy_entrypoint, so the folder imports cleanly outside ComfyUI too.
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    """ComfyUI's V3 entry point (comfy_api.latest): the pack's one ComfyExtension."""
    from .nodes import LRDMExtension

    return LRDMExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
