"""Fast membership and inside log-probability for a PCFG.

The grammar is compiled once (cached by `Grammar.hash`) into a binarised form: a rule `A -> X Y Z` becomes
`A -> X A'` and `A' -> Y Z` (suffix symbols shared between rules, probability 1), terminals are chart
symbols of their own (a terminal spans one position), and unit rules `A -> B` are kept as unit links.

Membership is a bit-parallel CYK: for each start position i (right to left) and symbol X, a Python int
holds the set of end positions j such that X derives words[i:j]. A binary rule `A -> B C` extends A's set
with the end sets of C at every end k of B — one big-int OR per (chart entry, rule), driven by an agenda
of newly found bits, so the cost follows the chart's actual size rather than n³·|rules|.

The inside algorithm reuses that chart to visit only spans that exist; each span keeps its own log scale,
so long strings do not underflow.

The chart holds, per start position, one int per symbol of up to n bits: its memory grows with the square of the
string's length (a 600 KB line once ended in a MemoryError, a 20 MB one in the kernel's OOM killer). A check is
therefore bounded: at most `MAX_WORDS` words, and no more than the chart's worst case fits in `CHART_BYTES`
(`max_words`); a longer string is an InputError (`TooLong`) naming its length and the bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar

Text = str | Sequence[str]
MAX_WORDS = 2_000        # the longest string a check takes (its worst-case time grows with the cube of the length)
CHART_BYTES = 1 << 30    # the most a chart may take, at worst: n positions × symbols × (a slot + n bits)


class TooLong(InputError):
    """A string longer than a check may take; `reason` is the message without a file or line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Recognizer:
    """Membership test and string log-probability under one grammar; build it with `recognizer(g)`."""

    def __init__(self, g: Grammar):
        self.grammar_hash = g.hash
        sym: dict[object, int] = {}

        def idx(s: object) -> int:
            return sym.setdefault(s, len(sym))

        for t in g.terminals:
            idx(t)
        for nt in g.nonterminals:
            idx(nt)
        binary: list[tuple[int, int, int, float]] = []  # (A, B, C, p) for A -> B C
        unit: list[tuple[int, int, float]] = []         # (A, B, p) for A -> B
        for r in g.rules:
            a, rhs = idx(r.lhs), r.rhs
            if len(rhs) == 1:
                unit.append((a, idx(rhs[0]), r.prob))
                continue
            p = r.prob
            while len(rhs) > 2:  # A -> X rest, rest -> ...: suffix symbols are shared between rules
                key = ("suffix", *rhs[1:])
                known = key in sym
                binary.append((a, idx(rhs[0]), idx(key), p))
                if known:
                    break
                a, rhs, p = idx(key), rhs[1:], 1.0
            else:
                binary.append((a, idx(rhs[0]), idx(rhs[1]), p))
        self.nsym = len(sym)
        self.words = {t: sym[t] for t in g.terminals}
        self.start = sym[g.start]
        parents: list[list[int]] = [[] for _ in range(self.nsym)]   # lists first: a tuple grown one rule at a
        lefts: list[list[tuple[int, int, float]]] = [[] for _ in range(self.nsym)]   # time is quadratic
        for a, b, _ in unit:
            parents[b].append(a)
        for a, b, c, p in binary:
            lefts[b].append((c, a, p))
        self.unit_parents: list[tuple[int, ...]] = [tuple(x) for x in parents]
        self.left_rules: list[tuple[tuple[int, int], ...]] = [tuple((c, a) for c, a, _ in x) for x in lefts]
        self.left_rules_p: list[tuple[tuple[int, int, float], ...]] = [tuple(x) for x in lefts]
        self.closure = _unit_closure(self.nsym, unit)
        n = MAX_WORDS
        while n > 1 and n * self.nsym * (8 + n / 8) > CHART_BYTES:
            n = int(n * 0.9)
        self.max_words = n   # the longest string this grammar's checks take (MAX_WORDS, or less for a big grammar)

    def _ids(self, text: Text) -> list[int] | None:
        words = text.split() if isinstance(text, str) else list(text)
        try:
            return [self.words[w] for w in words]
        except KeyError:
            return None

    def check_length(self, n: int) -> None:
        """TooLong when a string of `n` words is longer than this grammar's checks take."""
        if n > self.max_words:
            raise TooLong(f"a string of {n:,} words: metaex checks strings of at most {self.max_words:,} words "
                          f"against this grammar ({self.nsym:,} chart symbols; a check's memory grows with the "
                          "square of the length, its time faster)")

    def _chart(self, toks: list[int]) -> list[list[int]]:
        """rows[i][X] = bitset of end positions j with X =>* words[i:j]."""
        n, nsym = len(toks), self.nsym
        self.check_length(n)
        unit, left = self.unit_parents, self.left_rules
        rows: list[list[int]] = [[]] * n + [[0] * nsym]
        for i in range(n - 1, -1, -1):
            row = [0] * nsym
            rows[i] = row
            t, bit = toks[i], 1 << (i + 1)
            row[t] = bit
            agenda = [(t, bit)]
            while agenda:
                b, delta = agenda.pop()
                for a in unit[b]:
                    new = delta & ~row[a]
                    if new:
                        row[a] |= new
                        agenda.append((a, new))
                rules = left[b]
                if not rules:
                    continue
                x = delta
                while x:
                    low = x & -x
                    x ^= low
                    rk = rows[low.bit_length() - 1]
                    for c, a in rules:
                        ends = rk[c]
                        if ends:
                            new = ends & ~row[a]
                            if new:
                                row[a] |= new
                                agenda.append((a, new))
        return rows

    def accepts(self, text: Text) -> bool:
        """Whether the grammar derives the string (space-separated terminals or a token list)."""
        toks = self._ids(text)
        if not toks:
            return False
        return bool(self._chart(toks)[0][self.start] >> len(toks) & 1)

    def logprob(self, text: Text) -> float:
        """Natural-log probability of the string under the PCFG (sum over all derivations); -inf outside
        the language, for unknown words and for the empty string."""
        toks = self._ids(text)
        if not toks:
            return -math.inf
        n = len(toks)
        rows = self._chart(toks)
        if not rows[0][self.start] >> n & 1:
            return -math.inf
        # ins[i][j] = (log scale, {symbol: inside value / exp(scale)}), for spans that exist
        ins: list[dict[int, tuple[float, dict[int, float]]]] = [{} for _ in range(n + 1)]
        closure, left = self.closure, self.left_rules_p
        for i in range(n - 1, -1, -1):
            ends = 0
            for e in rows[i]:
                ends |= e
            row_ins = ins[i]
            j = i
            ends >>= i + 1
            while ends:
                step = (ends & -ends).bit_length()
                ends >>= step
                j += step
                parts: list[tuple[float, dict[int, float]]] = []
                if j == i + 1:
                    parts.append((0.0, {toks[i]: 1.0}))
                for k in sorted(row_ins):
                    if k >= j or j not in ins[k]:
                        continue
                    (ls, lv), (rs, rv) = row_ins[k], ins[k][j]
                    acc: dict[int, float] = {}
                    for b, vb in lv.items():
                        for c, a, p in left[b]:
                            vc = rv.get(c)
                            if vc:
                                acc[a] = acc.get(a, 0.0) + p * vb * vc
                    if acc:
                        parts.append((ls + rs, acc))
                if parts:
                    row_ins[j] = _close(parts, closure)
        scale, vals = ins[0][n]
        return scale + math.log(vals[self.start])



_DENSE_UNITS = 2000   # symbols in unit rules up to which their closure is one dense inverse
_SERIES_STEPS = 2000  # terms of the sparse series beyond that


def _unit_closure(nsym: int, unit: list[tuple[int, int, float]]) -> list[tuple[tuple[int, float], ...]]:
    """closure[B] = ((A, w), ...): w = total probability of unit chains A =>* B (including A = B, w = 1).

    Only the symbols in unit rules take part: their U is inverted densely (I − U)⁻¹ when there are few, else summed
    as the sparse series Σ U^m (entries under 1e-13 dropped) until it settles; a dense inverse over every symbol of
    a large grammar took gigabytes. The series converges since ρ(U) ≤ ρ(expected children) < 1 (proper grammar)."""
    closure: list[tuple[tuple[int, float], ...]] = [((b, 1.0),) for b in range(nsym)]
    if not unit:
        return closure
    import numpy as np

    used = sorted({a for a, _, _ in unit} | {b for _, b, _ in unit})
    pos = {s: i for i, s in enumerate(used)}
    k = len(used)
    rows, cols, vals = zip(*((pos[a], pos[b], p) for a, b, p in unit), strict=True)
    if k <= _DENSE_UNITS:
        u = np.zeros((k, k))
        np.add.at(u, (list(rows), list(cols)), list(vals))
        star = np.linalg.inv(np.eye(k) - u)
        for j, b in enumerate(used):
            closure[b] = tuple((used[i], float(star[i, j])) for i in np.nonzero(star[:, j] > 1e-12)[0])
        return closure
    star = _series(k, rows, cols, vals)
    for j, b in enumerate(used):
        lo, hi = star.indptr[j], star.indptr[j + 1]
        closure[b] = tuple((used[i], float(w)) for i, w in zip(star.indices[lo:hi], star.data[lo:hi], strict=True)
                           if w > 1e-12)
    return closure


def _series(k: int, rows: tuple, cols: tuple, vals: tuple):
    from scipy import sparse

    from metaex.core.errors import InputError

    u = sparse.csr_matrix((vals, (rows, cols)), shape=(k, k))
    eye = sparse.identity(k, format="csr")
    star = eye
    for _ in range(_SERIES_STEPS):
        nxt = eye + u @ star
        nxt.data[nxt.data < 1e-13] = 0.0
        nxt.eliminate_zeros()
        if abs(nxt - star).max() < 1e-13:
            return nxt.tocsc()
        star = nxt
    raise InputError(f"the grammar's unit rules (A -> B) link {k:,} symbols in chains too long to check strings "
                     "against: use fewer unit rules")


def _close(parts: list[tuple[float, dict[int, float]]],
           closure: list[tuple[tuple[int, float], ...]]) -> tuple[float, dict[int, float]]:
    """Sum the contributions of a span (each with its own log scale), apply unit chains, renormalise."""
    top = max(s for s, _ in parts)
    out: dict[int, float] = {}
    for s, vals in parts:
        f = math.exp(s - top)
        for b, v in vals.items():
            for a, w in closure[b]:
                out[a] = out.get(a, 0.0) + w * v * f
    m = max(out.values())
    return top + math.log(m), {a: v / m for a, v in out.items() if v > 0}


_RECOGNIZERS: dict[str, Recognizer] = {}


def recognizer(g: Grammar) -> Recognizer:
    """The compiled recognizer of `g`, built once per grammar content (cached by `g.hash`)."""
    if g.hash not in _RECOGNIZERS:
        _RECOGNIZERS[g.hash] = Recognizer(g)
    return _RECOGNIZERS[g.hash]
