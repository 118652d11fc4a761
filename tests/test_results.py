"""`metaex results`: a report's tables for the docs, with provenance, from a report on simulated probe dirs."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from metaex.cli.main import app
from metaex.core.models.precision import FLAGS, cpu_flags
from metaex.core.report.results import BEGIN, END
from metaex.core.stats import write_probe_dirs

README = f"# A project\n\nIntro.\n\n{BEGIN}\nold table\n{END}\n\nThe rest.\n"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    dirs = write_probe_dirs(root / "probes", np.random.default_rng(5), arms={"tiny": 2.0e6}, doses=(8,),
                            conditions=("examples", "filler", "worked"), effects={("tiny", "worked"): 3.0}, seeds=4)
    (root / "config.resolved.json").write_text('{"study": {"seeds": 4}}\n')
    out = root / "report"
    result = CliRunner().invoke(app, ["report", *map(str, dirs), "--out", str(out), "--bootstrap", "200"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _results(*args: str):
    return CliRunner().invoke(app, ["results", *args])


def test_results_carry_the_headline_every_table_and_their_provenance(report_dir, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out = tmp_path / "docs" / "results.md"
    result = _results(str(report_dir), "--out", str(out), "--readme", str(readme))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    report = json.loads((report_dir / "report.json").read_text())
    # provenance: code, report date, machine (this one), config beside the report, the command
    flags = cpu_flags() or set()
    assert f"{os.cpu_count()} cores" in text
    for flag in FLAGS:
        assert f"{flag} {'yes' if flag in flags else 'no'}" in text
    assert "config.resolved.json (sha256 " in text and "| command | `metaex results " in text
    assert "| code | " in text and f"{report_dir}, written 20" in text
    # the headline table first, then every table-shaped key of report.json
    head = report["headline_table"]
    first_row = "| " + " | ".join(head["rows"][0]) + " |"
    assert text.index(f"## Headline: {report['headline_metric']}") < text.index(first_row) < text.index("## controls")
    for key in ("arms", "by_grammar", "controls", "controls_fit", "noise", "noise_pooled"):
        assert f"\n## {key}\n" in text, key
    assert "#### controls: worked: cells" in text    # nested parts under their own headings
    # the report's answer opens results.md, and the README's block now holds it (the table, a sentence per arm and
    # design); the rest of the README is untouched
    answer = "| arm | design | dose | metric | primary contrast [95 % CI]"
    assert text.index("## The answer") < text.index(answer) < text.index("## Headline")
    assert "\n## answer\n" not in text          # rendered as the answer, not again as raw tables
    new = readme.read_text()
    assert "old table" not in new and answer in new and "[docs/results.md](docs/results.md)" in new
    assert "**`tiny`**, explained design, dose 8" in new
    assert new.startswith("# A project\n\nIntro.\n\n" + BEGIN) and new.endswith(END + "\n\nThe rest.\n")
    # the report's figures beside results.md (ours by their marker), each linked from it, the answer's under the
    # answer (the README links that one from its first screen, outside the block)
    figs = tmp_path / "docs" / "results-figures"
    assert json.loads((figs / "metaex_folder.json").read_text())["kind"] == "results"
    assert sorted(p.name for p in figs.glob("*.png")) == sorted(f["file"] for f in report["figures"])
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == sorted(f"results-figures/{f['file']}" for f in report["figures"])
    assert all((out.parent / link).is_file() for link in links)
    assert text.index("](results-figures/answer.png)") < text.index("## Headline")
    # every picture is a paragraph of its own (after the answer's bullets it would render inside the last bullet)
    assert all(text[m.start() - 2:m.start()] == "\n\n" for m in re.finditer(r"!\[", text))


def test_results_on_stdout_write_no_file(report_dir, tmp_path, monkeypatch):
    """`-o -` prints the page (no figures: no folder beside it) and writes nothing, not even a file named `-`."""
    monkeypatch.chdir(tmp_path)
    result = _results(str(report_dir), "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("# Results\n") and "## Headline" in result.stdout
    assert "![" not in result.stdout and list(tmp_path.iterdir()) == []


def test_a_foreign_figures_folder_is_refused_and_nothing_written(report_dir, tmp_path):
    """A folder where the figures would go that is not ours (no marker of `metaex results`) is never replaced."""
    figs = tmp_path / "results-figures"
    figs.mkdir()
    (figs / "mine.png").write_bytes(b"a user's figure")
    result = _results(str(report_dir), "-o", str(tmp_path / "results.md"))
    assert result.exit_code == 2 and "results-figures" in result.output and len(result.output.splitlines()) == 1
    assert [p.name for p in figs.iterdir()] == ["mine.png"] and not (tmp_path / "results.md").exists()


def test_a_new_report_section_is_rendered_without_a_change_here(report_dir, tmp_path):
    """issue 29 adds an `answer` per arm: it is rendered right after the headline, by its shape."""
    copy = tmp_path / "report"
    shutil.copytree(report_dir, copy)
    data = json.loads((copy / "report.json").read_text())
    data["answer"] = {"tiny": {"verdict": "undetermined", "margin": 2.5, "mde": 4.1}}
    (copy / "report.json").write_text(json.dumps(data))
    out = tmp_path / "results.md"
    assert _results(str(copy), "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "| tiny | undetermined | 2.5 | 4.1 |" in text
    assert text.index("## Headline") < text.index("## answer") < text.index("## controls")


def test_a_report_older_than_the_code_says_so(report_dir, tmp_path):
    copy = tmp_path / "report"
    shutil.copytree(report_dir, copy)
    os.utime(copy / "report.json", (946684800, 946684800))    # 2000-01-01: before any commit of this code
    out = tmp_path / "results.md"
    assert _results(str(copy), "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "written 2000-01-01" in text
    if "not a git checkout" not in text:
        assert "committed after the report was written" in text


@pytest.mark.parametrize("case", ["not_a_report", "readme_without_block", "output_inside_report"])
def test_bad_input_is_one_line_and_writes_nothing(report_dir, tmp_path, case):
    out = tmp_path / "results.md"
    args = {"not_a_report": [str(tmp_path), "-o", str(out)],
            "readme_without_block": [str(report_dir), "-o", str(out), "--readme", str(tmp_path / "R.md")],
            "output_inside_report": [str(report_dir), "-o", str(report_dir / "results.md")]}[case]
    (tmp_path / "R.md").write_text("# no block\n")
    result = _results(*args)
    assert result.exit_code == 2
    assert result.output.startswith("metaex: error: ") and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not (report_dir / "results.md").exists()
    assert not (tmp_path / "results-figures").exists()
    assert (tmp_path / "R.md").read_text() == "# no block\n"
