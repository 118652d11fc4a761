"""Grammar instances: the same rules under a fresh nonce name and a fresh nonce alphabet (STUDY.md).

A study never shows a shipped grammar's surface symbols. `instantiate` draws, from the shipped lexicon and
a seeded RNG, a capitalised name and one word per terminal, avoiding every word in `avoid` (compared in
lower case). Rules, probabilities, nonterminals, description and glosses are kept (with the template's words in
them renamed); `meta` records
`template` (the source grammar's name) and `template_hash`. The RNG is seeded with the seed *and* the
template's hash, so different grammars of one seed draw differently and names rotate across seeds.
"""

from __future__ import annotations

import random
import re
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
    words = {**mapping, g.name: name}
    meta = {**{k: _renamed(v, words) for k, v in g.meta.items() if k not in ("source",)}, "name": name,
            "template": g.meta.get("template", g.name), "template_hash": g.meta.get("template_hash", g.hash),
            "seed": str(seed)}
    return Grammar(name=name, start=g.start, rules=rules, description=_renamed(g.description, words),
                   glosses={nt: _renamed(text, words) for nt, text in g.glosses.items()}, meta=meta, source=None)


def _renamed(text: str, words: dict[str, str]) -> str:
    """`text` with the template's words (terminals, its name) replaced by the instance's wherever they stand
    quoted, and as whole words when longer than one letter: a description or gloss that mentions a template
    terminal must not carry it into the instance (glosses become explanation text)."""
    if not words or not text:
        return text
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    quoted = re.compile(r"(['\"])(" + alternatives + r")\1")
    text = quoted.sub(lambda m: m.group(1) + words[m.group(2)] + m.group(1), text)
    long = [w for w in words if len(w) > 1]
    if long:
        bare = re.compile(r"(?<![\w'\"])(" + "|".join(re.escape(w) for w in sorted(long, key=len, reverse=True))
                          + r")(?![\w'\"])")
        text = bare.sub(lambda m: words[m.group(1)], text)
    return text


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
