"""`metaex probe`: every metric of the study on a model, or on base + adapter in one load; a table on stderr."""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.probe.options import ProbeOptions


@with_options
def probe(
    model: str | None = typer.Option(None, "--model", envvar="METAEX_MODEL", help="Base model: a folder, a full "
                                     "fine-tune run folder, or a hub id. With --adapter, read from the run."),
    adapter: str | None = typer.Option(None, "--adapter", help="A LoRA/QLoRA run folder (or adapter folder); "
                                       "base and adapter are both probed, every item gets paired rows."),
    grammar: list[Path] = typer.Option([], "--grammar", help="Grammar instance .pcfg (repeatable)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="The mix manifest (condition, dose, seed, "
                                         "which grammars are explained); default: the run's config.json."),
    tests: Path | None = typer.Option(None, "--tests", help="Test strings (example records); default: "
                                      "drawn from the grammar."),
    pairs: Path | None = typer.Option(None, "--pairs", help="Minimal pairs (pair records); default: made "
                                      "from the test strings."),
    contest: Path | None = typer.Option(None, "--contest", help="Contested pairs (contest_pair records of "
                                        "`grammar contest`, several grammars' joined with cat; each grammar is its "
                                        "told variant's file): contest_* metrics."),
    train: list[Path] = typer.Option([], "--train", help="What novelty is judged against: mixes (every "
                                     "string their documents carry) or train splits; a study passes every mix of "
                                     "the seed (repeatable)."),
    explanations: Path | None = typer.Option(None, "--explanations", help="Explanation records of these and "
                                             "sibling grammars, for the verbalization choice."),
    arm: str | None = typer.Option(None, "--arm", help="Model label written into every row (default: the "
                                   "base model's folder name)."),
    out: Path = typer.Option(..., "-o", "--out", help="PROBE_DIR to write (items.jsonl, summary.jsonl, "
                             "config.json)."),
    parts: Path | None = typer.Option(None, "--parts", help="Folder of reusable per-grammar parts (default "
                                      "PROBE_DIR/parts). Probes of adapters of one base model on the same items "
                                      "can share one: the base model is then probed once."),
    options: ProbeOptions = OPTIONS,
) -> None:
    """Sample, score and judge grammar strings; write per-item rows and one summary row per metric."""
    from rich.console import Console

    from metaex.core.models.precision import slow_bf16_warning
    from metaex.core.probe import run_probe

    console = Console(stderr=True)
    options.check()
    if options.bf16 and (warning := slow_bf16_warning()):
        console.print(warning)
    summary = run_probe(model, adapter, grammar, out_dir=out, tests=tests, pairs=pairs, contest=contest, train=train,
                        explanations=explanations, manifest=manifest, options=options, arm=arm, parts_dir=parts,
                        log=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    console.print(_table(summary))
    console.print(f"wrote {out}/items.jsonl, summary.jsonl, config.json")


def _table(summary: list[dict]):
    """Metrics as rows, grammar × variant as columns."""
    from rich.table import Table

    columns = list(dict.fromkeys((r["grammar"], r["variant"]) for r in summary))
    metrics = list(dict.fromkeys(r["metric"] for r in summary))
    value = {(r["metric"], r["grammar"], r["variant"]): r for r in summary}
    table = Table(title="probe summary (n in brackets)")
    table.add_column("metric")
    for g, v in columns:
        table.add_column(f"{g}\n{v}", justify="right")
    for m in metrics:
        cells = []
        for g, v in columns:
            r = value.get((m, g, v))
            cells.append("" if r is None else ("-" if r["value"] is None else f"{r['value']:.3f}") + f" ({r['n']})")
        table.add_row(m, *cells)
    return table


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("probe")(probe)

