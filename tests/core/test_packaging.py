"""What a registry install carries (.comfyignore): the runtime part never imports a development-only path."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = ("__init__.py", "nodes", "lrdm_core")
DEV_ONLY = {"bench", "scripts", "tests", "tools", "hostkit", "toyworld", "conftest", "helpers"}


def _ignored() -> list[str]:
    """The .comfyignore patterns (comments and blank lines dropped)."""
    lines = (REPO / ".comfyignore").read_text().splitlines()
    return [s.strip() for s in lines if s.strip() and not s.startswith("#")]


def _runtime_sources() -> list[Path]:
    """Every Python file of the shipped pack."""
    found = []
    for entry in RUNTIME:
        path = REPO / entry
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def test_development_folders_are_left_out_of_the_registry_archive():
    ignored = _ignored()
    for folder in ("bench/", "scripts/", "tests/", "tools/", ".ci/"):
        assert folder in ignored, folder
    for shipped in ("nodes/", "lrdm_core/", "web/", "example_workflows/", "models/", "__init__.py"):
        assert not any(shipped.startswith(p) or p.startswith(shipped) for p in ignored), shipped


def test_the_shipped_pack_never_imports_a_development_path():
    bad = []
    for path in _runtime_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in DEV_ONLY]
    assert not bad, bad


def test_every_tracked_file_is_either_shipped_or_ignored_on_purpose():
    """A new top-level path must be placed: shipped (listed here) or in .comfyignore."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    tops = {line.split("/")[0] + ("/" if "/" in line else "") for line in tracked.splitlines()}
    shipped = {"__init__.py", "nodes/", "lrdm_core/", "web/", "example_workflows/", "models/", "docs/", "README.md",
               "LICENSE", "CHANGELOG.md", "pyproject.toml", "requirements.txt", ".gitignore", ".comfyignore"}  # fmt: skip
    unplaced = sorted(t for t in tops if t not in shipped and t not in _ignored())
    assert not unplaced, f"top-level paths neither shipped nor in .comfyignore: {unplaced}"
