"""Random proper PCFGs for studies and bridging corpora, seeded; every one passes the validator.

Families:
- `regular`: right-linear (Reber-like) — states `S, Q1, …`; each state emits a terminal and moves on or
  stops. Every state can reach a stopping rule, so the grammar is proper.
- `cfg`: a general context-free grammar over `nonterminals` symbols: each has 2–3 rules of length 1–3
  mixing terminals and later (or, for recursion, earlier) nonterminals.
- `cfg` with `depth` (or `deep=True`, depth 6): layered like Allen-Zhu & Li's cfg3f — the start symbol,
  then `depth - 1` levels of `nonterminals` symbols each (default 3), every rule 2–3 symbols of the next
  level, the last level rewriting to `terminals` terminals (default 3); uniform rule probabilities.

Terminals are placeholders `t1, t2, …`: a study instantiates them with nonce words (`instantiate`). A
candidate that fails validation (unreachable symbols, improper) or whose expected length is outside
3–25 (non-layered families) is redrawn from the
same random stream, so the result depends on the seed alone.
"""

from __future__ import annotations

import random

from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar, Rule, parse_grammar

FAMILIES = ("regular", "cfg")
_TRIES = 1000
_EXPECTED = (3.0, 25.0)  # accepted expected lengths of non-layered grammars: not trivial, not huge


def random_grammar(family: str, seed: int, *, nonterminals: int | None = None, terminals: int | None = None,
                   depth: int | None = None, deep: bool = False) -> Grammar:
    """A random validated grammar of `family` ("regular" or "cfg"); sizes default per family (see module)."""
    if family not in FAMILIES:
        raise InputError(f"unknown grammar family {family!r} (choose from {', '.join(FAMILIES)})")
    if deep and depth is None:
        depth = 6
    if depth is not None and family != "cfg":
        raise InputError("--depth applies to the cfg family only")
    layered = depth is not None
    nonterminals = nonterminals if nonterminals is not None else (3 if layered else 5)
    terminals = terminals if terminals is not None else (3 if layered else 4)
    _check_size("nonterminals", nonterminals, 1, 200)
    _check_size("terminals", terminals, 1, 200)
    if layered:
        _check_size("depth", depth, 2, 10)
    rng = random.Random(seed)
    terms = [f"t{i + 1}" for i in range(terminals)]
    for _ in range(_TRIES):
        if family == "regular":
            rules = _regular(rng, nonterminals, terms)
        elif layered:
            rules = _layered(rng, depth, nonterminals, terms)
        else:
            rules = _general(rng, nonterminals, terms)
        g = _validated(rules, family, seed, layered)
        if g is not None:
            return g
    raise InputError(f"no valid {family} grammar of this size found in {_TRIES} tries; change the sizes")


def _check_size(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InputError(f"--{name} must be between {low} and {high} (got {value})")


def _normalised(lhs: str, rhss: list[tuple[str, ...]], weights: list[float]) -> list[Rule]:
    total = sum(weights)
    return [Rule(lhs, rhs, round(w / total, 6)) for rhs, w in zip(rhss, weights, strict=True)]


def _regular(rng: random.Random, n: int, terms: list[str]) -> list[Rule]:
    states = ["S"] + [f"Q{i}" for i in range(1, n)]
    rules: list[Rule] = []
    for i, q in enumerate(states):
        moves: set[tuple[str, ...]] = set()
        if i + 1 < n:  # a chain through every state keeps all of them reachable
            moves.add((rng.choice(terms), states[i + 1]))
        for _ in range(rng.randint(1, 2)):
            moves.add((rng.choice(terms), rng.choice(states)))
        if i == n - 1 or rng.random() < 0.4:
            moves.add((rng.choice(terms),))
        rhss = sorted(moves)
        rules += _normalised(q, rhss, [rng.uniform(0.5, 1.5) + (len(r) == 1) for r in rhss])
    return rules


def _general(rng: random.Random, n: int, terms: list[str]) -> list[Rule]:
    nts = ["S"] + [f"N{i}" for i in range(1, n)]
    rules: list[Rule] = []
    for i, a in enumerate(nts):
        later = nts[i + 1:]
        rhss: set[tuple[str, ...]] = set()
        if later:  # introduce the next symbol so that every nonterminal is reachable
            rhss.add(tuple(rng.sample([nts[i + 1], rng.choice(terms)], 2)))
        rhss.add(tuple(rng.choice(terms) for _ in range(rng.randint(1, 2))))  # a way out: productive
        for _ in range(rng.randint(0, 2)):
            pool = terms + later + ([a] if rng.random() < 0.3 else [])
            rhss.add(tuple(rng.choice(pool) for _ in range(rng.randint(2, 3))))
        rhss_sorted = sorted(rhss)
        weights = [rng.uniform(0.5, 1.5) * (0.4 if a in r else 1.0) for r in rhss_sorted]
        rules += _normalised(a, rhss_sorted, weights)
    return rules


def _layered(rng: random.Random, depth: int, width: int, terms: list[str]) -> list[Rule]:
    levels = [["S"]] + [[f"L{d}{chr(97 + k)}" if width <= 26 else f"L{d}_{k}" for k in range(width)]
                        for d in range(1, depth)]
    rules: list[Rule] = []
    for d, level in enumerate(levels):
        below = levels[d + 1] if d + 1 < depth else terms
        for a in level:
            rhss: set[tuple[str, ...]] = set()
            want = rng.randint(2, 3)
            while len(rhss) < want:
                rhss.add(tuple(rng.choice(below) for _ in range(rng.randint(2, 3))))
            rhss_sorted = sorted(rhss)
            rules += _normalised(a, rhss_sorted, [1.0] * len(rhss_sorted))
    return rules


def _validated(rules: list[Rule], family: str, seed: int, layered: bool) -> Grammar | None:
    kind = "deep cfg (cfg3-like)" if layered else family
    draft = Grammar(name=f"random-{family}{'-deep' if layered else ''}-{seed}", start="S", rules=tuple(rules),
                    description=f"A random {kind} grammar (seed {seed}).")
    try:
        g = parse_grammar(draft.to_text(), source="<random grammar>")
    except InputError:
        return None
    if not layered and not _EXPECTED[0] <= g.expected_length <= _EXPECTED[1]:
        return None
    return g
