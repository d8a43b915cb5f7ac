"""`make test` and .ci/run install system packages only in CI; elsewhere they print the command and stop (issue 19).

sudo, apt-get (and, for .ci/run, make) are replaced by stubs on PATH that record their calls, so no test can
install anything even when the scripts misbehave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STUBS = ("sudo", "apt-get")

pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("bash") is None, reason="needs make")


def _stub_path(tmp_path: Path, names: tuple[str, ...]) -> tuple[dict[str, str], Path]:
    """An environment whose PATH starts with stubs that append their argv to calls.log; CI unset."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in names:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MAKEFLAGS", "MFLAGS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, log


def _browser_deps(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`make browser-deps` with no Chromium; -o: node_modules counts as installed (npm is not what is tested)."""
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            "node_modules/.lrdm-stamp",
            "browser-deps",
            f"CHROMIUM={REPO / 'no' / 'chromium'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_make_without_chromium_outside_ci_prints_the_command_and_stops(tmp_path, ci):
    env, log = _stub_path(tmp_path, STUBS)
    if ci is not None:
        env["CI"] = ci
    run = _browser_deps(env)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "apt-get install -y chromium" in out and "CHROMIUM=" in out, out
    assert not log.exists(), log.read_text()  # neither sudo nor apt-get ran


def test_make_without_chromium_in_ci_installs_it(tmp_path):
    env, log = _stub_path(tmp_path, STUBS)
    env["CI"] = "true"
    run = _browser_deps(env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "apt-get install -y -qq chromium" in log.read_text()


def test_ci_script_outside_ci_prints_the_command_and_stops(tmp_path):
    env, log = _stub_path(tmp_path, (*STUBS, "make"))  # a stub make: nothing is built even if the script goes on
    env["CHROMIUM"] = str(REPO / "no" / "chromium")
    run = subprocess.run(["bash", str(REPO / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "apt-get install -y" in out and "chromium" in out, out
    assert not log.exists(), log.read_text()
