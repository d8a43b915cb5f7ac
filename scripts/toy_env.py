"""Dev-only setup for the toy scripts: ComfyUI on sys.path, torchvision workaround, the pack as a package."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# $COMFYUI_PATH, else the test host's tree (make host): never a fixed path in the shared temp folder.
DEFAULT_COMFY = os.environ.get("COMFYUI_PATH") or os.path.join(REPO, ".host", "ComfyUI")
PACK_NAME = "lrdm_pack"


def _torchvision_shim() -> None:
    """Define torchvision's nms/qnms schemas when its compiled ops are missing (CPU torch, CUDA wheel)."""
    if "_lrdm_tvshim" in sys.modules:  # the test venv's import hook already handles it
        return
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _torchvision_shim.lib = lib  # type: ignore[attr-defined]  # keep the library alive


def setup_comfy(comfy_path: str = DEFAULT_COMFY, pytorch_attention: bool = True) -> None:
    """Make `import comfy` work from a script (no server): path, argv-free args, torchvision shim."""
    if comfy_path not in sys.path:
        sys.path.insert(0, comfy_path)
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import comfy.cli_args
    finally:
        sys.argv = argv
    comfy.cli_args.args.cpu = True
    comfy.cli_args.args.use_pytorch_cross_attention = pytorch_attention
    _torchvision_shim()
    import comfy.model_management  # noqa: F401  # after the args are set


def import_toy_model() -> ModuleType:
    """Import nodes/toy_model.py as lrdm_pack.nodes.toy_model without running the pack's top __init__."""
    if PACK_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACK_NAME, os.path.join(REPO, "__init__.py"), submodule_search_locations=[REPO]
        )
        assert spec is not None
        sys.modules[PACK_NAME] = importlib.util.module_from_spec(spec)
    return importlib.import_module(f"{PACK_NAME}.nodes.toy_model")
