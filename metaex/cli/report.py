"""`metaex report PROBE_DIR… --out REPORT_DIR`: statistics, tables and plots of a study's probe outputs.

The headline table is printed with rich to **stderr** (a person reads it; stdout stays empty for pipes);
the files in REPORT_DIR are the output. numpy, scipy and matplotlib are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.report.options import ReportOptions


@with_options
def report(
    probe_dirs: list[Path] = typer.Argument(..., help="Probe output dirs (config.json, items.jsonl, summary.jsonl)."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Report dir to write (replaced atomically)."),
    options: ReportOptions = OPTIONS,
) -> None:
    """Δ (explained − unexplained grammars), condition contrasts, 95 % cluster-bootstrap CIs, plots, report."""
    from rich.console import Console
    from rich.table import Table

    from metaex.core.report import make_report
    from metaex.core.report.answer import answer_lines

    options.check()
    result = make_report(list(probe_dirs), out, metrics=options.metrics or None, n_resamples=options.bootstrap,
                         seed=options.seed, contrasts=options.contrasts, resample_items=options.resample_items,
                         analysis=options)
    tab = result["headline_table"]
    shown = [i for i, name in enumerate(tab["header"]) if "change" not in name]   # full table: report.md
    table = Table(title=f"{result['headline_metric']} (95 % cluster-bootstrap CIs over seeds)")
    for i in shown:
        table.add_column(tab["header"][i], overflow="fold")
    for row in tab["rows"]:
        table.add_row(*(row[i] for i in shown))
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=160)
    console.print(table)
    for line in answer_lines(result.get("answer") or {"entries": []}):
        console.print(line, highlight=False, markup=False)
    console.print(f"report written to {out}/ (report.md, report.html, report.json, "
                  f"{len(result['figures'])} figures)")


def register(app: typer.Typer) -> None:
    """Add `metaex report` to the top-level app."""
    app.command("report")(report)
