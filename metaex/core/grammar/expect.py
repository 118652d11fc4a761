"""A PCFG's expectations: M[A, B], the expected number of B children of one A node, and t[A], the expected number of
terminals directly below it. Expected lengths solve (I − M) x = t; a grammar is proper (its derivations finite in
expectation) iff the spectral radius ρ(M) < 1.

Up to `DENSE` nonterminals numpy's dense solve and eigenvalues do it (and the radius is reported). Above, scipy's
GMRES on the sparse system (an LU factorisation fills in towards a dense matrix when the rules link nonterminals at
random): for a nonnegative M, ρ(M) < 1 exactly when (I − M) y = 1 has a solution y > 0 (y is then the expected
number of nodes a nonterminal expands to; Collatz–Wielandt), and y above 1e9, or a system the solver cannot bring
to 1e-12, counts as improper, as ρ ≥ 1 − 1e-9 does in the dense test. A 2,000-nonterminal grammar's dense
eigenvalue solve took 227 s on a busy core (issue 30); the iterative solve, milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metaex.core.grammar.pcfg import Grammar

DENSE = 300          # nonterminals up to which the dense solve (and the exact radius) is used
_IMPROPER = 1e9      # expected nodes per derivation beyond which a grammar counts as improper


def _system(g: Grammar) -> tuple[dict[str, int], Any, Any]:
    """(index of each nonterminal, M as a scipy CSR or numpy array, t)."""
    import numpy as np

    idx = {nt: i for i, nt in enumerate(g.nonterminals)}
    n = len(idx)
    rows, cols, vals, t = [], [], [], np.zeros(n)
    for r in g.rules:
        i = idx[r.lhs]
        for s in r.rhs:
            if s in idx:
                rows.append(i)
                cols.append(idx[s])
                vals.append(r.prob)
            else:
                t[i] += r.prob
    if n <= DENSE:
        m = np.zeros((n, n))
        np.add.at(m, (rows, cols), vals)
        return idx, m, t
    from scipy import sparse

    return idx, sparse.csr_matrix((vals, (rows, cols)), shape=(n, n)), t


def _solve(m: Any, rhs: Any) -> Any:
    """x with (I − M) x = rhs; NaN or inf where the system is singular."""
    import numpy as np

    n = rhs.shape[0]
    if isinstance(m, np.ndarray):
        try:
            return np.linalg.solve(np.eye(n) - m, rhs)
        except np.linalg.LinAlgError:
            return np.full(n, np.inf)
    from scipy import sparse
    from scipy.sparse.linalg import gmres

    a = sparse.identity(n, format="csr") - m
    x, info = gmres(a, rhs, rtol=1e-12, atol=0.0, restart=100, maxiter=100)
    return np.asarray(x, dtype=float) if info == 0 else np.full(n, np.inf)


def expected_lengths(g: Grammar) -> dict[str, float]:
    """Expected number of terminals each nonterminal derives (finite for a validated grammar)."""
    idx, m, t = _system(g)
    x = _solve(m, t)
    return {nt: float(x[i]) for nt, i in idx.items()}


def improper(g: Grammar) -> str | None:
    """Why `g` is improper (its spectral radius, or that it is at least 1), or None when it is proper."""
    import numpy as np

    idx, m, _ = _system(g)
    if not idx:
        return None
    if isinstance(m, np.ndarray):
        radius = float(max(abs(np.linalg.eigvals(m))))
        return f"is {radius:.3f} >= 1" if radius >= 1 - 1e-9 else None
    y = _solve(m, np.ones(len(idx)))
    residual = np.abs(y - m @ y - 1).max() if np.isfinite(y).all() else np.inf
    if np.isfinite(y).all() and y.min() > 0 and y.max() <= _IMPROPER and residual < 1e-6 * max(1.0, y.max()):
        return None
    return "is at least 1"
