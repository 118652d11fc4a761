"""The work of the `metaex grammar` commands that write files: each reads its inputs, checks its outputs, writes
them atomically and returns the one-line summary the command prints. The CLI and the study runner call these
same functions, so a step run from its printed command and from `metaex study run` writes the same files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.files import guard_outputs, remove_outputs
from metaex.core.grammar.pcfg import Grammar, load_grammar


@contextmanager
def about(path: str | Path) -> Iterator[None]:
    """Name the grammar file in errors that concern the grammar but carry no file of their own."""
    try:
        yield
    except InputError as err:
        if err.path is None:
            raise InputError(str(err), str(path)) from None
        raise


def _examples(g: Grammar, texts: list[str], seed: int, split: str) -> list[dict]:
    extra = {k: g.meta[k] for k in ("template",) if k in g.meta}
    return [records.make("example", text=t, grammar=g.name, grammar_hash=g.hash, seed=seed, split=split,
                         producer=records.producer("grammar sample"), **extra) for t in texts]


def sample(grammar: str | Path, n: int, seed: int, *, out: str | Path = "-", max_len: int | None = None,
           distinct: bool = False, split: str = "pool", n_test: int | None = None,
           test_out: str | Path | None = None) -> str:
    """`n` strings of the grammar as `example` records; with `n_test`, also distinct test strings disjoint from
    the (then distinct) train strings, into `test_out`."""
    if split not in records.SPLITS:
        raise InputError(f"--split must be one of {', '.join(records.SPLITS)} (got {split!r})")
    if (n_test is None) != (test_out is None):
        raise InputError("--test and --test-out go together")
    if n_test is not None and str(test_out) == "-" and str(out) == "-":
        raise InputError("--test-out and -o cannot both be stdout")
    if n_test is not None and split == "test":
        raise InputError("with --test, -o holds the train strings: drop --split test")
    from metaex.core.grammar.sample import sample_split, sample_strings

    guard_outputs([grammar], [(out, "file"), (test_out, "file")])
    g = load_grammar(grammar)
    if n_test is None:
        with about(grammar):
            texts = sample_strings(g, n, seed, max_len=max_len, distinct=distinct)
        records.write(out, _examples(g, texts, seed, split))
        return f"{len(texts)} strings of {g.name} ({len(set(texts))} distinct)"
    with about(grammar):
        train, test = sample_split(g, n, n_test, seed, max_len=max_len)
    train_recs, test_recs = _examples(g, train, seed, "train"), _examples(g, test, seed, "test")
    remove_outputs([out, test_out])   # a kill between the two writes leaves neither old file beside a new one
    records.write(out, train_recs)
    records.write(test_out, test_recs)
    return f"{len(train)} train and {len(test)} test strings of {g.name}, distinct and disjoint"


def check(grammar: str | Path, input: str | Path = "-", *, out: str | Path = "-") -> str:
    """`check` records (`text`, `valid`) of each input string."""
    from metaex.core.grammar.recognize import TooLong, recognizer

    guard_outputs([grammar, input], [(out, "file")])
    g = load_grammar(grammar)
    rec = recognizer(g)
    producer = records.producer("grammar check")
    rows = []
    for path, line, text, _ in records.read_texts(input):
        try:
            valid = rec.accepts(text)
        except TooLong as err:
            raise InputError(err.reason, path, line) from None
        rows.append(records.make("check", text=text, valid=valid, grammar=g.name, grammar_hash=g.hash,
                                 producer=producer))
    records.write(out, rows)
    return f"{sum(r['valid'] for r in rows)} of {len(rows)} strings are in {g.name}"


def pairs(grammar: str | Path, input: str | Path, seed: int, *, out: str | Path = "-", per_string: int = 1,
          perturbations: Sequence[str] = ("substitution",)) -> str:
    """Minimal pairs (`good` in the language, `bad` one edit away and out of it) as `pair` records."""
    from metaex.core.grammar.pairs import minimal_pairs
    from metaex.core.grammar.recognize import TooLong, recognizer

    guard_outputs([grammar, input], [(out, "file")])
    g = load_grammar(grammar)
    rec_of = recognizer(g)
    texts = []
    for path, line, text, rec in records.read_texts(input):
        if rec is not None and rec.get("grammar_hash") not in (None, g.hash):
            raise InputError(f"record of grammar {rec.get('grammar')!r} (hash {rec.get('grammar_hash')}), "
                             f"not of {g.name} ({g.hash})", path, line)
        try:
            rec_of.check_length(len(text.split()))
        except TooLong as err:
            raise InputError(err.reason, path, line) from None
        if rec is None or rec.get("valid", True) is not False:
            texts.append(text)
    rows = minimal_pairs(g, texts, seed, per_string=per_string, perturbations=list(perturbations))
    if not rows:
        raise InputError(f"no minimal pairs: no string of {g.name} in the input has a perturbation "
                         "outside the language", "<stdin>" if str(input) == "-" else str(input))
    records.write(out, rows)
    return f"{len(rows)} minimal pairs from {len({r['good'] for r in rows})} strings of {g.name}"


def instantiate(grammar: str | Path, seed: int, *, avoid: Sequence[str | Path] = (), out: str | Path = "-") -> str:
    """The grammar under a fresh nonce name and alphabet (none of the `avoid` grammars' words), as a .pcfg."""
    from metaex.core.grammar.instantiate import instantiate as make_instance
    from metaex.core.grammar.instantiate import words_of

    guard_outputs([grammar, *avoid], [(out, "file")])
    g = load_grammar(grammar)
    taken: set[str] = set()
    for other in avoid:
        taken |= words_of(load_grammar(other))
    inst = make_instance(g, seed, avoid=taken)
    with records.atomic_output(out) as fh:
        fh.write(inst.to_text())
    return f"{g.name} -> {inst.name}: " + ", ".join(inst.terminals)


def random(family: str, seed: int, *, out: str | Path = "-", nonterminals: int | None = None,
           terminals: int | None = None, depth: int | None = None) -> str:
    """A random proper PCFG that passes the validator (placeholder terminals t1, t2, …), as a .pcfg."""
    from metaex.core.grammar.random_gen import random_grammar

    guard_outputs([], [(out, "file")])
    g = random_grammar(family, seed, nonterminals=nonterminals, terminals=terminals, depth=depth)
    with records.atomic_output(out) as fh:
        fh.write(g.to_text())
    return f"{g.name}: {len(g.rules)} rules, expected length {g.expected_length:.1f}"
