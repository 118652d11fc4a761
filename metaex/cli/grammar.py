"""`metaex grammar`: sample, check, make minimal pairs, instantiate, generate and describe grammars.

Only parsing and printing happen here; the work is in `metaex.core.grammar`. Records go to stdout (or -o),
messages to stderr. rich and the core modules are imported inside the commands, to keep `metaex --help` light.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from metaex.core.files import guard_outputs, remove_outputs
from metaex.core.grammar.pairs import PERTURBATIONS
from metaex.core.grammar.random_gen import FAMILIES
from metaex.core.records import SPLITS

grammar_app = typer.Typer(help="Grammars: sample strings, check membership, minimal pairs, nonce instances, "
                               "random grammars, summaries.", no_args_is_help=True)

_GRAMMAR = typer.Argument(..., help="A grammar file (.pcfg, nltk PCFG format).", show_default=False)


def _say(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def _about(path: Path) -> Iterator[None]:
    """Name the grammar file in errors that concern the grammar but carry no file of their own."""
    from metaex.core.errors import InputError

    try:
        yield
    except InputError as err:
        if err.path is None:
            raise InputError(str(err), str(path)) from None
        raise


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
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output JSONL of example records ('-' = stdout)."),
) -> None:
    """Draw strings from the PCFG as `example` records."""
    from metaex.core import records
    from metaex.core.errors import InputError
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.sample import sample_split, sample_strings

    if split not in records.SPLITS:
        raise InputError(f"--split must be one of {', '.join(records.SPLITS)} (got {split!r})")
    if (n_test is None) != (test_out is None):
        raise InputError("--test and --test-out go together")
    if n_test is not None and str(test_out) == "-" and str(out) == "-":
        raise InputError("--test-out and -o cannot both be stdout")
    if n_test is not None and split == "test":
        raise InputError("with --test, -o holds the train strings: drop --split test")
    guard_outputs([grammar], [(out, "file"), (test_out, "file")])
    g = load_grammar(grammar)

    def recs(texts: list[str], label: str) -> list[dict]:
        extra = {k: g.meta[k] for k in ("template",) if k in g.meta}
        return [records.make("example", text=t, grammar=g.name, grammar_hash=g.hash, seed=seed, split=label,
                             producer=records.producer("grammar sample"), **extra) for t in texts]

    if n_test is None:
        with _about(grammar):
            texts = sample_strings(g, n, seed, max_len=max_len, distinct=distinct)
        records.write(out, recs(texts, split))
        _say(f"{len(texts)} strings of {g.name} ({len(set(texts))} distinct)")
        return
    with _about(grammar):
        train, test = sample_split(g, n, n_test, seed, max_len=max_len)
    train_recs, test_recs = recs(train, "train"), recs(test, "test")
    remove_outputs([out, test_out])   # a kill between the two writes leaves neither old file beside a new one
    records.write(out, train_recs)
    records.write(test_out, test_recs)
    _say(f"{len(train)} train and {len(test)} test strings of {g.name}, distinct and disjoint")


@grammar_app.command("check")
def check(
    grammar: Path = _GRAMMAR,
    input: Path = typer.Argument(Path("-"), help="Strings: JSONL records with `text`, or plain lines "
                                 "('-' = stdin)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output JSONL of check records ('-' = stdout)."),
) -> None:
    """Check each string's membership; writes `check` records with `text` and `valid`."""
    from metaex.core import records
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.recognize import recognizer

    guard_outputs([grammar, input], [(out, "file")])
    g = load_grammar(grammar)
    rec = recognizer(g)
    producer = records.producer("grammar check")
    rows = [records.make("check", text=text, valid=rec.accepts(text), grammar=g.name, grammar_hash=g.hash,
                         producer=producer) for _, _, text, _ in records.read_texts(input)]
    records.write(out, rows)
    _say(f"{sum(r['valid'] for r in rows)} of {len(rows)} strings are in {g.name}")


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
    from metaex.core import records
    from metaex.core.errors import InputError
    from metaex.core.grammar.pairs import minimal_pairs
    from metaex.core.grammar.pcfg import load_grammar

    guard_outputs([grammar, input], [(out, "file")])
    g = load_grammar(grammar)
    texts = []
    for path, line, text, rec in records.read_texts(input):
        if rec is not None and rec.get("grammar_hash") not in (None, g.hash):
            raise InputError(f"record of grammar {rec.get('grammar')!r} (hash {rec.get('grammar_hash')}), "
                             f"not of {g.name} ({g.hash})", path, line)
        if rec is None or rec.get("valid", True) is not False:
            texts.append(text)
    rows = minimal_pairs(g, texts, seed, per_string=per_string, perturbations=perturbation)
    if not rows:
        raise InputError(f"no minimal pairs: no string of {g.name} in the input has a perturbation "
                         "outside the language", "<stdin>" if str(input) == "-" else str(input))
    records.write(out, rows)
    _say(f"{len(rows)} minimal pairs from {len({r['good'] for r in rows})} strings of {g.name}")


@grammar_app.command("instantiate")
def instantiate(
    grammar: Path = _GRAMMAR,
    seed: int = typer.Option(..., "--seed", help="Random seed: picks the name and the words."),
    avoid: list[Path] = typer.Option([], "--avoid", help="Grammar whose name and words must not be reused "
                                     "(repeatable)."),
    out: Path = typer.Option(Path("-"), "-o", "--out", help="Output .pcfg ('-' = stdout)."),
) -> None:
    """The grammar under a fresh nonce name and nonce alphabet from the shipped lexicon."""
    from metaex.core import records
    from metaex.core.grammar.instantiate import instantiate as make_instance
    from metaex.core.grammar.instantiate import words_of
    from metaex.core.grammar.pcfg import load_grammar

    guard_outputs([grammar, *avoid], [(out, "file")])
    g = load_grammar(grammar)
    taken: set[str] = set()
    for other in avoid:
        taken |= words_of(load_grammar(other))
    inst = make_instance(g, seed, avoid=taken)
    with records.atomic_output(out) as fh:
        fh.write(inst.to_text())
    _say(f"{g.name} -> {inst.name}: " + ", ".join(inst.terminals))


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
    from metaex.core import records
    from metaex.core.grammar.random_gen import random_grammar

    guard_outputs([], [(out, "file")])
    g = random_grammar(family, seed, nonterminals=nonterminals, terminals=terminals, depth=depth)
    with records.atomic_output(out) as fh:
        fh.write(g.to_text())
    _say(f"{g.name}: {len(g.rules)} rules, expected length {g.expected_length:.1f}")


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
