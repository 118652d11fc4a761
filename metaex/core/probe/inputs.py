"""What a probe runs on, read and checked before anything is written: per grammar, a `GrammarItems`.

Test strings (`example` records), minimal pairs (`pair` records), training strings (`example` records, or
`document` records of doc_kind example) and explanations (`explanation` records) are matched to grammars by
instance name; a record whose `grammar_hash` disagrees with the grammar file is an error. Without a tests or
pairs file the items are made from the grammar itself (seeded), so an ad-hoc probe needs only the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar
from metaex.core.probe.tasks import Choice, GrammarItems, ProbeOptions, grammar_seed


def _by_grammar(path: str | Path, kinds: str | tuple[str, ...], grammars: Sequence[Grammar],
                *, allow_empty: bool = False) -> dict[str, list[dict]]:
    """Records of a file grouped by grammar name (only the given grammars); hash mismatches are errors."""
    known = {g.name: g for g in grammars}
    out: dict[str, list[dict]] = {name: [] for name in known}
    for rec in records.read_all(path, kinds, allow_empty=allow_empty):
        g = known.get(rec.get("grammar"))
        if g is None:
            continue
        if rec.get("grammar_hash") not in (None, g.hash):
            raise InputError(f"a record of grammar {g.name} has grammar_hash {rec['grammar_hash']}, but "
                             f"{g.source} has {g.hash} (a different version of the grammar)", str(path))
        out[g.name].append(rec)
    return out


def _require(found: dict[str, list[dict]], path: str | Path, what: str) -> None:
    missing = [name for name, recs in found.items() if not recs]
    if missing:
        raise InputError(f"no {what} for grammar {', '.join(missing)} (records are matched by the grammar's "
                         "instance name)", str(path))


def read_train(paths: Sequence[str | Path], grammars: Sequence[Grammar]) -> dict[str, set[str]]:
    """All training strings per grammar: the shared reference set that novelty is judged against."""
    out: dict[str, set[str]] = {g.name: set() for g in grammars}
    for path in paths:
        for name, recs in _by_grammar(path, ("example", "document"), grammars).items():
            for rec in recs:
                if rec["kind"] == "example":
                    out[name].add(rec["text"])
                elif rec["doc_kind"] == "example":
                    out[name].add(rec["text"].removeprefix(f"{name}:").strip())
    return out


def swap_name(text: str, old: str, new: str) -> str:
    """`text` with the word `old` replaced by `new` (whole words only)."""
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, text)


def build_choices(explanations: Sequence[dict], g: Grammar, limit: int | None) -> list[Choice]:
    """For each explanation of `g`: it against one explanation of every sibling grammar (same style and
    paraphrase where there is one), the sibling's name replaced by `g`'s so that only the content differs.
    With a `limit`, the questions cycle through the styles (paraphrase 0 of each style, then 1, …)."""
    own = [e for e in explanations if e["grammar"] == g.name]
    if limit is not None:
        own.sort(key=lambda e: (e["paraphrase"], e["style"]))
    siblings: dict[str, list[dict]] = {}
    for e in explanations:
        if e["grammar"] != g.name:
            siblings.setdefault(e["grammar"], []).append(e)
    if not siblings:
        return []
    choices = []
    for e in own[:limit]:
        distractors = []
        for name, es in sorted(siblings.items()):
            same = [x for x in es if x["style"] == e["style"]]
            pick = next((x for x in same if x["paraphrase"] == e["paraphrase"]), (same or es)[0])
            distractors.append(swap_name(pick["text"], name, g.name))
        choices.append(Choice(e["text"], distractors, e["style"]))
    return choices


def load_items(grammars: Sequence[Grammar], options: ProbeOptions, *, tests: str | Path | None = None,
               pairs: str | Path | None = None, train: Sequence[str | Path] = (),
               explanations: str | Path | None = None) -> dict[str, GrammarItems]:
    """GrammarItems per grammar name from the given files, or made from the grammar where a file is absent."""
    from metaex.core.grammar.sample import sample_strings

    train_sets = read_train(train, grammars)
    test_recs = pair_recs = None
    if tests is not None:
        test_recs = _by_grammar(tests, "example", grammars)
        _require(test_recs, tests, "test strings")
    if pairs is not None:
        pair_recs = _by_grammar(pairs, "pair", grammars)
        _require(pair_recs, pairs, "minimal pairs")
    expl = records.read_all(explanations, "explanation") if explanations is not None else []
    out = {}
    for g in grammars:
        seed = grammar_seed(options.seed, g.name)
        given = [r["text"] for r in test_recs[g.name]] if test_recs is not None else []
        data = [*given, *train_sets[g.name]]
        cap = length_cap(g, options, data)
        if options.length_reference == "data" and data:
            lengths = [len(s.split()) for s in data]
        else:
            lengths = [len(s.split()) for s in sample_strings(g, options.reference, seed, max_len=cap)]
        made = None
        if test_recs is None or pair_recs is None:
            made = _made_strings(g, options, seed, train_sets[g.name], cap)
        test_strings = given if test_recs is not None else made
        if pair_recs is not None:
            pair_list = [(r["good"], r["bad"]) for r in pair_recs[g.name]]
        else:
            from metaex.core.grammar.pairs import minimal_pairs

            pair_list = [(r["good"], r["bad"]) for r in minimal_pairs(g, made, seed)]
        out[g.name] = GrammarItems(
            grammar=g, tests=test_strings[: options.limit], pairs=pair_list[: options.limit],
            train=train_sets[g.name], choices=build_choices(expl, g, min(
                (n for n in (options.limit, options.verbal) if n is not None), default=None)), true_lengths=lengths,
            max_len=2 * max(lengths))
    return out


def length_cap(g: Grammar, options: ProbeOptions, strings: Sequence[str]) -> int | None:
    """The longest string (in terminals) the data allows: `--max-len`, else the grammar's `max_len` metadata,
    else the longest given test or training string (data sampled under a cap never exceeds it), else none.
    The true length distribution is that of grammar samples under this cap."""
    if options.max_len is not None:
        return options.max_len
    if g.meta.get("max_len"):
        return int(g.meta["max_len"])
    return max((len(s.split()) for s in strings), default=None)


def _made_strings(g: Grammar, options: ProbeOptions, seed: int, train: set[str],
                  max_len: int | None) -> list[str]:
    """Distinct strings of the grammar outside the training set, as many as the language allows."""
    from metaex.core.grammar.sample import sample_strings

    n = options.capped(options.n_items)
    try:
        pool = sample_strings(g, n + len(train), seed + 1, max_len=max_len, distinct=True)
    except InputError:  # a small language: take what plain sampling gives
        pool = list(dict.fromkeys(sample_strings(g, 20 * (n + len(train)), seed + 1, max_len=max_len)))
    return [s for s in pool if s not in train][:n]
