"""`metaex explain`: explanation records of one grammar (parse options, call metaex.core.explain, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.core.explain import STYLES


def explain_command(
    grammar: Path = typer.Argument(..., help="A .pcfg grammar (normally an instance from `grammar instantiate`)."),
    styles: str = typer.Option(",".join(STYLES), "--styles",
                               help="Comma-separated styles: prose (rule by rule), bnf (compact rules), "
                                    "constraints (facts derived from the rules)."),
    paraphrases: int = typer.Option(20, "--paraphrases", "-n", help="Distinct paraphrases per style."),
    seed: int = typer.Option(0, "--seed", help="Seed of the wording choices."),
    out: str = typer.Option("-", "-o", "--out", help="Output JSONL of explanation records (`-`: stdout)."),
) -> None:
    """Explanations generated from the grammar's rules: no example strings, checked against the rules."""
    from metaex.core.explain import write_explanations

    typer.echo(write_explanations(grammar, styles, paraphrases, seed, out), err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("explain")(explain_command)
