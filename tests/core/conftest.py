"""Core tier: pure torch; ComfyUI must not be importable here (the guard test checks lrdm_core never needs it)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
