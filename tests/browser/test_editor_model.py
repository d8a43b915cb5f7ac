"""The layout editor's state model (web/js/layout_editor/model.js) under `node --test`: no server, no browser."""

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_editor_model_unit_tests_pass():
    node = shutil.which("node")
    if not node:
        pytest.fail("need node (the browser tier's runtime)", pytrace=False)
    r = subprocess.run(
        [node, "--test", str(HERE / "editor_model.test.mjs")], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
