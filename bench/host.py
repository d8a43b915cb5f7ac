"""In-process ComfyUI for the benchmark scripts: the host tree on sys.path and the pack as `lrdm_pack`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def load(device: str = "cpu", threads: int | None = None) -> ModuleType:
    """Import ComfyUI (from $COMFYUI_PATH or .host/ComfyUI) on `device` and return the pack package."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    tree = Path(os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI")
    if str(tree) not in sys.path:
        sys.path.insert(0, str(tree))
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import comfy.cli_args
    finally:
        sys.argv = argv
    comfy.cli_args.args.cpu = device == "cpu"
    comfy.cli_args.args.use_pytorch_cross_attention = True
    if "lrdm_pack" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "lrdm_pack", REPO / "__init__.py", submodule_search_locations=[str(REPO)]
        )
        sys.modules["lrdm_pack"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["lrdm_pack"])
    pack = sys.modules["lrdm_pack"]
    importlib.import_module("lrdm_pack.nodes")
    return pack
