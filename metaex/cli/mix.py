"""`metaex mix` (one condition's training stream) and `metaex bridge` (a bridging pre-training corpus).

Parse options, call metaex.core.mix, print a summary to stderr; the options are `MixOptions` and `BridgeOptions`
(every parameter but the outputs is derived from them), the work is in the core modules.
"""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.mix import MixOptions
from metaex.core.mix.bridge import BridgeOptions


@with_options
def mix_command(
    out: str = typer.Option(..., "-o", "--out", help="Output JSONL of document records; the manifest goes beside it "
                            "(X.jsonl → X.manifest.json)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Manifest path (default X.manifest.json beside "
                                         "X.jsonl; none when OUT is stdout)."),
    options: MixOptions = OPTIONS,
) -> None:
    """Build one condition's training stream: passes over the examples, extra documents on top."""
    from metaex.core.mix import run_mix

    typer.echo(run_mix(options, out, manifest), err=True)


@with_options
def bridge_command(
    out: str = typer.Option(..., "-o", "--out", help="Output JSONL of document records; manifest beside it."),
    options: BridgeOptions = OPTIONS,
) -> None:
    """A bridging corpus: random grammars with textbook, example, explanation and Q&A documents."""
    from metaex.core.mix.bridge import run_bridge

    typer.echo(run_bridge(options, out), err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("mix")(mix_command)
    app.command("bridge")(bridge_command)
