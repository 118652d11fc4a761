"""The grammar-blocked estimator: a linear model of a contrast's seed × grammar cells.

The seed-level estimator (`effects.py`) summarises each seed by one number, the mean over its explained grammars
minus the mean over its unexplained ones, and takes a t interval over seeds. When the effect differs by grammar,
which grammars a seed explains changes that number from seed to seed, although complementary seed pairs balance it
in the mean: the spread counts as noise, and an effect one grammar carries can never reach t > √(n − 1)
(`by_grammar.py`). Grammars are fixed (the same templates in every seed), so their differences are not sampling
noise. This estimator fits the cells y[s, g] of one contrast (a condition's cell minus the reference run's cell
of the same seed and grammar) with

    y[s, g] = α_s + γ_g + τ_g · E[s, g] + ε[s, g]        (halves designs: E varies within a seed)
    y[s, g] = τ_g + ε[s, g]                              (every grammar treated alike in a run, E ≡ 1)

α_s: the seed's run-to-run shift (shared by its grammars; it cancels in a within-run contrast), γ_g: how the
grammar moves whether explained or not, τ_g: the grammar's own effect; the estimand is the mean over grammars of
τ_g, what the seed-level estimator estimates too (in a balanced design the two point estimates are equal). Its
standard error comes from the pooled residual variance with the residual degrees of freedom (S·G − S − 2G + 1 in
a halves design: 11 at 6 seeds and 4 grammars, against 5 for the seed-level t), and the interval is a t interval.
Where E ≡ 1 (a contested design's told condition: every grammar told, each in its own direction), no seed term
is fitted: under the null the direction-adjusted cells carry no shared seed shift (the directions differ by
grammar at random), and tests/test_stats_blocked.py measures the coverage either way.

Ordinary least squares with 0/1 weights for missing cells, vectorised over leading batch axes (thousands of
simulated studies at once); `tests/test_stats_blocked.py` checks the fit against statsmodels' OLS and its
coverage on simulated studies (docs/DESIGN.md, "Statistics").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Blocked:
    """The blocked estimate of one contrast, arrays shaped (*batch)."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    sigma2: np.ndarray          # the residual variance per cell (RSS / df)


def design_matrix(explained: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(Z (*batch, S·G, P), contrast c (*batch, P), absorb_seeds) of the model for labels (*batch, S, G).

    Z holds the grammar dummies γ_g (all but the first) and one τ_g column per grammar (E[s, g] there; 1 where E is
    all true); the seed dummies α_s, fitted where some seed has both kinds of grammars (`absorb_seeds`), are not
    columns: they are absorbed by centring every column within its seed (Frisch–Waugh–Lovell), which keeps the
    normal equations at 2G − 1 unknowns however many seeds a simulated study has. c averages the τ_g."""
    expl = np.asarray(explained, dtype=bool)
    *batch, n_seeds, n_grammars = expl.shape
    halves = bool((expl.any(axis=-1) & ~expl.all(axis=-1)).any())
    cells = n_seeds * n_grammars
    grammar_of = np.tile(np.arange(n_grammars), n_seeds)
    dummies = np.eye(n_grammars)[grammar_of]
    if halves:
        tau = dummies * expl.reshape(*batch, cells, 1)
        z = np.concatenate([np.broadcast_to(dummies[:, 1:], (*batch, cells, n_grammars - 1)), tau], axis=-1)
    else:
        z = np.broadcast_to(dummies, (*batch, cells, n_grammars))
    c = np.zeros((*batch, z.shape[-1]))
    c[..., -n_grammars:] = 1.0 / n_grammars
    return z.astype(float), c, halves


def blocked_fit(y: np.ndarray, explained: np.ndarray, level: float = 0.95) -> Blocked:
    """The blocked estimate of mean_g τ_g from cells y (*batch, S, G) (NaN: missing) and labels (*batch, S, G) or
    (S, G). NaN where the model cannot be fitted (a grammar never explained or never not, no residual df)."""
    from scipy import stats

    y = np.asarray(y, dtype=float)
    expl = np.broadcast_to(np.asarray(explained, dtype=bool), y.shape)
    z, c, absorb = design_matrix(expl)
    *batch, n_seeds, n_grammars = y.shape
    w = np.isfinite(y).astype(float)                                   # (*batch, S, G)
    yw = np.where(w > 0, y, 0.0)
    zs = z.reshape(*batch, n_seeds, n_grammars, -1)
    lost = 0
    if absorb:                                   # centre y and every column within its seed (weighted)
        n_s = w.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            yw = np.where(w > 0, yw - (yw * w).sum(-1, keepdims=True) / n_s, 0.0)
            zs = np.where(w[..., None] > 0, zs - (zs * w[..., None]).sum(-2, keepdims=True) / n_s[..., None], 0.0)
        lost = (n_s[..., 0] > 0).sum(axis=-1)    # one α_s per seed with a cell
    zw = (zs * w[..., None]).reshape(*batch, n_seeds * n_grammars, -1)
    yv = yw.reshape(*batch, n_seeds * n_grammars)
    ztz = np.swapaxes(zw, -1, -2) @ zw
    inv = np.linalg.pinv(ztz, hermitian=True)
    beta = (inv @ (np.swapaxes(zw, -1, -2) @ yv[..., None]))[..., 0]
    resid = yv - (zw @ beta[..., None])[..., 0]
    rank = np.linalg.matrix_rank(ztz, hermitian=True)
    df = w.reshape(*batch, -1).sum(axis=-1) - rank - lost
    back = ((c[..., None, :] @ inv) @ ztz)[..., 0, :]
    estimable = np.all(np.abs(back - c) < 1e-8, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = (resid ** 2).sum(axis=-1) / df
        var = sigma2 * ((c[..., None, :] @ inv) @ c[..., :, None])[..., 0, 0]
        est = (c * beta).sum(axis=-1)
        ok = (df > 0) & estimable
        est = np.where(ok, est, np.nan)
        se = np.where(ok, np.sqrt(np.maximum(var, 0.0)), np.nan)
        q = stats.t.ppf(0.5 + level / 2, np.maximum(df, 1))
        t = est / se
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(t), np.maximum(df, 1)), np.where(est == 0, 1.0, 0.0))
    p = np.where(ok, p, np.nan)
    return Blocked(est, se, np.where(ok, df, np.nan), est - q * se, est + q * se, p, np.where(df > 0, sigma2, np.nan))
