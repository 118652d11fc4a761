"""Constraint facts about a grammar's language, derived from its rules by fixpoint computations.

Every fact here is *exact* for the language of a validated grammar (no ε-rules, every nonterminal productive
and reachable), not guessed from samples: first and last symbols, which symbol may follow which, length
bounds and residues, per-symbol count bounds, count invariants between two symbols (#x − #y is constant) and
bracket-like nesting (reading from the left, closers never outnumber openers). Numbers are only stated up to
`LIMIT`, so the explanation vocabulary stays finite.
"""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core.grammar.pcfg import Grammar

LIMIT = 100  # the largest number an explanation states; bounds above it are left unsaid
_CAP = LIMIT + 1
_INF = float("inf")


@dataclass(frozen=True)
class Fact:
    """One true statement about every string of the language.

    kind and args:
      first (symbols)             every string begins with one of these terminals
      last (symbols)              every string ends with one of these terminals
      follow (x, symbols)         after x comes one of symbols (empty: x is always last)
      min_length (n), max_length (n), exact_length (n)
      unbounded ()                strings of every length above some point exist (no upper limit)
      residue (m, r)              the number of symbols leaves remainder r when divided by m
      count_exact (x, n), count_min (x, n), count_max (x, n)
      balance (x, y, c)           #x − #y == c in every string
      nesting (x, y)              every prefix has #x >= #y (and whole strings have #x == #y)
    """

    kind: str
    args: tuple


def _fix(update, init: dict) -> dict:
    """Iterate `update` (values dict → new values dict) to its fixpoint."""
    cur = init
    while True:
        nxt = update(cur)
        if nxt == cur:
            return cur
        cur = nxt


def _sets(g: Grammar, at: int) -> dict[str, frozenset]:
    """Terminals that can begin (at=0) or end (at=-1) a string derived from each nonterminal."""

    def update(cur):
        out = {}
        for nt, rules in g.by_lhs.items():
            acc = set()
            for r in rules:
                s = r.rhs[at]
                acc |= cur[s] if s in cur else {s}
            out[nt] = frozenset(acc)
        return out

    return _fix(update, {nt: frozenset() for nt in g.nonterminals})


def _bigrams(g: Grammar, first: dict, last: dict) -> frozenset:
    def fs(s, table):
        return table[s] if s in table else {s}

    def update(cur):
        out = {}
        for nt, rules in g.by_lhs.items():
            acc = set()
            for r in rules:
                for i, s in enumerate(r.rhs):
                    if s in cur:
                        acc |= cur[s]
                    if i + 1 < len(r.rhs):
                        acc |= {(a, b) for a in fs(s, last) for b in fs(r.rhs[i + 1], first)}
            out[nt] = frozenset(acc)
        return out

    return _fix(update, {nt: frozenset() for nt in g.nonterminals})[g.start]


def _extreme(g: Grammar, weight, pick, init: float) -> dict[str, float]:
    """min (pick=min, init=inf) or capped max (pick=max, init=0) of a per-terminal additive weight."""

    def update(cur):
        out = {}
        for nt, rules in g.by_lhs.items():
            vals = [sum(cur[s] if s in cur else weight(s) for s in r.rhs) for r in rules]
            out[nt] = min(pick(vals), _CAP) if pick is max else pick(vals)
        return out

    return _fix(update, {nt: init for nt in g.nonterminals})


def _residues(g: Grammar, m: int) -> frozenset:
    def update(cur):
        out = {}
        for nt, rules in g.by_lhs.items():
            acc = set()
            for r in rules:
                sums = {0}
                for s in r.rhs:
                    sums = {(a + b) % m for a in sums for b in (cur[s] if s in cur else {1})}
                acc |= sums
            out[nt] = frozenset(acc)
        return out

    return _fix(update, {nt: frozenset() for nt in g.nonterminals})[g.start]


def _pumpable(g: Grammar) -> bool:
    """True when some nonterminal derives a form containing itself and at least one more symbol."""
    for nt in g.nonterminals:
        seen, stack = set(), [(nt, False)]
        while stack:
            cur, grew = stack.pop()
            for r in g.by_lhs[cur]:
                for s in r.rhs:
                    if s not in g.by_lhs:
                        continue
                    state = (s, grew or len(r.rhs) > 1)
                    if state == (nt, True):
                        return True
                    if state not in seen:
                        seen.add(state)
                        stack.append(state)
    return False


def _difference(g: Grammar, x: str, y: str) -> dict[str, int] | None:
    """#x − #y per nonterminal when it is the same for every string the nonterminal derives, else None."""
    w = {x: 1, y: -1}
    value: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for r in g.rules:
            if r.lhs not in value and all(s in value or s not in g.by_lhs for s in r.rhs):
                value[r.lhs] = sum(value[s] if s in g.by_lhs else w.get(s, 0) for s in r.rhs)
                changed = True
    for r in g.rules:
        if value[r.lhs] != sum(value[s] if s in g.by_lhs else w.get(s, 0) for s in r.rhs):
            return None
    return value


def _min_prefix(g: Grammar, x: str, y: str, diff: dict[str, int]) -> float:
    """Smallest value of #x − #y over all non-empty prefixes of strings of the start symbol (−inf if unbounded)."""
    w = {x: 1, y: -1}

    def update(cur):
        out = {}
        for nt, rules in g.by_lhs.items():
            best = _INF
            for r in rules:
                run = 0
                for s in r.rhs:
                    here = cur[s] if s in cur else w.get(s, 0)
                    best = min(best, run + here)
                    run += diff[s] if s in diff else w.get(s, 0)
            out[nt] = max(best, -_CAP)
        return out

    return _fix(update, {nt: _INF for nt in g.nonterminals})[g.start]


def derive_facts(g: Grammar) -> list[Fact]:
    """All constraint facts of `g`, in a fixed order (see `Fact`)."""
    order = {t: i for i, t in enumerate(g.terminals)}

    def sort(symbols) -> tuple:
        return tuple(sorted(symbols, key=order.__getitem__))

    first, last = _sets(g, 0), _sets(g, -1)
    facts = [Fact("first", (sort(first[g.start]),)), Fact("last", (sort(last[g.start]),))]
    bigrams = _bigrams(g, first, last)
    for t in g.terminals:
        facts.append(Fact("follow", (t, sort(b for a, b in bigrams if a == t))))
    lo = int(_extreme(g, lambda s: 1, min, _INF)[g.start])
    hi = _extreme(g, lambda s: 1, max, 0)[g.start]
    if lo == hi:
        facts.append(Fact("exact_length", (lo,)))
    else:
        if 1 < lo <= LIMIT:
            facts.append(Fact("min_length", (lo,)))
        if hi < _CAP:
            facts.append(Fact("max_length", (int(hi),)))
        if _pumpable(g):
            facts.append(Fact("unbounded", ()))
        for m in (2, 3):
            res = _residues(g, m)
            if len(res) == 1:
                facts.append(Fact("residue", (m, next(iter(res)))))
    counts = {}
    for t in g.terminals:
        cmin = int(_extreme(g, lambda s, t=t: int(s == t), min, _INF)[g.start])
        cmax = _extreme(g, lambda s, t=t: int(s == t), max, 0)[g.start]
        counts[t] = (cmin, cmax)
        if cmin == cmax and cmin <= LIMIT:
            facts.append(Fact("count_exact", (t, cmin)))
            continue
        if 0 < cmin <= LIMIT:
            facts.append(Fact("count_min", (t, cmin)))
        if cmax < _CAP:
            facts.append(Fact("count_max", (t, int(cmax))))
    for i, x in enumerate(g.terminals):
        for y in g.terminals[i + 1:]:
            if counts[x][0] == counts[x][1] and counts[y][0] == counts[y][1]:
                continue  # implied by the two exact counts
            diff = _difference(g, x, y)
            if diff is None or abs(diff[g.start]) > LIMIT:
                continue
            facts.append(Fact("balance", (x, y, diff[g.start])))
            if diff[g.start] == 0:
                for a, b in ((x, y), (y, x)):
                    signed = diff if a == x else {k: -v for k, v in diff.items()}
                    if _min_prefix(g, a, b, signed) >= 0:
                        facts.append(Fact("nesting", (a, b)))
    return facts
