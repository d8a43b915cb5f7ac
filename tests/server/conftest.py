"""Server tier: the real ComfyUI main.py with the pack, over HTTP (fixtures in tools/hostkit/fixtures.py)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

from hostkit.fixtures import (  # noqa: E402,F401
    comfy_server,
    comfy_tree,
    lrdm_node_ids,
    object_info,
    test_ckpt,
    test_lora,
    test_sdxl_ckpt,
    thirdparty,
)
