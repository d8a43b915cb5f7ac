"""Run one of this tier's playwright-core scripts (check_*.mjs) against a live server and return its result JSON."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hostkit.fixtures import REPO

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"


def run_script(comfy_server, tmp: Path, script: str, cfg: dict, artifact: str, timeout: int) -> dict:
    """node <script> <config.json> with the server url, chromium and paths added to `cfg`; the result is copied
    to artifacts/<artifact> and gets its wall time; fails with the script's stderr when it did not finish."""
    chromium = os.environ.get("LRDM_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    if not (node and Path(chromium).exists() and (REPO / "node_modules" / "playwright-core").is_dir()):
        pytest.fail(f"need node, {chromium} and node_modules/playwright-core: run `make browser-deps`", pytrace=False)
    settings = comfy_server.base / "user" / "default" / "comfy.settings.json"  # a returning user: no templates dialog
    settings.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(settings.read_text()) if settings.exists() else {}
    settings.write_text(json.dumps({**current, "Comfy.TutorialCompleted": True}))
    ARTIFACTS.mkdir(exist_ok=True)
    cfg = {
        "url": comfy_server.url,
        "chromium": chromium,
        "userDataDir": str(tmp / "profile"),
        "artifacts": str(ARTIFACTS),
        "result": str(tmp / "result.json"),
        **cfg,
    }
    (tmp / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / ".config")}
    started = time.monotonic()
    r = subprocess.run(
        [node, str(HERE / script), str(tmp / "config.json")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result_path = Path(cfg["result"])
    if result_path.exists():
        shutil.copy(result_path, ARTIFACTS / artifact)
    assert r.returncode == 0 and result_path.exists(), f"node failed ({r.returncode}):\n{r.stderr[-4000:]}"
    result = json.loads(result_path.read_text())
    result["wall_s"] = time.monotonic() - started
    return result
