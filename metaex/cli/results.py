"""`metaex results REPORT_DIR -o docs/results.md [--readme README.md]`: a finished report's tables for the docs,
with their provenance (commit, dates, machine, config, command). The work is in metaex.core.report.results."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer


def results(
    report_dir: Path = typer.Argument(..., help="A report folder written by `metaex report` (its report.json)."),
    out: Path = typer.Option(Path("docs/results.md"), "--out", "-o", help="Markdown file to write (its figures go beside it; `-`: standard output, no figures)."),
    readme: Path = typer.Option(None, "--readme",
                                help="Also refresh this file's results block (between its results:headline "
                                     "markers) with the headline table."),
) -> None:
    """Write the report's headline table and every other table, with where they came from, as markdown."""
    from metaex.core.report.results import write_results

    command = shlex.join(["metaex", "results", str(report_dir), "--out", str(out),
                          *(["--readme", str(readme)] if readme else [])])
    prov = write_results(report_dir, out, command=command, readme=readme)
    note = "; the code was committed after the report: regenerate it" if prov["code_after_report"] else ""
    typer.echo(f"results written to {out}{' and ' + str(readme) if readme else ''} (code {prov['code']}{note})",
               err=True)


def register(app: typer.Typer) -> None:
    """Add `metaex results` to the top-level app."""
    app.command("results")(results)
