"""The documents and the registry metadata say what the repository has (no ComfyUI, no browser: file reads only).

The documents are README.md (the user's page), CONTRIBUTING.md, CHANGELOG.md, docs/*.md (METHOD.md: how it works),
bench/README.md (the measured tables) and models/*.md.

- every picture a document shows is listed in docs/images/screenshots.json with its sha256, and screenshots are
  recorded there only by `make screenshots` (tools/image_manifest.py), so a screenshot is the one the real
  frontend produced; the README shows every screenshot;
- pyproject.toml has what the Comfy Registry reads ([tool.comfy]), and its Icon is this repository's icon file,
  which tools/make_icon.py reproduces byte for byte;
- every `make` command in a document is a Makefile target, CI runs `make test`, the README's node table names every
  node the pack registers, and its parameter table (and docs/METHOD.md's) has every LRDMConfig field with both
  presets' values;
- every relative link in a document reaches a file (and heading) of the repository, no source file cites a
  document outside the repository, and every choice ("METHOD.md choice N") and quoted section of docs/METHOD.md
  that the code cites is there.
"""

import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import struct
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
METHOD = REPO / "docs" / "METHOD.md"
DOCS = sorted(
    [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "CHANGELOG.md", REPO / "bench" / "README.md"]
    + list((REPO / "docs").glob("*.md"))
    + list((REPO / "models").glob("*.md"))
)
MANIFEST = REPO / "docs" / "images" / "screenshots.json"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _images(doc: Path) -> list[str]:
    """The pictures a document shows, as paths relative to the repository."""
    text = doc.read_text()
    md = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text)
    html = re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", text)
    local = {p for p in md + html if not p.startswith(("http://", "https://"))}
    return sorted(Path(os.path.relpath((doc.parent / p).resolve(), REPO)).as_posix() for p in local)


def _readme_images() -> list[str]:
    return _images(REPO / "README.md")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_docs_pictures_are_the_recorded_ones():
    assert _readme_images(), "the README shows no picture"
    listed = json.loads(MANIFEST.read_text())["images"]
    shown = [(doc, rel) for doc in DOCS for rel in _images(doc)]
    for doc, rel in shown:
        where = doc.relative_to(REPO)
        assert rel.startswith("docs/images/") and rel.endswith(".png"), f"{where} picture outside docs/images: {rel}"
        path = REPO / rel
        assert path.is_file(), f"{where} shows {rel}, which does not exist"
        name = path.name
        assert name in listed, f"{rel} is not in {MANIFEST.name}: run `make screenshots` (or `make images-manifest`)"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == listed[name]["sha256"], (
            f"{rel} is not the picture {listed[name]['made_by']} recorded: run "
            + ("`make screenshots`" if listed[name]["screenshot"] else "`make images-manifest`")
        )


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


def test_toy_model_card_states_the_code_licence():
    """models/lrdm_toy.md names the weights' licence, and it is the project's (pyproject classifier)."""
    card = (REPO / "models" / "lrdm_toy.md").read_text()
    licence = card.split("## Licence", 1)[1] if "## Licence" in card else ""
    assert "GPL-3.0-or-later" in licence and "trained from scratch" in licence
    assert "GNU General Public License v3 or later (GPLv3+)" in (REPO / "pyproject.toml").read_text()


def test_registry_icon_is_the_repository_file():
    repo_url = PYPROJECT["project"]["urls"]["Repository"]
    raw = repo_url.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    icon = PYPROJECT["tool"]["comfy"]["Icon"]
    assert icon.startswith(raw), f"Icon should be a raw URL of {repo_url}: {icon}"
    path = REPO / icon[len(raw) :]
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


def _make_commands(text: str) -> set[str]:
    # `make x ...` in inline code, or a code-block line (4-space indent) starting with make
    return set(re.findall(r"(?:`|^ {4,})make ([a-z][\w-]*)", text, flags=re.M))


def test_docs_make_commands_exist():
    assert {"demo", "test"} <= _make_commands(README), _make_commands(README)
    targets = _make_targets()
    for doc in DOCS:
        missing = sorted(_make_commands(doc.read_text()) - targets)
        assert not missing, f"{doc.relative_to(REPO)} commands without a Makefile target: {missing}"


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


def _section(text: str, heading: str) -> str:
    """The body of the `## heading` section of a markdown text."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert m, f"no '## {heading}' section"
    return m.group(1)


def _cell_value(cell: str) -> str:
    """The leading value of a table cell: `state` -> state, 0 (off) -> 0."""
    m = re.match(r"`?([\w.+-]+)`?", cell.strip())
    assert m, cell
    return m.group(1)


@pytest.mark.parametrize("doc, heading", [("README.md", "Parameters"), ("docs/METHOD.md", "The two settings")])
def test_parameter_tables_match_the_config(doc, heading):
    from lrdm_core.config import PRESETS, LRDMConfig

    rows = {}
    for line in _section((REPO / doc).read_text(), heading).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            for name in re.findall(r"`(\w+)`", cells[0]):
                rows[name] = cells[1:3]
    fields = [f.name for f in dataclasses.fields(LRDMConfig)]
    for field in fields:
        name = field  # the node input's name
        assert name in rows, f"{doc}'s table '{heading}' has no row for `{name}`"
        for preset, cell in zip(("plus", "paper"), rows[name], strict=True):
            want, got = getattr(PRESETS[preset], field), _cell_value(cell)
            same = got == want if isinstance(want, str) else float(got) == float(want)
            assert same, f"{doc} says {name} = {cell} for {preset}, the config has {want!r}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_docs_links_reach_files_and_headings():
    for doc in DOCS:
        text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            where = f"{doc.relative_to(REPO)} links to {target}"
            assert path.exists(), f"{where}, which does not exist"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path), f"{where}: no such heading in {path.relative_to(REPO)}"


def _sources() -> list[Path]:
    skip = {".venv", ".host", ".cache", ".git", "node_modules", "output", "__pycache__", "artifacts"}
    return [
        p
        for ext in ("py", "js", "mjs", "md")
        for p in REPO.rglob(f"*.{ext}")
        if not skip & set(p.relative_to(REPO).parts)
    ]


def test_sources_cite_only_documents_in_the_repository():
    outside = re.compile(r"\b(?:PAPER|COMFY_API|TEST_HOST|STYLE|ECOSYSTEM)\.md\b")
    bad = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in _sources() for m in outside.finditer(p.read_text())]
    assert not bad, f"citations of documents that are not in the repository (cite docs/METHOD.md): {bad}"


def test_method_choices_cited_in_the_code_exist():
    choices = {int(n) for n in re.findall(r"^### (\d+)\. ", METHOD.read_text(), flags=re.M)}
    assert choices == set(range(1, 10)), f"docs/METHOD.md should number the paper's open points 1-9: {choices}"
    cited = set()
    for p in _sources():
        for first, last in re.findall(r"METHOD\.md,? choices? (\d+)(?:-(\d+))?", p.read_text()):
            cited |= set(range(int(first), int(last or first) + 1))
    assert cited, "no source cites a choice of docs/METHOD.md"
    assert cited <= choices, f"cited choices that docs/METHOD.md does not have: {sorted(cited - choices)}"
    sections = {(p, name) for p in _sources() for name in re.findall(r"METHOD\.md,? '([^']+)'", p.read_text())}
    missing = sorted(f"{p.relative_to(REPO)}: '{name}'" for p, name in sections if _slug(name) not in _anchors(METHOD))
    assert not missing, f"cited sections that docs/METHOD.md does not have: {missing}"


def test_the_paper_preset_is_labelled_as_the_figures_reading_issue17_2():
    """The paper's button is Eq. 8 in the figure's reading (choice 9), not 'Eq. 6 and 8 as written'."""
    presets_js = (REPO / "web" / "js" / "presets.js").read_text()
    label = re.search(r'paper: "([^"]+)"', presets_js.split("PRESET_LABELS", 1)[1]).group(1)
    assert "figure's reading" in label
    config = (REPO / "lrdm_core" / "config.py").read_text()
    assert "as written" not in config and "figure's reading" in config
    assert f"**{label}**" in README
