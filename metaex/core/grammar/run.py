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
           test_out: str | Path | None = None, shared: bool = False) -> str:
    """`n` strings of the grammar as `example` records; with `n_test`, also distinct test strings disjoint from
    the (then distinct) train strings, into `test_out`. With `shared`, drawn from the grammar's shared
    sub-language (its declared contested alternative left out: strings both variants accept), recorded as the
    grammar's own."""
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
    source = g
    if shared:
        from metaex.core.grammar.contest import shared_of

        with about(grammar):
            source = shared_of(g)
    if n_test is None:
        with about(grammar):
            texts = sample_strings(source, n, seed, max_len=max_len, distinct=distinct)
        records.write(out, _examples(g, texts, seed, split))
        return f"{len(texts)} strings of {g.name} ({len(set(texts))} distinct)"
    with about(grammar):
        train, test = sample_split(source, n, n_test, seed, max_len=max_len)
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


CONTEST_SCHEMA = "metaex/contest@1"


def is_contest_dir(folder: Path) -> bool:
    """Whether `folder` holds what `grammar contest` wrote (it may be replaced)."""
    import json

    try:
        return json.loads((Path(folder) / "contest.json").read_text(encoding="utf-8")).get("schema") == CONTEST_SCHEMA
    except (OSError, ValueError, AttributeError):
        return False


def contest(grammar: str | Path, seed: int, out: str | Path, *, told: str = "a", pairs: int = 60, strings: int = 0,
            max_len: int = 20, rule: str | None = None, change: str | None = None, need: int = 1) -> str:
    """`grammar contest`: OUT/a.pcfg and OUT/b.pcfg (the two variants, each declaring the contest from its side),
    OUT/pairs.jsonl (`pairs` contested pairs: fields a and b, and which variant is `told`), OUT/strings.jsonl
    (`strings` more contested strings of the told variant, `example` records of split pool, for training: none
    of them in a pair) and OUT/contest.json (the contest, its measurements, the seed). `need`: distinct strings
    the shared sub-language must hold under `max_len` (the largest dose and the test strings of a study)."""
    import json

    from metaex.core.files import atomic_dir
    from metaex.core.grammar import contest as C
    from metaex.core.grammar.contest_pairs import contested_pairs

    if told not in ("a", "b"):
        raise InputError(f"--told must be a or b, got {told!r}")
    for name, value, least in (("--pairs", pairs, 1), ("--strings", strings, 0), ("--max-len", max_len, 1),
                               ("--need", need, 1)):
        if value < least:
            raise InputError(f"{name} must be at least {least}, got {value}")
    guard_outputs([grammar], [(out, "folder", is_contest_dir)])
    g = load_grammar(grammar)
    with about(grammar):
        chosen = C.choose(g, max_len=max_len, need=need, pairs=pairs + strings, seed=seed, rule=rule, change=change)
        a, b = C.variants(g, chosen.contest)
        found = contested_pairs(g, chosen.contest, pairs + strings, seed, max_len)
    if len(found) < pairs + strings:
        raise InputError(f"only {len(found)} distinct contested pairs of at most {max_len} terminals were found for "
                         f"{chosen.contest.describe(g)}; {pairs + strings} were asked for (--pairs + --strings)",
                         str(grammar))
    test, train = found[:pairs], found[pairs:]
    told_g = a if told == "a" else b
    prov = {"grammar": told_g.name, "grammar_hash": told_g.hash, "seed": seed}
    producer = records.producer("grammar contest")
    pair_recs = [records.make("contest_pair", a=p.a, b=p.b, told=told, item=i, producer=producer, **prov)
                 for i, p in enumerate(test)]
    string_recs = [records.make("example", text=getattr(p, told), split="pool", contested=True,
                                producer=producer, **prov) for p in train]
    info = {"schema": CONTEST_SCHEMA, "producer": producer, "grammar": str(grammar), "name": g.name,
            "contest": chosen.contest.to_dict(), "rule": C.rule_text(g, C.alternative(g, chosen.contest)),
            "change": chosen.contest.spec(g), "told": told, "seed": seed, "max_len": max_len,
            "hashes": {"a": a.hash, "b": b.hash}, "pairs": len(pair_recs), "strings": len(string_recs),
            "measured": {"pairs_found": chosen.pairs, "alpha_prob": chosen.alpha_prob}}
    with atomic_dir(Path(out)) as folder:
        (folder / "a.pcfg").write_text(a.to_text(), encoding="utf-8")
        (folder / "b.pcfg").write_text(b.to_text(), encoding="utf-8")
        records.write(folder / "pairs.jsonl", pair_recs)
        records.write(folder / "strings.jsonl", string_recs)
        (folder / "contest.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return (f"{out}: {C.rule_text(g, C.alternative(g, chosen.contest))} contested ({chosen.contest.spec(g)}), "
            f"told {told}; {len(pair_recs)} pairs, {len(string_recs)} training strings")
