"""The one development bootstrap: a ComfyUI tree importable in-process and the pack loaded as `lrdm_pack`.

Used by the tests (tests/comfy/conftest.py), the benchmarks (bench/host.py), the toy scripts and the tools:
ComfyUI from $COMFYUI_PATH (else the test host's .host/ComfyUI) goes first on sys.path, its command-line
arguments are parsed from an empty argv, and the pack is imported from this repository exactly as ComfyUI
imports a custom-node folder. Importing this module imports neither torch nor ComfyUI.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
PACK_NAME = "lrdm_pack"


def comfy_tree(tree: str | os.PathLike | None = None) -> Path:
    """The ComfyUI tree: `tree`, else $COMFYUI_PATH, else the test host's .host/ComfyUI."""
    return Path(tree or os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI").resolve()


def setup_comfy(
    tree: str | os.PathLike | None = None, device: str = "cpu", pytorch_attention: bool = False
) -> ModuleType:
    """Put ComfyUI first on sys.path and set its arguments (CPU unless `device` is 'cuda'); returns comfy.cli_args."""
    path = comfy_tree(tree)
    if not (path / "comfy").is_dir():
        raise FileNotFoundError(f"ComfyUI not found at {path}; run `make host` or set COMFYUI_PATH")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import comfy.cli_args
    finally:
        sys.argv = argv
    comfy.cli_args.args.cpu = device == "cpu"
    if pytorch_attention:
        comfy.cli_args.args.use_pytorch_cross_attention = True
    _torchvision_shim()
    return comfy.cli_args


def load_pack(walk: bool = False) -> ModuleType:
    """Import this repository as the package `lrdm_pack` (ComfyUI's custom-node import) and its nodes.

    With `walk`, every submodule of nodes/ and lrdm_core/ is imported too (what the test tiers check).
    """
    pack = _pack()
    importlib.import_module(f"{PACK_NAME}.nodes")
    if walk:
        for sub in ("nodes", "lrdm_core"):
            pkg = importlib.import_module(f"{PACK_NAME}.{sub}")
            for info in pkgutil.walk_packages(pkg.__path__, f"{PACK_NAME}.{sub}."):
                importlib.import_module(info.name)
    return pack


def pack_module(name: str) -> ModuleType:
    """One submodule of the pack (e.g. 'nodes.host.toy_model'), without importing the node list."""
    _pack()
    return importlib.import_module(f"{PACK_NAME}.{name}")


def _pack() -> ModuleType:
    """The repository registered and executed as the package `lrdm_pack` (once per process)."""
    if PACK_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACK_NAME, REPO / "__init__.py", submodule_search_locations=[str(REPO)]
        )
        mod = importlib.util.module_from_spec(spec)
        sys.modules[PACK_NAME] = mod
        spec.loader.exec_module(mod)
    return sys.modules[PACK_NAME]


def load(device: str = "cpu", threads: int | None = None, tree: str | os.PathLike | None = None) -> ModuleType:
    """ComfyUI on `device` (PyTorch attention) and the pack: what the benchmarks and scripts need."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    setup_comfy(tree, device, pytorch_attention=True)
    return load_pack()


def _torchvision_shim() -> None:
    """The test venv's torchvision import hook (tvshim), also where the venv lacks its .pth file."""
    if "_lrdm_tvshim" in sys.modules:
        return
    from . import tvshim

    tvshim.define_schemas()
