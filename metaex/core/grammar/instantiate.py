"""Grammar instances: the same rules under a fresh nonce name and a fresh nonce alphabet (STUDY.md).

A study never shows a shipped grammar's surface symbols. `instantiate` draws, from the shipped lexicon and
a seeded RNG, a capitalised name and one word per terminal, avoiding every word in `avoid` (compared in
lower case). Rules, probabilities, nonterminals, description and glosses are kept; `meta` records
`template` (the source grammar's name) and `template_hash`. The RNG is seeded with the seed *and* the
template's hash, so different grammars of one seed draw differently and names rotate across seeds.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from metaex.core.errors import InputError
from metaex.core.grammar.lexicon import lexicon
from metaex.core.grammar.pcfg import Grammar, Rule


def instantiate(g: Grammar, seed: int, *, avoid: Iterable[str] = frozenset()) -> Grammar:
    """`g` with a nonce name and nonce terminals drawn for `seed`, none of them in `avoid`."""
    taken = {w.lower() for w in avoid} | {nt.lower() for nt in g.nonterminals}
    pool = [w for w in lexicon() if w not in taken]
    need = 1 + len(g.terminals)
    if len(pool) < need:
        raise InputError(f"the lexicon has {len(pool)} unused words, grammar {g.name} needs {need}")
    rng = random.Random(f"metaex-instantiate:{seed}:{g.hash}")
    words = rng.sample(pool, need)
    name = words[0].capitalize()
    mapping = dict(zip(g.terminals, words[1:], strict=True))
    rules = tuple(Rule(r.lhs, tuple(mapping.get(s, s) for s in r.rhs), r.prob) for r in g.rules)
    meta = {**g.meta, "name": name, "template": g.meta.get("template", g.name),
            "template_hash": g.meta.get("template_hash", g.hash), "seed": str(seed)}
    return Grammar(name=name, start=g.start, rules=rules, description=g.description, glosses=dict(g.glosses),
                   meta=meta, source=None)


def instantiate_many(grammars: Sequence[Grammar], seed: int, *,
                     avoid: Iterable[str] = frozenset()) -> list[Grammar]:
    """Instances of several grammars for one seed whose names and words are pairwise disjoint (and not in
    `avoid`): each grammar is instantiated in turn, avoiding everything drawn before it."""
    taken = {w.lower() for w in avoid}
    out = []
    for g in grammars:
        inst = instantiate(g, seed, avoid=taken)
        taken |= words_of(inst)
        out.append(inst)
    return out


def words_of(g: Grammar) -> set[str]:
    """The lower-cased name and terminals of a grammar: what another instance must avoid."""
    return {g.name.lower(), *(t.lower() for t in g.terminals)}
