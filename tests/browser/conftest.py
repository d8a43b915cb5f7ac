"""Browser tier: ComfyUI's frontend in chromium via playwright-core (fixtures: tools/hostkit/fixtures.py)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

from hostkit.fixtures import comfy_server, comfy_tree, lrdm_node_ids, object_info, test_ckpt  # noqa: E402,F401
