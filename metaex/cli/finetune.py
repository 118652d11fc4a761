"""`metaex model tiny`, `metaex finetune`, `metaex merge`: parse options, call metaex.core, print.

torch/transformers/peft are imported inside the command functions, so `metaex --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

model_app = typer.Typer(help="Build models from scratch.", no_args_is_help=True)


@model_app.command("tiny")
def model_tiny(
    vocab_from: list[Path] = typer.Option(..., "--vocab-from", help="JSONL files (their `text` fields) or .pcfg "
                                          "grammars (name + terminals) whose words the tokenizer must cover; "
                                          "repeat the option for several files."),
    size: str = typer.Option("tiny", "--size", help="tiny (hidden 64, 2 layers), small (128, 4), base (320, 8)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random initial weights."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder to write (loadable by from_pretrained)."),
    no_builtin: bool = typer.Option(False, "--no-builtin", help="Do not add the nonce lexicon, explanation "
                                    "words, judgement words and digits to the vocabulary."),
) -> None:
    """A randomly initialised Llama with a word-level tokenizer covering the given files."""
    from metaex.core.models import build_tiny, collect_vocab

    words = collect_vocab(vocab_from, builtin=not no_builtin)
    summary = build_tiny(words, out, size=size, seed=seed)
    typer.echo(f"{out}: {summary['size']} model, {summary['parameters']:,} parameters, "
               f"{summary['vocab_size']} tokens, seed {seed}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(model_app, name="model")
