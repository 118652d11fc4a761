"""Power and the minimal detectable effect (MDE) of a contrast, from a study's own variance components.

The components of a contrast's seed × grammar cells y[s, g] (a condition's cell minus its reference's), read off a
finished study or a pilot (`components`):
- item noise: the items' sampling variance in each cell, s²/n summed over the two runs (for a metric whose cell is
  a mean of items; 0 where it is not, and then sample size cannot be projected);
- run noise: what the blocked model's residual variance leaves beyond the item noise (training runs differ);
- grammar spread: the spread of the grammars' own moves γ_g (it does not cancel in a seed-level statistic of a
  halves design, whose seeds explain different grammars).

`null_draws` simulates studies of any shape (seeds in complementary pairs, grammars, items per cell) from these
components with no effect, and applies both estimators. Both are linear in the cells, so planting an effect τ
shifts each estimate by exactly τ and leaves the blocked standard error unchanged (a grammar-specific τ_g is
absorbed by the model's τ_g); the seed-level statistic's per-seed values move by each seed's share of the
planted profile, so its power is recomputed per τ from the same draws. `mde` finds the smallest τ with 80 %
power at 5 % two-sided by bisection on those simulated draws (common random numbers: power is monotone in τ).
Profiles: `uniform` (every grammar moves by τ) and `one` (one grammar carries the whole mean effect τ, i.e. moves
by G·τ: the case the seed-level t cannot detect at 6 seeds, `by_grammar.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metaex.core.stats.blocked import blocked_fit
from metaex.core.stats.simulate import complementary_halves

POWER, ALPHA = 0.8, 0.05
ESTIMATORS = ("blocked", "seed")
PROFILES = ("uniform", "one")


@dataclass(frozen=True)
class Components:
    """Variance components of one contrast's cells, and the shape they were read from."""

    run_var: float          # training-run noise per cell (beyond item noise)
    item_var: float         # item sampling noise per cell at `items` items (s²/n, both runs)
    grammar_sd: float       # spread of the grammars' own moves
    seeds: int
    grammars: int
    items: int
    halves: bool            # whether seeds explain different halves of the grammars


def components(y: np.ndarray, explained: np.ndarray, item_var: np.ndarray | None, items: int) -> Components:
    """Components of cells y (S, G) with labels (S, G) and per-cell item noise s²/n (S, G) (None: unknown)."""
    y = np.asarray(y, dtype=float)
    expl = np.asarray(explained, dtype=bool)
    resid_var = float(blocked_fit(y, expl).sigma2)
    noise = float(np.nanmean(item_var)) if item_var is not None and np.isfinite(item_var).any() else 0.0
    halves = bool((expl.any(axis=-1) & ~expl.all(axis=-1)).any())
    grammar_means = np.nanmean(np.where(expl, np.nan, y), axis=0) if halves else np.nanmean(y, axis=0)
    spread = float(np.nanstd(grammar_means, ddof=1)) if np.isfinite(grammar_means).sum() > 1 else 0.0
    return Components(max(resid_var - noise, 0.0), noise, spread if halves else 0.0, y.shape[0], y.shape[1],
                      items, halves)


@dataclass(frozen=True)
class Draws:
    """Null studies of one shape: blocked estimates and SEs, per-seed values of the seed-level statistic, and the
    planted profile's per-seed shift per unit τ for each profile."""

    blocked: np.ndarray          # (N,) estimates
    blocked_se: np.ndarray       # (N,)
    blocked_df: np.ndarray       # (N,)
    per_seed: np.ndarray         # (N, S) seed-level statistic
    shift: dict[str, np.ndarray]  # profile -> (N, S) per-seed shift per unit of τ
    q_blocked: np.ndarray        # (N,) two-sided 5 % t critical values of the blocked fits (their df)
    q_seed: float                # the seed-level t critical value (S − 1 df)


def null_draws(comp: Components, *, seeds: int, grammars: int, items: int, n_sims: int,
               rng: np.random.Generator) -> Draws:
    """Simulated studies of this shape under the components, with no effect."""
    if comp.halves:
        expl = complementary_halves(rng, seeds, grammars, (n_sims,))
    else:
        expl = np.ones((n_sims, seeds, grammars), dtype=bool)
    noise = comp.run_var + comp.item_var * (comp.items / items if items else 1.0)
    gamma = rng.normal(0, comp.grammar_sd, (n_sims, 1, grammars))
    y = gamma + rng.normal(0, math.sqrt(max(noise, 0.0)), (n_sims, seeds, grammars))
    fit = blocked_fit(y, expl)
    if comp.halves:
        half = grammars / 2
        per_seed = (np.where(expl, y, 0).sum(-1) - np.where(expl, 0, y).sum(-1)) / half
        uniform = np.ones((n_sims, seeds))
        one = expl[..., 0] * (grammars / half)           # grammar 0 moves by G·τ where explained
    else:
        per_seed = y.mean(-1)
        uniform = np.ones((n_sims, seeds))
        one = np.ones((n_sims, seeds))                   # every seed has the grammar: mean shifts by τ
    from scipy import stats

    q = stats.t.ppf(1 - ALPHA / 2, np.where(np.isfinite(fit.df), fit.df, 1))
    return Draws(fit.estimate, fit.se, fit.df, per_seed, {"uniform": uniform, "one": one}, q,
                 float(stats.t.ppf(1 - ALPHA / 2, seeds - 1)))


def power(draws: Draws, effect: float, estimator: str, profile: str = "uniform") -> float:
    """Share of simulated studies whose two-sided t test at 5 % rejects 0 when `effect` is planted."""
    if estimator == "blocked":
        est, se, q = draws.blocked + effect, draws.blocked_se, draws.q_blocked
    else:
        x = draws.per_seed + effect * draws.shift[profile]
        n = x.shape[-1]
        est, se, q = x.mean(-1), x.std(-1, ddof=1) / math.sqrt(n), draws.q_seed
    with np.errstate(invalid="ignore", divide="ignore"):
        reject = np.abs(est / se) > q
    return float(np.mean(reject))


def mde(draws: Draws, estimator: str, profile: str = "uniform", target: float = POWER) -> float:
    """The smallest planted effect detected with power `target` (bisection on the draws; inf if none is; NaN where
    the estimator cannot be computed at this shape, e.g. a blocked model without residual df)."""
    values = draws.blocked if estimator == "blocked" else draws.per_seed.mean(-1)
    finite = values[np.isfinite(values)]
    if finite.size < 10 or (estimator == "seed" and draws.per_seed.shape[-1] < 2):
        return math.nan
    scale = float(np.std(finite)) or 1.0
    high = scale
    for _ in range(21):          # up to 10⁶ × the estimate's own spread
        if power(draws, high, estimator, profile) >= target:
            break
        high *= 2
    else:
        return math.inf
    low = 0.0
    for _ in range(40):
        mid = (low + high) / 2
        if power(draws, mid, estimator, profile) < target:
            low = mid
        else:
            high = mid
    return high


def mde_table(comp: Components, shapes: list[tuple[int, int, int]], *, n_sims: int, rng: np.random.Generator,
              profiles: tuple[str, ...] = PROFILES) -> list[dict]:
    """One row per (seeds, grammars, items): the MDE under each estimator and profile."""
    rows = []
    for seeds, grammars, items in shapes:
        draws = null_draws(comp, seeds=seeds, grammars=grammars, items=items, n_sims=n_sims, rng=rng)
        row = {"seeds": seeds, "grammars": grammars, "items": items}
        for est in ESTIMATORS:
            for prof in profiles:
                if est == "blocked" and prof != "uniform":
                    continue    # the blocked model absorbs a grammar-specific τ_g: same MDE for every profile
                row[f"mde_{est}" + ("" if prof == "uniform" else f"_{prof}")] = mde(draws, est, prof)
        rows.append(row)
    return rows
