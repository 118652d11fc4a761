"""`metaex screen MODEL`: the in-context direction-adjusted effect of a base model on contested pairs: whether it
reads a rule in context at all, before any fine-tuning. The work is in metaex.core.screen."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.screen import ScreenOptions


@with_options
def screen(
    model: str = typer.Argument(..., help="A model folder (`metaex model import`/`tiny`), a run folder or a hub id."),
    grammar: list[Path] = typer.Option([], "--grammar", help="Grammar file to contest (repeatable); default: the "
                                       "shipped templates that declare a contest."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Write the result as JSON to this file."),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: a GPU where there is one)."),
    options: ScreenOptions = OPTIONS,
) -> None:
    """Does the model prefer the form an explanation in its context tells? One row per grammar, and the mean."""
    from rich.console import Console
    from rich.table import Table

    from metaex.core import records
    from metaex.core.files import guard_outputs
    from metaex.core.screen import screen as run_screen

    console = Console(stderr=True)
    if out is not None:
        guard_outputs([*grammar, model], [(out, "file")])
    result = run_screen(model, list(grammar) or None, options, device=device)
    table = Table(title=f"in-context DAE of {model} (log-prob per word, told − other form)")
    for col in ("grammar", "contested rule", "pairs", "DAE [95 % CI]", "moved told way", "bare a − b"):
        table.add_column(col)

    def ci(x: dict) -> str:
        return f"{x['estimate']:+.3f} [{x['ci_low']:+.3f}, {x['ci_high']:+.3f}]"

    for r in result["grammars"]:
        table.add_row(r["grammar"], r["rule"], str(r["pairs"]), ci(r["dae"]),
                      f"{r['moved']:.2f}", ci(r["bare"]))
    table.add_row("mean", "", "", ci(result["dae"]), "", "")
    console.print(table)
    console.print(f"{model}: {result['verdict']}")
    if out is not None:
        records.write_json(out, result)
    else:
        typer.echo(json.dumps(result["dae"]))


def register(app: typer.Typer) -> None:
    """Add `metaex screen` to the top-level app."""
    app.command("screen")(screen)
