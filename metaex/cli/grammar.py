"""`metaex grammar`: sample, check, make minimal pairs, instantiate, generate and describe grammars.

Only parsing and printing happen here; the work is in `metaex.core.grammar`. Records go to stdout (or -o),
messages to stderr. rich and the core modules are imported inside the commands, to keep `metaex --help` light.
"""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.core.grammar.pairs import PERTURBATIONS
from metaex.core.grammar.random_gen import FAMILIES
from metaex.core.records import SPLITS

grammar_app = typer.Typer(help="Grammars: sample strings, check membership, minimal pairs, nonce instances, "
                               "random grammars, summaries.", no_args_is_help=True)

_GRAMMAR = typer.Argument(..., help="A grammar file (.pcfg, nltk PCFG format).", show_default=False)


def _say(message: str) -> None:
    typer.echo(message, err=True)


@grammar_app.command("sample")
def sample(
    grammar: Path = _GRAMMAR,
    n: int = typer.Option(..., "-n", min=0, help="How many strings."),
    seed: int = typer.Option(..., "--seed", help="Random seed (same seed, same output)."),
    max_len: int | None = typer.Option(None, "--max-len", min=1, help="Reject strings longer than L terminals."),
    distinct: bool = typer.Option(False, "--distinct", help="No string twice."),
    split: str = typer.Option("pool", "--split", help="Split label of the records: " + " | ".join(SPLITS) + "."),
    n_test: int | None = typer.Option(None, "--test", min=0, help="Also draw N_TEST test strings, distinct "
                                      "and disjoint from the -n train strings, into --test-out."),
    test_out: Path | None = typer.Option(None, "--test-out", help="Where the --test strings go."),
    shared: bool = typer.Option(False, "--shared", help="Draw from the shared sub-language: the grammar without "
                                "the contested alternative its file declares (`# contest:`, as `grammar contest` "
                                "writes), strings both variants accept."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output JSONL of example records ('-' = stdout)."),
) -> None:
    """Draw strings from the PCFG as `example` records."""
    from metaex.core.grammar import run

    _say(run.sample(grammar, n, seed, out=out, max_len=max_len, distinct=distinct, split=split, n_test=n_test,
                    test_out=test_out, shared=shared))


@grammar_app.command("contest")
def contest(
    grammar: Path = _GRAMMAR,
    seed: int = typer.Option(..., "--seed", help="Seed of the contested pairs (and of the choice's measurements)."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder to write: a.pcfg, b.pcfg, pairs.jsonl, strings.jsonl, "
                             "contest.json."),
    told: str = typer.Option("a", "--told", help="Which variant the study's explanations tell: a (the grammar as "
                             "given) or b (the changed one); recorded in every pair."),
    pairs: int = typer.Option(60, "--pairs", help="Contested pairs to write (the probe's items)."),
    strings: int = typer.Option(0, "--strings", help="More contested strings of the told variant, for training "
                                "(none of them in a pair)."),
    max_len: int = typer.Option(20, "--max-len", help="Longest string (terminals)."),
    rule: str | None = typer.Option(None, "--rule", help="The alternative to contest, as `LHS -> SYMBOLS` (terminals "
                                    "quoted or not); default: the one the file declares (`# contest:`), else the "
                                    "first that gives enough pairs."),
    change: str | None = typer.Option(None, "--change", help="How variant b changes it: swap:I,J or "
                                      "replace:I=SYMBOL (1-based positions; default: the first that works)."),
    need: int = typer.Option(1, "--need", help="Distinct strings the shared sub-language must hold under --max-len."),
) -> None:
    """Two variants of the grammar that differ in one rule, and contested pairs: one derivation each variant reads
    its own way (a in A only, b in B only). Training strings from `sample --shared` cannot tell them apart."""
    from metaex.core.grammar import run

    _say(run.contest(grammar, seed, out, told=told, pairs=pairs, strings=strings, max_len=max_len, rule=rule,
                     change=change, need=need))


@grammar_app.command("check")
def check(
    grammar: Path = _GRAMMAR,
    input: Path = typer.Argument(Path("-"), help="Strings: JSONL records with `text`, or plain lines "
                                 "('-' = stdin)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output JSONL of check records ('-' = stdout)."),
) -> None:
    """Check each string's membership; writes `check` records with `text` and `valid`."""
    from metaex.core.grammar import run

    _say(run.check(grammar, input, out=out))


@grammar_app.command("pairs")
def pairs(
    grammar: Path = _GRAMMAR,
    input: Path = typer.Argument(..., help="Strings: example/check records or plain lines ('-' = stdin); "
                                 "strings outside the language (or checked invalid) are skipped."),
    seed: int = typer.Option(..., "--seed", help="Random seed (same seed, same output)."),
    per_string: int = typer.Option(1, "--per-string", min=1, help="Bad strings per good string and type."),
    perturbation: list[str] = typer.Option(["substitution"], "--perturbation", help=" | ".join(PERTURBATIONS)
                                           + " (repeatable)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output JSONL of pair records ('-' = stdout)."),
) -> None:
    """Minimal pairs (`good` in the language, `bad` one edit away and out of it) as `pair` records."""
    from metaex.core.grammar import run

    _say(run.pairs(grammar, input, seed, out=out, per_string=per_string, perturbations=perturbation))


@grammar_app.command("instantiate")
def instantiate(
    grammar: Path = _GRAMMAR,
    seed: int = typer.Option(..., "--seed", help="Random seed: picks the name and the words."),
    avoid: list[Path] = typer.Option([], "--avoid", help="Grammar whose name and words must not be reused "
                                     "(repeatable)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output .pcfg ('-' = stdout)."),
) -> None:
    """The grammar under a fresh nonce name and nonce alphabet from the shipped lexicon."""
    from metaex.core.grammar import run

    _say(run.instantiate(grammar, seed, avoid=avoid, out=out))


@grammar_app.command("random")
def random(
    family: str = typer.Option(..., "--family", help=" | ".join(FAMILIES) + ": right-linear (Reber-like) or a "
                               "general context-free grammar."),
    seed: int = typer.Option(..., "--seed", help="Random seed (same seed, same grammar)."),
    nonterminals: int | None = typer.Option(None, "--nonterminals", help="States (regular), nonterminals "
                                            "(cfg) or nonterminals per level (cfg with --depth)."),
    terminals: int | None = typer.Option(None, "--terminals", help="Number of terminal symbols."),
    depth: int | None = typer.Option(None, "--depth", help="cfg only: a layered cfg3-like grammar of this "
                                     "depth (6 = cfg3f)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output .pcfg ('-' = stdout)."),
) -> None:
    """A random proper PCFG that passes the validator (placeholder terminals t1, t2, …)."""
    from metaex.core.grammar import run

    _say(run.random(family, seed, out=out, nonterminals=nonterminals, terminals=terminals, depth=depth))


@grammar_app.command("info")
def info(
    grammar: Path = _GRAMMAR,
    samples: int = typer.Option(5, "--samples", min=0, help="How many example strings to show."),
    seed: int = typer.Option(0, "--seed", help="Seed of the example strings."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON on stdout instead of tables."),
) -> None:
    """Rules, terminals, expected length and a few samples of a grammar."""
    import json

    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.sample import min_lengths, sample_strings

    g = load_grammar(grammar)
    summary = {
        "name": g.name, "description": g.description, "hash": g.hash, "start": g.start,
        "nonterminals": list(g.nonterminals), "terminals": list(g.terminals), "rules": len(g.rules),
        "expected_length": round(g.expected_length, 4), "min_length": min_lengths(g)[g.start],
        "meta": {k: v for k, v in g.meta.items() if k not in ("name", "description")},
        "samples": sample_strings(g, samples, seed, max_len=max(200, min_lengths(g)[g.start])),
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title=f"{g.name} ({g.hash})", show_header=False)
    for key in ("description", "start", "rules", "expected_length", "min_length"):
        head.add_row(key, str(summary[key]))
    head.add_row("terminals", " ".join(g.terminals))
    for k, v in summary["meta"].items():
        head.add_row(k, str(v))
    console.print(head)
    rules = Table(title="rules")
    for col in ("lhs", "rhs", "p", "gloss"):
        rules.add_column(col, justify="right" if col == "p" else "left")
    for i, r in enumerate(g.rules):
        first = i == 0 or g.rules[i - 1].lhs != r.lhs
        rules.add_row(r.lhs if first else "", " ".join(s if s in g.by_lhs else repr(s) for s in r.rhs),
                      f"{r.prob:.3g}", g.glosses.get(r.lhs, "") if first else "")
    console.print(rules)
    for s in summary["samples"]:
        console.print(f"  {s}", markup=False, highlight=False)


@grammar_app.command("list")
def list_grammars(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per grammar on stdout."),
) -> None:
    """The grammars shipped with metaex: name, description and the file (what a study config's names refer to)."""
    import json

    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.shipped import grammars

    for path in grammars():
        g = load_grammar(path)
        row = {"name": path.stem, "description": g.description, "path": str(path)}
        typer.echo(json.dumps(row, ensure_ascii=False) if as_json else f"{path.stem}\t{g.description}\t{path}")


def register(app: typer.Typer) -> None:
    """Add the `grammar` command group to the top-level app."""
    app.add_typer(grammar_app, name="grammar")
