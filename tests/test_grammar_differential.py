"""The recognizer's verdicts equal nltk.ChartParser's on 2,000 strings per shipped grammar, valid and perturbed.

For cfg3 (strings of ~170 terminals, where nltk takes seconds per string) the grammar is cut down to the
part below one level-3 symbol (strings of 8–27 terminals, here at most 12): the same rules and the same kind of ambiguity,
at a length nltk parses quickly. Strings are kept short (max_len) so the test stays within seconds.
"""

from __future__ import annotations

import random

import pytest

from metaex.core.grammar.pcfg import Grammar, load_grammar, reachable_from
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import sample_strings

N = 1000  # valid strings per grammar, and as many perturbed ones


def _below(g: Grammar, start: str) -> Grammar:
    """The sub-grammar of the rules reachable from `start`, with `start` as its start symbol."""
    keep = reachable_from(g, start)
    rules = tuple(r for r in g.rules if r.lhs == start) + tuple(r for r in g.rules if r.lhs in keep - {start})
    return Grammar(name=f"{g.name}-{start}", start=start, rules=rules)


def _perturb(words: list[str], terminals: tuple[str, ...], rng: random.Random) -> list[str]:
    w = list(words)
    kind = rng.randrange(4)
    i = rng.randrange(len(w))
    if kind == 0:
        w[i] = rng.choice(terminals)
    elif kind == 1 and len(w) > 1:
        j = min(i + 1, len(w) - 1)
        w[i - 1 if j == i else i], w[j] = w[j], w[i - 1 if j == i else i]
    elif kind == 2 and len(w) > 1:
        del w[i]
    else:
        w.insert(i, rng.choice(terminals))
    return w


@pytest.mark.parametrize("name, max_len", [("reber", 11), ("dyck2", 12), ("counting", 12), ("agreement", 12),
                                           ("arith", 11), ("cfg3", 12)])
def test_recognizer_agrees_with_nltk(grammars_dir, name, max_len):
    import nltk

    g = load_grammar(grammars_dir / f"{name}.pcfg")
    if name == "cfg3":
        g = _below(g, "L3a")
    valid = sample_strings(g, N, 11, max_len=max_len)
    rng = random.Random(12)
    perturbed = [_perturb(s.split(), g.terminals, rng) for s in valid]
    strings = [s.split() for s in valid] + perturbed + [["zzz"], []]
    parser = nltk.ChartParser(nltk.PCFG.fromstring(g.to_text(with_meta=False)))
    rec = recognizer(g)
    verdicts: dict[tuple[str, ...], bool] = {}
    for words in strings:
        key = tuple(words)
        if key not in verdicts:
            try:
                verdicts[key] = bool(words) and next(parser.parse(words), None) is not None
            except ValueError:  # nltk: a word the grammar does not cover
                verdicts[key] = False
        assert rec.accepts(words) == verdicts[key], words
        assert rec.accepts(" ".join(words)) == verdicts[key]
    n_valid = sum(verdicts[tuple(w)] for w in perturbed)
    assert 0 < n_valid < len(perturbed)  # both verdicts occur among the perturbed strings
