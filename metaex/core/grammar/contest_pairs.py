"""Contested pairs (`contest.py`): derivations of a grammar that use its contested alternative α exactly once, read
as variant A has α and as variant B has it (the swapped children, or the replacing sibling's subtree mapped
structurally), kept when each form is in its own variant's language only."""

from __future__ import annotations

import random
from dataclasses import dataclass

from metaex.core.grammar.contest import MAX_DRAWS, Contest, alternative, siblings, variant_b
from metaex.core.grammar.pcfg import Grammar

# --- derivations --------------------------------------------------------------------------------------------

Tree = tuple[int, tuple]   # (rule index in g.rules, children: subtrees or terminal strings)


class _Deriver:
    """Seeded derivation trees of a grammar, capped at `max_len` terminals."""

    def __init__(self, g: Grammar, max_len: int):
        from metaex.core.grammar.sample import min_lengths

        self.g = g
        self.max_len = max_len
        self.index = {id(r): n for n, r in enumerate(g.rules)}
        self.alts = {nt: [(self.index[id(r)], r) for r in rs] for nt, rs in g.by_lhs.items()}
        self.shortest = min_lengths(g)

    def tree(self, symbol: str, rng: random.Random, budget: int) -> tuple[Tree | str, int] | None:
        """A derivation of `symbol` with at most `budget` terminals (and its length), or None past the budget."""
        if symbol not in self.g.by_lhs:
            return symbol, 1
        if self.shortest[symbol] > budget:
            return None
        x, acc = rng.random(), 0.0
        choices = self.alts[symbol]
        n, rule = choices[-1]
        for n_, r in choices:
            acc += r.prob
            if x < acc:
                n, rule = n_, r
                break
        children, used = [], 0
        pending = sum(self.shortest.get(s, 1) for s in rule.rhs)
        for s in rule.rhs:
            pending -= self.shortest.get(s, 1)
            got = self.tree(s, rng, budget - used - pending)
            if got is None:
                return None
            children.append(got[0])
            used += got[1]
        return (n, tuple(children)), used


def words(t: Tree | str) -> list[str]:
    if isinstance(t, str):
        return [t]
    out: list[str] = []
    for child in t[1]:
        out += words(child)
    return out


def _uses(t: Tree | str, n: int) -> int:
    if isinstance(t, str):
        return 0
    return (t[0] == n) + sum(_uses(c, n) for c in t[1])


def _as_b(t: Tree | str, n: int, c: Contest, d: _Deriver, rng: random.Random) -> Tree | str:
    """The tree with every α node changed as variant B has it (a replaced nonterminal gets a fresh subtree)."""
    if isinstance(t, str):
        return t
    kids = [_as_b(k, n, c, d, rng) for k in t[1]]
    if t[0] == n:
        if c.op == "swap":
            kids[c.i], kids[c.j] = kids[c.j], kids[c.i]
        elif c.symbol in d.g.by_lhs:
            kids[c.i] = _mapped(kids[c.i], c.symbol, d, rng)
        else:
            kids[c.i] = c.symbol
    return (t[0], tuple(kids))


def _mapped(t: Tree | str, symbol: str, d: _Deriver, rng: random.Random) -> Tree | str:
    """A derivation of the sibling `symbol` as close to `t` as the rules allow: the same-numbered alternative,
    its terminals where they stand, a child of the same symbol kept whole, and a shape-alike child mapped in
    turn (a singular verb phrase `'neks' O` becomes `'nek' O` with the same object); otherwise a fresh subtree."""
    rule = d.g.rules[t[0]]
    alts = d.alts[symbol]
    k = [r for _, r in d.alts[rule.lhs]].index(rule)
    n, target = alts[k]
    if len(target.rhs) != len(rule.rhs):
        fresh = d.tree(symbol, rng, d.max_len)
        return fresh[0] if fresh else t
    kids = []
    for old_sym, new_sym, child in zip(rule.rhs, target.rhs, t[1], strict=True):
        if new_sym not in d.g.by_lhs:
            kids.append(new_sym)
        elif new_sym == old_sym:
            kids.append(child)
        elif old_sym in d.g.by_lhs and new_sym in siblings(d.g, old_sym):
            kids.append(_mapped(child, new_sym, d, rng))
        else:
            fresh = d.tree(new_sym, rng, d.max_len)
            kids.append(fresh[0] if fresh else child)
    return (n, tuple(kids))


@dataclass(frozen=True)
class Pair:
    a: str          # the derivation as variant A has it
    b: str          # and as variant B has it


def contested_pairs(g: Grammar, c: Contest, n: int, seed: int, max_len: int, *,
                    exclude: set[str] = frozenset(), draws: int = MAX_DRAWS) -> list[Pair]:
    """Up to `n` distinct contested pairs (a ∈ L(A) \\ L(B), b ∈ L(B) \\ L(A), both of at most `max_len` terminals),
    from derivations of g that use α exactly once, in draw order; pairs with a string in `exclude` are skipped."""
    from metaex.core.grammar.recognize import recognizer

    b_grammar = variant_b(g, c)
    in_a, in_b = recognizer(g).accepts, recognizer(b_grammar).accepts
    d = _Deriver(g, max_len)
    n_alpha = d.index[id(alternative(g, c))]
    rng = random.Random(f"metaex-contest:{seed}:{c.lhs}:{c.alt}:{c.op}:{c.i}:{c.j}")
    seen: set[tuple[str, str]] = set()
    out: list[Pair] = []
    for _ in range(draws):
        if len(out) >= n:
            break
        got = d.tree(g.start, rng, max_len)
        if got is None or _uses(got[0], n_alpha) != 1:
            continue
        a = " ".join(words(got[0]))
        b = " ".join(words(_as_b(got[0], n_alpha, c, d, rng)))
        if a == b or len(b.split()) > max_len or (a, b) in seen or a in exclude or b in exclude:
            continue
        seen.add((a, b))
        if in_a(a) and not in_b(a) and in_b(b) and not in_a(b):
            out.append(Pair(a, b))
    return out
