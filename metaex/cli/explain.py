"""`metaex explain`: explanation records of one grammar (parse options, call metaex.core.explain, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.explain.options import ExplainOptions


@with_options
def explain_command(
    grammar: Path = typer.Argument(..., help="A .pcfg grammar (normally an instance from `grammar instantiate`)."),
    out: str = typer.Option("-", "-o", "--out", help="Output JSONL of explanation records (`-`: stdout)."),
    options: ExplainOptions = OPTIONS,
) -> None:
    """Explanations generated from the grammar's rules: no example strings, checked against the rules."""
    from metaex.core.explain import write_explanations

    typer.echo(write_explanations(grammar, options, out), err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("explain")(explain_command)
