"""The benchmarks' bootstrap: tools/hostkit/bootstrap.py (ComfyUI in-process, the pack as `lrdm_pack`)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

from hostkit.bootstrap import load, pack_module  # noqa: E402

__all__ = ["REPO", "RESULTS", "load", "pack_module"]
