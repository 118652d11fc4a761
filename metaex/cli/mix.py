"""`metaex mix` (one condition's training stream) and `metaex bridge` (a bridging pre-training corpus).

Parse options, call metaex.core.mix, print a summary to stderr; the core modules are imported inside the
commands, so `metaex --help` stays light.
"""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.core.mix import CONDITIONS, ORDERS
from metaex.core.mix import MixOptions as M

_FILES = {"show_default": False}


def mix_command(
    condition: str = typer.Option(..., "--condition", help=" | ".join(CONDITIONS) + "."),
    examples: list[Path] = typer.Option(..., "--examples", help="Train example files of K >= 2 grammars "
                                        "(repeatable).", **_FILES),
    dose: int = typer.Option(..., "--dose", help="Examples per grammar: the first N of each grammar's train "
                             "examples, so doses nest."),
    seed: int = typer.Option(..., "--seed", help="Seed: picks the explained half (seeds 2k, 2k+1 explain "
                             "complementary halves) and every permutation."),
    out: str = typer.Option(..., "-o", "--out", help="Output JSONL of document records; the manifest goes beside it "
                            "(X.jsonl → X.manifest.json)."),
    explanations: list[Path] = typer.Option([], "--explanations", help="Explanation files of the study "
                                            "grammars (repeatable).", **_FILES),
    filler: list[Path] = typer.Option([], "--filler", help="Explanation files of grammars outside the study, "
                                      "for `filler` (repeatable).", **_FILES),
    pool: list[Path] = typer.Option([], "--pool", help="Extra strings (split pool) for `worked` (repeatable).",
                                    **_FILES),
    tests: list[Path] = typer.Option([], "--tests", help="Test examples and minimal pairs for the leakage "
                                     "guard (repeatable).", **_FILES),
    grammars: list[Path] = typer.Option([], "--grammar", help="The study grammars' .pcfg files (repeatable): "
                                        "recorded in the manifest and used for their alphabets.", **_FILES),
    paraphrases: int = typer.Option(M.paraphrases, "--paraphrases", help="Paraphrases per style per explained "
                                    "grammar."),
    order: str = typer.Option(M.order, "--order", help=" | ".join(ORDERS) + " (within each pass)."),
    passes: int = typer.Option(M.passes, "--passes", help="Passes over the example documents."),
    extra_passes: int | None = typer.Option(M.extra_passes, "--extra-passes", help="Times each extra document "
                                            "(explanation, filler, …) appears in the stream, spread evenly over "
                                            "the passes (default: once per pass)."),
    worked_strings: int | None = typer.Option(M.worked_strings, "--worked-strings", help="`worked`: extra strings per "
                                              "explained grammar (default 2 x dose)."),
    worked_per_doc: int | None = typer.Option(M.worked_per_doc, "--worked-per-doc", help="`worked`: strings per document, "
                                              "each document one explanation (default: the strings spread over "
                                              "all the grammar's explanations)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Manifest path (default X.manifest.json beside X.jsonl; "
                                         "none when OUT is stdout)."),
) -> None:
    """Build one condition's training stream: passes over the examples, extra documents on top."""
    from metaex.core.mix import MixOptions, run_mix

    opt = MixOptions(condition=condition, dose=dose, seed=seed, examples=[str(p) for p in examples],
                     explanations=[str(p) for p in explanations], filler=[str(p) for p in filler],
                     pool=[str(p) for p in pool], tests=[str(p) for p in tests],
                     grammar_files=[str(p) for p in grammars], paraphrases=paraphrases, order=order,
                     passes=passes, extra_passes=extra_passes, worked_strings=worked_strings,
                     worked_per_doc=worked_per_doc)
    typer.echo(run_mix(opt, out, manifest), err=True)

def bridge_command(
    grammars: int = typer.Option(..., "--grammars", help="How many random grammars."),
    seed: int = typer.Option(..., "--seed", help="Seed of the grammars, their words and the documents."),
    out: str = typer.Option(..., "-o", "--out", help="Output JSONL of document records; manifest beside it."),
    examples_per_grammar: int = typer.Option(16, "--examples-per-grammar", help="Example documents per grammar."),
    avoid: list[Path] = typer.Option([], "--avoid", help="Study grammars (.pcfg instances) whose words the "
                                     "corpus must not use (repeatable).", **_FILES),
    paraphrases: int = typer.Option(2, "--paraphrases", help="Explanation paraphrases per style per grammar."),
    qa_per_grammar: int = typer.Option(8, "--qa-per-grammar", help="Judgement Q&A documents per grammar "
                                       "(half Yes, half No)."),
    textbooks_per_grammar: int = typer.Option(2, "--textbooks-per-grammar", help="Textbook documents (an "
                                              "explanation followed by examples and Q&A) per grammar."),
) -> None:
    """A bridging corpus: random grammars with textbook, example, explanation and Q&A documents."""
    from metaex.core.mix.bridge import BridgeOptions, run_bridge

    opt = BridgeOptions(grammars=grammars, seed=seed, examples=examples_per_grammar,
                        avoid=[str(p) for p in avoid], paraphrases=paraphrases, qa=qa_per_grammar,
                        textbooks=textbooks_per_grammar)
    typer.echo(run_bridge(opt, out), err=True)

def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("mix")(mix_command)
    app.command("bridge")(bridge_command)
