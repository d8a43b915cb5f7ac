"""Core tier: pure torch; ComfyUI must not be importable here (the guard test checks lrdm_core never needs it)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for path in (REPO, REPO / "tools"):  # lrdm_core; the toy world (tools/toyworld, dev-only)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Property tests (test_properties.py): no example database (nothing written into the tree), no deadline (CI
# machines are shared and noisy). LRDM_HYPOTHESIS_PROFILE=thorough runs 25x the examples.
try:
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "lrdm", max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile("thorough", settings.get_profile("lrdm"), max_examples=1500)
    settings.load_profile(os.environ.get("LRDM_HYPOTHESIS_PROFILE", "lrdm"))
except ImportError:  # hypothesis is pinned in tools/requirements-host.txt; other tests run without it
    pass
