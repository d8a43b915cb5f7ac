"""Test-environment-only import hook for torchvision 0.28.0 beside torch 2.13.0+cpu.

PyPI's torchvision wheels are CUDA-linked. Beside the CPU build of torch their compiled ops
(``torchvision/_C.so``) fail to load, and ``torchvision/_meta_registrations.py`` then dies with
"operator torchvision::nms does not exist" while registering fake kernels. Defining the two op
schemas before torchvision loads lets it import; ComfyUI only needs torchvision importable
(comfy.sd -> comfy/ldm/cascade/stage_c_coder.py), never these ops.

``make`` copies this file into the test venv's site-packages as ``_lrdm_tvshim.py`` together with
``_lrdm_tvshim.pth``, which calls :func:`install`. ``install`` only puts a tiny
``sys.meta_path`` finder: torch is imported only when ``torchvision`` itself is first imported,
and the schemas are defined only when torch is a CPU build and torchvision is not (a matching
pair needs nothing). This never ships in the pack.
"""

import importlib.abc
import importlib.metadata
import sys

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_LIBRARIES = []  # keeps the torch.library.Library alive; dropping it would undo the definitions


def _needs_schemas() -> bool:
    """True when torch is a CPU build and torchvision is a CUDA-linked (non-+cpu) wheel."""
    import torch

    try:
        tv_version = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return False
    return torch.version.cuda is None and "+cpu" not in tv_version


def define_schemas() -> None:
    """Define torchvision::nms and ::qnms (schemas only) if the pair needs them."""
    if _LIBRARIES or not _needs_schemas():
        return
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        lib.define(schema)
    _LIBRARIES.append(lib)


class _TorchvisionFinder(importlib.abc.MetaPathFinder):
    """Finds nothing; on the first ``import torchvision`` defines the schemas, then retires."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision":
            sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
            define_schemas()
        return None


def install() -> None:
    """Put the finder first on sys.meta_path (idempotent); ``_lrdm_tvshim.pth`` calls this."""
    if "torchvision" in sys.modules:
        return
    if not any(isinstance(f, _TorchvisionFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionFinder())
