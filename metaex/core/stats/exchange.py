"""The exchange rate: how many extra example strings per grammar a condition's extra documents are worth.

The `examples` condition's dose–response (its level against examples per grammar) is fitted monotone: scipy's
isotonic regression on the ladder's doses, read between them by linear interpolation in log dose. A condition at
dose d gained `gain` over `examples` at d (per seed, on the same grammars: the report reads each grammar half on
its own curve); its equivalent dose d* solves f(d*) = f(d) + gain, the first dose at which `examples` reaches
that level. The exchange rate is d* − d extra examples per grammar, and (d* − d) / d.
A level beyond the ladder's ends is censored there (d* is the largest or smallest dose; `censored` says which).

The interval: seeds resampled with replacement, together across doses and conditions (every cell of a seed shares
its grammars and halves), the curve refitted in each resample; each side is the distance from the estimate to that
side's bootstrap percentile, widened by t(n − 1) / z × sqrt(n / (n − 1)) (`bootstrap.skewed_t_interval`: the
report's t interval where the bootstrap distribution is symmetric). A dose read off a curve that is flat in places
has a lopsided distribution, and a symmetric interval would cross zero where no resample does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metaex.core.stats.bootstrap import skewed_t_interval


@dataclass(frozen=True)
class Rate:
    """One condition at one dose, read on the `examples` curve."""

    condition: str
    dose: int
    equivalent_dose: float
    extra: float             # d* − d, extra example strings per grammar
    ratio: float             # (d* − d) / d
    ci_low: float            # of `extra`
    ci_high: float
    se: float
    censored: str | None     # "above" / "below" the ladder, or None
    n_seeds: int


def fit_curve(doses: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The non-decreasing least-squares fit of `levels` at increasing `doses` (NaN levels are left out)."""
    from scipy.optimize import isotonic_regression

    ok = np.isfinite(levels)
    fitted = np.full(len(levels), np.nan)
    if ok.any():
        fitted[ok] = isotonic_regression(levels[ok], increasing=True).x
    return fitted


def curve_at(doses: np.ndarray, fitted: np.ndarray, dose: float) -> float:
    """The fitted curve at `dose`, linear in log dose between the ladder's doses."""
    ok = np.isfinite(fitted)
    return float(np.interp(math.log(dose), np.log(doses[ok]), fitted[ok]))


def equivalent_dose(doses: np.ndarray, fitted: np.ndarray, target: float) -> tuple[float, str | None]:
    """(the first dose at which the curve reaches `target`, censored) on the ladder."""
    ok = np.isfinite(fitted)
    d, y = doses[ok], fitted[ok]
    x = np.log(d)
    if target > y[-1]:
        return float(d[-1]), "above"
    if target < y[0]:
        return float(d[0]), "below"
    i = int(np.searchsorted(y, target, side="left"))      # y[i - 1] < target <= y[i]
    if i == 0 or y[i] == target or y[i] == y[i - 1]:
        return float(d[i]), None
    t = (target - y[i - 1]) / (y[i] - y[i - 1])
    return float(math.exp(x[i - 1] + t * (x[i] - x[i - 1]))), None


def exchange_rates(ladder: dict[int, np.ndarray], gains: dict[tuple[str, int], np.ndarray], *, n_resamples: int,
                   rng: np.random.Generator) -> list[Rate]:
    """Rates of every (condition, dose) in `gains`.

    ladder: examples dose -> per-seed level (S,), the metric averaged over a set of the seed's grammars; gains:
    (condition, dose) -> per-seed gain over `examples` at that dose on the same grammars (S,). Every array lists
    the same seeds in the same order.
    """
    doses = np.array(sorted(ladder), dtype=float)
    levels = np.stack([np.asarray(ladder[int(d)], dtype=float) for d in doses])           # (D, S)
    n_seeds = levels.shape[1]
    idx = rng.integers(0, n_seeds, (n_resamples, n_seeds))

    def read(level_means: np.ndarray, gain: float, dose: int) -> tuple[float, str | None]:
        fitted = fit_curve(doses, level_means)
        return equivalent_dose(doses, fitted, curve_at(doses, fitted, dose) + gain)

    with np.errstate(invalid="ignore"):
        observed = np.nanmean(levels, axis=1)
        replicates = np.nanmean(levels[:, idx], axis=-1)                                 # (D, B)
    out = []
    for (cond, dose), per_seed in gains.items():
        per_seed = np.asarray(per_seed, dtype=float)
        d_star, censored = read(observed, float(np.nanmean(per_seed)), dose)
        with np.errstate(invalid="ignore"):
            boot_gain = np.nanmean(per_seed[idx], axis=-1)
        boot = np.array([read(replicates[:, b], boot_gain[b], dose)[0] - dose for b in range(n_resamples)])
        n = int(np.isfinite(per_seed).sum())
        low, high, se = skewed_t_interval(d_star - dose, boot, n)
        out.append(Rate(cond, dose, d_star, d_star - dose, (d_star - dose) / dose, float(low), float(high),
                        float(se), censored, n))
    return out
