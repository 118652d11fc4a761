"""True PCFG sampling: seeded, iterative (no recursion limit), with length rejection, dedup and splits.

A grammar is compiled once (cached by `Grammar.hash`) into integer tables: nonterminals are indices >= 0,
terminals are negative (`~t`). Each rule is stored as the terminals it starts with (emitted at once: they
would be the next symbols popped anyway) and the rest of its right-hand side reversed, so that a derivation
is one loop over an explicit stack. With `max_len`, a draw stops as soon as the terminals emitted plus the shortest
completion of the pending stack exceed it (early rejection instead of finishing a too-long string).

Randomness comes only from one `random.Random(seed)` per call, so the same seed gives the same strings.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar

# consecutive draws that yield nothing usable (too long, or a duplicate) before we give up
_MAX_MISSES = 20_000
# work budget (partial strings built) for the exact enumeration of a small language
_ENUM_BUDGET = 300_000


@dataclass(frozen=True)
class _Tables:
    terminals: tuple[str, ...]
    start: int
    # per nonterminal, per rule: (leading terminals, rest of the right-hand side reversed,
    # the rule's shortest yield minus the nonterminal's shortest yield)
    alts: tuple[tuple[tuple[tuple[str, ...], tuple[int, ...], int], ...], ...]
    cum: tuple[tuple[float, ...], ...]  # per nonterminal: cumulative probabilities but the last
    min_start: int  # shortest string of the grammar


_CACHE: dict[str, _Tables] = {}


def _tables(g: Grammar) -> _Tables:
    if g.hash not in _CACHE:
        _CACHE[g.hash] = _compile(g)
    return _CACHE[g.hash]


def _compile(g: Grammar) -> _Tables:
    nts = {nt: i for i, nt in enumerate(g.nonterminals)}
    terms = {t: i for i, t in enumerate(g.terminals)}
    shortest = min_lengths(g)
    alts, cum = [], []
    for nt in g.nonterminals:
        rules = g.by_lhs[nt]
        alts.append(tuple((*_split_rhs(r.rhs, nts, terms), sum(shortest.get(s, 1) for s in r.rhs) - shortest[nt])
                          for r in rules))
        acc, c = 0.0, []
        for r in rules[:-1]:
            acc += r.prob
            c.append(acc)
        cum.append(tuple(c))
    return _Tables(g.terminals, nts[g.start], tuple(alts), tuple(cum), shortest[g.start])


def _split_rhs(rhs: tuple[str, ...], nts: dict[str, int],
               terms: dict[str, int]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    k = 0
    while k < len(rhs) and rhs[k] not in nts:
        k += 1
    return rhs[:k], tuple(nts[s] if s in nts else ~terms[s] for s in reversed(rhs[k:]))


def min_lengths(g: Grammar) -> dict[str, int]:
    """Length of the shortest string each nonterminal derives (terminals count 1; no ε-rules). Knuth's
    generalisation of Dijkstra's algorithm: a rule's yield is the sum of its symbols', so a nonterminal's shortest
    is final when it is the smallest known; linear-logarithmic in the grammar's size."""
    import heapq

    waiting: dict[str, list[int]] = {}
    missing, known = [], []
    for i, r in enumerate(g.rules):
        nts = [s for s in r.rhs if s in g.by_lhs]
        missing.append(len(nts))
        known.append(len(r.rhs) - len(nts))
        for s in nts:
            waiting.setdefault(s, []).append(i)
    heap = [(known[i], r.lhs) for i, r in enumerate(g.rules) if missing[i] == 0]
    heapq.heapify(heap)
    best: dict[str, int] = {}
    while heap:
        n, nt = heapq.heappop(heap)
        if nt in best:
            continue
        best[nt] = n
        for i in waiting.get(nt, ()):
            missing[i] -= 1
            known[i] += n
            if missing[i] == 0 and g.rules[i].lhs not in best:
                heapq.heappush(heap, (known[i], g.rules[i].lhs))
    return {nt: best[nt] for nt in g.nonterminals}


def _draw(t: _Tables, rand, limit: float) -> str | None:
    """One derivation's string, or None once it must exceed `limit` terminals."""
    out: list[str] = []
    stack = [t.start]
    pop, push, emit, emit_all = stack.pop, stack.extend, out.append, out.extend
    alts, cum, terms = t.alts, t.cum, t.terminals
    bisect_ = bisect.bisect
    need = t.min_start  # terminals emitted + shortest completion of the stack
    while stack:
        s = pop()
        if s < 0:
            emit(terms[~s])
            continue
        c = cum[s]
        head, rest, grow = alts[s][bisect_(c, rand()) if c else 0]
        need += grow
        if need > limit:
            return None
        if head:
            emit_all(head)
        if rest:
            push(rest)
    return " ".join(out)


def _check_args(g: Grammar, n: int, max_len: int | None) -> _Tables:
    if n < 0:
        raise InputError(f"cannot sample a negative number of strings ({n})")
    t = _tables(g)
    if max_len is not None:
        if max_len < 1:
            raise InputError(f"--max-len must be at least 1 (got {max_len})")
        if t.min_start > max_len:
            raise InputError(f"grammar {g.name} has no string of at most {max_len} terminals "
                             f"(the shortest has {t.min_start})")
    return t


def sample_strings(g: Grammar, n: int, seed: int, *, max_len: int | None = None,
                   distinct: bool = False) -> list[str]:
    """`n` strings drawn from the PCFG (strings longer than `max_len` rejected), in draw order.

    With `distinct`, duplicates are skipped; an InputError says so when the language (under `max_len`)
    holds fewer than `n` strings (counted exactly when it is small) or when 20,000 draws in a row bring
    nothing new.
    """
    t = _check_args(g, n, max_len)
    rng = random.Random(seed)
    if distinct:
        _require_size(g, n, max_len)
        return _distinct(g, t, rng, n, set(), max_len)
    limit = max_len if max_len is not None else float("inf")
    out, misses = [], 0
    while len(out) < n:
        d = _draw(t, rng.random, limit)
        if d is None:
            misses += 1
            if misses > _MAX_MISSES:
                raise InputError(f"grammar {g.name}: {_MAX_MISSES} draws in a row were longer than "
                                 f"{max_len} terminals; raise --max-len")
            continue
        misses = 0
        out.append(d)
    return out


def split_window(n_train: int, n_test: int, small: bool) -> int:
    """How many distinct strings a train/test split is drawn from: 2 × n_test (so the test set depends only on
    the seed and n_test while n_train ≤ n_test), or n_train + n_test when that is more or the language is small."""
    return n_train + n_test if small else max(n_train + n_test, 2 * n_test)


def sample_split(g: Grammar, n_train: int, n_test: int, seed: int, *,
                 max_len: int | None = None) -> tuple[list[str], list[str]]:
    """Distinct, disjoint train and test strings that are exchangeable draws from one distribution.

    The first W distinct draws from one `random.Random(seed)` (W = `split_window`) are shuffled with a second
    seeded generator: the first `n_test` are the test strings, the next `n_train` (in that random order) the
    train strings. Both sides are uniform random subsets of one pool, so neither takes the likely strings
    (drawing the test strings first did: in a small language training then saw only the tail). While
    n_train ≤ n_test the pool, and so the test set, does not depend on n_train, and the train set for a smaller
    n_train is a prefix of the one for a larger (nested doses). A language with fewer than 2 × n_test strings
    under the cap is split from n_train + n_test draws instead.
    """
    if n_train < 0 or n_test < 0:
        raise InputError(f"cannot sample a negative number of strings ({n_train}, {n_test})")
    t = _check_args(g, n_train + n_test, max_len)
    _require_size(g, n_train + n_test, max_len)
    small = language_size(g, max_len, at_least=2 * n_test) is not None
    window = split_window(n_train, n_test, small)
    pool = _distinct(g, t, random.Random(seed), window, set(), max_len, need=n_train + n_test)
    random.Random(f"metaex-split:{seed}").shuffle(pool)
    return pool[n_test:n_test + n_train], pool[:n_test]


def _distinct(g: Grammar, t: _Tables, rng: random.Random, n: int, exclude: set[str],
              max_len: int | None, need: int | None = None) -> list[str]:
    """`n` distinct strings not in `exclude`, in draw order. With `need`, a language that runs out after `need`
    strings gives what it has instead of an error."""
    limit = max_len if max_len is not None else float("inf")
    seen = set(exclude)
    out: list[str] = []
    misses = draws = 0
    while len(out) < n:
        draws += 1
        s = _draw(t, rng.random, limit)
        if s is None or s in seen:
            misses += 1
            if misses > _MAX_MISSES and need is not None and len(out) >= need:
                return out
            if misses > _MAX_MISSES:
                bound = f" of at most {max_len} terminals" if max_len is not None else ""
                raise InputError(
                    f"grammar {g.name}: found only {len(seen)} distinct strings{bound} in {draws} draws "
                    f"({misses - 1} in a row brought nothing new), {(need or n) + len(exclude)} were asked for; "
                    "the language is (nearly) exhausted: ask for fewer or raise --max-len")
            continue
        misses = 0
        seen.add(s)
        out.append(s)
    return out


def _require_size(g: Grammar, n: int, max_len: int | None) -> None:
    size = language_size(g, max_len, at_least=n)
    if size is not None and size < n:
        bound = f" of at most {max_len} terminals" if max_len is not None else ""
        raise InputError(f"grammar {g.name} has only {size} distinct strings{bound}; "
                         f"cannot draw {n} distinct strings")


def is_finite(g: Grammar) -> bool:
    """Whether the language is finite: no nonterminal derives itself through a rule that grows the string, i.e. no
    rule of more than one symbol has a nonterminal on its right in the same strongly connected component as its
    left side (linear in the grammar's size; a transitive closure was cubic in its nonterminals)."""
    comp = _components(g)
    return not any(len(r.rhs) > 1 and any(s in comp and comp[s] == comp[r.lhs] for s in r.rhs) for r in g.rules)


def _components(g: Grammar) -> dict[str, int]:
    """The strongly connected component of each nonterminal in the graph A → B (B on a right side of A), by
    Tarjan's algorithm, iterative (a recursive walk would overflow Python's stack on a long chain)."""
    edges = {nt: [s for r in g.by_lhs[nt] for s in r.rhs if s in g.by_lhs] for nt in g.nonterminals}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    for root in g.nonterminals:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
            for j in range(i, len(edges[v])):
                w = edges[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    break
                if w not in comp:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        comp[w] = index[v]
                        if w == v:
                            break
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return comp


def language_size(g: Grammar, max_len: int | None = None, *, at_least: int) -> int | None:
    """The exact number of distinct strings (of at most `max_len` terminals) when it is below `at_least`;
    None when it is at least that many, or when counting would cost too much (then it is unknown)."""
    if max_len is None and not is_finite(g):
        return None
    bound = max_len if max_len is not None else float("inf")
    lang: dict[str, set[tuple[str, ...]]] = {nt: set() for nt in g.nonterminals}
    work = 0
    changed = True
    while changed:
        changed = False
        for r in g.rules:
            partial: set[tuple[str, ...]] = {()}
            for s in r.rhs:
                options = lang[s] if s in lang else ((s,),)
                grown: set[tuple[str, ...]] = set()
                for p in partial:   # the budget is counted per pair tried, so no one product can run away
                    work += len(options)
                    if work > _ENUM_BUDGET:
                        return None
                    grown.update(p + o for o in options if len(p) + len(o) <= bound)
                partial = grown
            target = lang[r.lhs]
            before = len(target)
            target |= partial
            if len(target) != before:
                changed = True
        if len(lang[g.start]) >= at_least:
            return None
    return len(lang[g.start])
