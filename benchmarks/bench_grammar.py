"""Grammar engine speed: sampler vs a naive recursive sampler, recognizer vs nltk's ChartParser, and the
recognizer on long cfg3 strings against a fixed floor of 100 strings/s (nltk is impractical there)."""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.common import Result, median_rate
from metaex.core.grammar.pcfg import Grammar, load_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import sample_strings

GRAMMARS = Path(__file__).resolve().parent.parent / "grammars"


def naive_sample(g: Grammar, rng: random.Random) -> str:
    """The textbook sampler: recursive expansion, `random.choices` with the rule weights at every node."""

    def expand(symbol: str) -> list[str]:
        if symbol not in g.by_lhs:
            return [symbol]
        rules = g.by_lhs[symbol]
        rule = rng.choices(rules, weights=[r.prob for r in rules])[0]
        out: list[str] = []
        for s in rule.rhs:
            out += expand(s)
        return out

    return " ".join(expand(g.start))


def _perturbed(g: Grammar, strings: list[str], rng: random.Random) -> list[str]:
    out = []
    for s in strings:
        words = s.split()
        words[rng.randrange(len(words))] = rng.choice(g.terminals)
        out.append(" ".join(words))
    return out


def run() -> list[Result]:
    import nltk

    rows = []
    toy = load_grammar(GRAMMARS / "agreement.pcfg")
    n = 5000
    ours = median_rate(lambda: len(sample_strings(toy, n, 1)))
    rng = random.Random(1)
    naive = median_rate(lambda: len([naive_sample(toy, rng) for _ in range(n)]))
    rows.append(Result("PCFG sampling, agreement grammar", "strings/s", ours, naive, "naive recursive sampler", 5))

    # membership on strings of length ~10 (8-12), half valid, half one-substitution perturbed
    arith = load_grammar(GRAMMARS / "arith.pcfg")
    for g in (toy, arith):
        valid = [s for s in sample_strings(g, 20000, 2, max_len=12) if len(s.split()) >= 8][:300]
        strings = valid + _perturbed(g, valid, random.Random(3))
        rec = recognizer(g)
        ours = median_rate(lambda: sum(1 for s in strings if rec.accepts(s) or True))  # noqa: B023
        parser = nltk.ChartParser(nltk.PCFG.fromstring(g.to_text(with_meta=False)))
        few = strings[::4]
        theirs = median_rate(lambda: sum(1 for s in few if next(parser.parse(s.split()), None) or True),  # noqa: B023
                             repeats=3)
        rows.append(Result(f"membership, length 8-12, {g.name} grammar", "strings/s", ours, theirs,
                           "nltk ChartParser", 30))

    cfg3 = load_grammar(GRAMMARS / "cfg3.pcfg")
    long = [s for s in sample_strings(cfg3, 400, 4) if len(s.split()) >= 200][:40]
    rec = recognizer(cfg3)
    ours = median_rate(lambda: sum(1 for s in long if rec.accepts(s)), repeats=3)
    mean_len = sum(len(s.split()) for s in long) / len(long)
    rows.append(Result(f"membership, cfg3 strings, mean length {mean_len:.0f}", "strings/s", ours, 100.0,
                       "fixed floor 100/s (no baseline run)", 1))
    return rows
