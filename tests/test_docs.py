"""The docs a newcomer reads: every relative link in README.md and docs/ points at a file (and heading) in the repo."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(md: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings."""
    out = set()
    for line in md.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def _docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_relative_link_resolves():
    broken = []
    for md in _docs():
        for target in LINK.findall(md.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check offline
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                broken.append(f"{md.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{md.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_docs_cite_no_spec_outside_the_repository():
    outside = [f"{md.relative_to(ROOT)}: {line.strip()}" for md in _docs() for line in md.read_text().splitlines()
               if "../shared" in line or "shared/" in line.replace("docs/", "")]
    assert not outside, "\n".join(outside)


def test_design_is_the_design_and_the_notebook_is_dated():
    assert len((ROOT / "docs" / "DESIGN.md").read_text().splitlines()) < 300
    entries = [p for p in (ROOT / "docs" / "notebook").glob("*.md") if p.name != "README.md"]
    index = (ROOT / "docs" / "notebook" / "README.md").read_text()
    for entry in entries:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md", entry.name), entry.name
        head = entry.read_text()
        for field in ("**Date:**", "**Machine:**", "**Command:**", "**Code:**"):
            assert field in head, f"{entry.name}: no {field}"
        assert f"]({entry.name})" in index, f"{entry.name} is not in notebook/README.md"


def test_the_readme_shows_the_headline_of_docs_results():
    """README's results block is written with docs/results.md by `metaex results`: never a hand-copied table."""
    from metaex.core.report.results import BEGIN, END, NOT_YET

    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(BEGIN) + len(BEGIN):readme.index(END)]
    results = (ROOT / "docs" / "results.md").read_text()
    if NOT_YET in results:
        assert NOT_YET in block and "|" not in block
    else:
        table = [line for line in block.splitlines() if line.startswith("|")]
        assert table and "\n".join(table) in results
