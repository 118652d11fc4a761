"""Minimal pairs (BLiMP-style): a string of the language and a one-edit perturbation that leaves it.

Perturbations, each verified out of the language by the recognizer:
- `substitution`: one terminal replaced by another terminal of the grammar (same length) — the default;
- `swap`: two adjacent, different terminals exchanged (same length);
- `delete`: one terminal removed;
- `insert`: one terminal of the grammar inserted.
`position` is the index of the first changed token in the good string. Candidates are tried in a seeded
random order, so the same strings and seed give the same pairs. Strings outside the language are skipped,
and so is a perturbation type for which no candidate leaves the language.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar
from metaex.core.grammar.recognize import recognizer

PERTURBATIONS = ("substitution", "swap", "delete", "insert")
_PRODUCER = "grammar pairs"


def _candidates(kind: str, words: list[str], terminals: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    n = len(words)
    if kind == "substitution":
        for i in range(n):
            for t in terminals:
                if t != words[i]:
                    yield i, words[:i] + [t] + words[i + 1:]
    elif kind == "swap":
        for i in range(n - 1):
            if words[i] != words[i + 1]:
                yield i, words[:i] + [words[i + 1], words[i]] + words[i + 2:]
    elif kind == "delete":
        if n > 1:
            for i in range(n):
                yield i, words[:i] + words[i + 1:]
    else:  # insert
        for i in range(n + 1):
            for t in terminals:
                yield i, words[:i] + [t] + words[i:]


def minimal_pairs(g: Grammar, strings: Iterable[str], seed: int, *, per_string: int = 1,
                  perturbations: Iterable[str] = ("substitution",)) -> list[dict]:
    """`pair` records: for each valid string and perturbation type, up to `per_string` distinct bad strings."""
    kinds = tuple(perturbations)
    for kind in kinds:
        if kind not in PERTURBATIONS:
            raise InputError(f"unknown perturbation {kind!r} (choose from {', '.join(PERTURBATIONS)})")
    if per_string < 1:
        raise InputError(f"per_string must be at least 1 (got {per_string})")
    rec = recognizer(g)
    rng = random.Random(seed)
    producer = records.producer(_PRODUCER)
    out: list[dict] = []
    for text in strings:
        words = text.split()
        if not rec.accepts(words):
            continue
        good = " ".join(words)
        for kind in kinds:
            cands = list(_candidates(kind, words, g.terminals))
            rng.shuffle(cands)
            found: set[str] = set()
            for pos, bad_words in cands:
                bad = " ".join(bad_words)
                if bad in found or rec.accepts(bad_words):
                    continue
                found.add(bad)
                out.append(records.make("pair", good=good, bad=bad, perturbation=kind, position=pos,
                                        grammar=g.name, grammar_hash=g.hash, seed=seed, producer=producer))
                if len(found) == per_string:
                    break
    return out
