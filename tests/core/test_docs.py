"""The README and the registry metadata say what the repository has (no ComfyUI, no browser: file reads only).

- every picture the README shows is listed in docs/images/screenshots.json with its sha256, and screenshots are
  recorded there only by `make screenshots` (tools/image_manifest.py), so a README screenshot is the one the
  real frontend produced;
- pyproject.toml has what the Comfy Registry reads ([tool.comfy]), and its Icon is this repository's icon file,
  which tools/make_icon.py reproduces byte for byte;
- every `make` command in the README is a Makefile target, CI runs `make test`, and the node table names every
  node the pack registers.
"""

import hashlib
import importlib.util
import json
import re
import struct
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
MANIFEST = REPO / "docs" / "images" / "screenshots.json"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _readme_images() -> list[str]:
    md = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", README)
    html = re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", README)
    return sorted({p for p in md + html if not p.startswith(("http://", "https://"))})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_readme_pictures_are_the_recorded_ones():
    images = _readme_images()
    assert images, "the README shows no picture"
    listed = json.loads(MANIFEST.read_text())["images"]
    for rel in images:
        assert rel.startswith("docs/images/") and rel.endswith(".png"), f"README picture outside docs/images: {rel}"
        path = REPO / rel
        assert path.is_file(), f"README shows {rel}, which does not exist"
        name = path.name
        assert name in listed, f"{rel} is not in {MANIFEST.name}: run `make screenshots` (or `make images-manifest`)"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == listed[name]["sha256"], (
            f"{rel} is not the picture {listed[name]['made_by']} recorded: run "
            + ("`make screenshots`" if listed[name]["screenshot"] else "`make images-manifest`"))


def test_manifest_entries_exist_and_match():
    listed = json.loads(MANIFEST.read_text())["images"]
    spec = importlib.util.spec_from_file_location("image_manifest", REPO / "tools" / "image_manifest.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert set(tool.SCREENSHOTS) <= set(listed), "a screenshot has no entry: run `make screenshots`"
    for name, e in listed.items():
        data = (REPO / "docs" / "images" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"], name
        assert list(_png_size(data)) == [e["width"], e["height"]], name
        assert e["screenshot"] == (name in tool.SCREENSHOTS), name
    shots = [n for n in tool.SCREENSHOTS if f"docs/images/{n}" not in _readme_images()]
    assert not shots, f"screenshots the README does not show: {shots}"


def test_pyproject_has_the_registry_fields():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    # Registry rules for the node id (docs.comfy.org/registry/specifications): < 100 chars, letters, digits,
    # - _ . only, no two special characters in a row, starts with a letter.
    assert re.fullmatch(r"[A-Za-z](?:[A-Za-z0-9]|[-_.](?![-_.]))*", project["name"]) and len(project["name"]) < 100
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["license"] == {"file": "LICENSE"} and (REPO / "LICENSE").is_file()
    assert project["description"] and project["urls"]["Repository"].startswith("https://github.com/")
    assert comfy["PublisherId"] and comfy["DisplayName"]
    assert re.fullmatch(r">=\d+\.\d+\.\d+", comfy["requires-comfyui"])


def test_registry_icon_is_the_repository_file():
    repo_url = PYPROJECT["project"]["urls"]["Repository"]
    raw = repo_url.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    icon = PYPROJECT["tool"]["comfy"]["Icon"]
    assert icon.startswith(raw), f"Icon should be a raw URL of {repo_url}: {icon}"
    path = REPO / icon[len(raw):]
    assert path.is_file(), f"the Icon URL points at {path.relative_to(REPO)}, which does not exist"
    w, h = _png_size(path.read_bytes())
    assert w == h and w <= 400, (w, h)  # the registry takes up to 800x400; square reads best in its lists


def test_icon_is_reproduced_by_its_script(tmp_path):
    pytest.importorskip("PIL")
    spec = importlib.util.spec_from_file_location("make_icon", REPO / "tools" / "make_icon.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "icon.png"
    tool.main(["--out", str(out)])
    assert out.read_bytes() == (REPO / "docs" / "images" / "icon.png").read_bytes(), "run `make icon`"


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.M))


def test_readme_make_commands_exist():
    # `make x ...` in inline code, or a code-block line (4-space indent) starting with make
    used = set(re.findall(r"(?:`|^ {4,})make ([a-z][\w-]*)", README, flags=re.M))
    assert {"demo", "test"} <= used, used
    missing = sorted(used - _make_targets())
    assert not missing, f"README commands without a Makefile target: {missing}"


def test_ci_runs_make_test():
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, flags=re.M) or re.search(r"\bmake test \|\|", ci), ci


def test_readme_node_table_names_every_node():
    ids = set()
    for f in (REPO / "nodes").glob("*.py"):
        ids |= set(re.findall(r"node_id=\"(LRDM_\w+)\"", f.read_text()))
    assert ids
    missing = sorted(i for i in ids if f"`{i}`" not in README)
    assert not missing, f"nodes the README does not name: {missing}"


def test_the_paper_preset_is_labelled_as_the_figures_reading_issue17_2():
    """The paper's button is Eq. 8 in the figure's reading (choice 9), not 'Eq. 6 and 8 as written'."""
    presets_js = (REPO / "web" / "js" / "presets.js").read_text()
    label = re.search(r'paper: "([^"]+)"', presets_js.split("PRESET_LABELS", 1)[1]).group(1)
    assert "figure's reading" in label
    config = (REPO / "lrdm_core" / "config.py").read_text()
    assert "as written" not in config and "figure's reading" in config
    assert f"**{label}**" in README
