"""The exchange rate: how many extra example strings per grammar a condition's extra documents are worth.

The `examples` condition's dose–response (its level against examples per grammar) is fitted monotone: scipy's
isotonic regression on the ladder's doses, read between them by linear interpolation in log dose. A condition at
dose d gained `gain` over `examples` at d (per seed, on the same grammars: the report reads each grammar half on
its own curve); its equivalent dose d* solves f(d*) = f(d) + gain, read outward from d: for a gain the first dose above d at which
`examples` reaches that level, for a loss the last dose below d at which it is still down there, and for no gain d
itself (a flat stretch of the curve around d does not turn a zero gain into a jump to the stretch's first dose).
The exchange rate is d* − d extra examples per grammar, and (d* − d) / d.
A level beyond the ladder's ends is censored there (d* is the largest or smallest dose; `censored` says which).
`contrast_rates` reads two conditions at once, d*(a) − d*(b) within every resample: what a condition is worth
beyond another (`explained` beyond `mismatched`: the explanation beyond its words). `metric_margin` turns a margin
in extra examples into the metric's units on the same curve (the equivalence tests of `equivalence.py`).
A ladder whose x includes 0 (a contested design's ladder of added contested strings, 0 being `examples`) is read
linearly in x instead of in log x (`scale`).

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


def scale_of(doses: np.ndarray) -> str:
    """"log" for a ladder of positive doses, "linear" for one that starts at 0 (added strings)."""
    return "log" if float(np.min(doses)) > 0 else "linear"


def _x(doses: np.ndarray | float, scale: str) -> np.ndarray:
    return np.log(doses) if scale == "log" else np.asarray(doses, dtype=float)


def _from_x(x: float, scale: str) -> float:
    return math.exp(x) if scale == "log" else x


def curve_at(doses: np.ndarray, fitted: np.ndarray, dose: float, scale: str | None = None) -> float:
    """The fitted curve at `dose`, linear in log dose (or in dose, `scale`) between the ladder's doses."""
    scale = scale or scale_of(doses)
    ok = np.isfinite(fitted)
    return float(np.interp(_x(dose, scale), _x(doses[ok], scale), fitted[ok]))


def equivalent_dose(doses: np.ndarray, fitted: np.ndarray, target: float, at: float | None = None,
                    scale: str | None = None) -> tuple[float, str | None]:
    """(d*, censored): where the curve reaches `target`, read outward from the dose `at` (the cell's own).

    Above the curve's level at `at`: the first dose from `at` up at which it reaches `target`; below: the last dose
    from `at` down at which it is still at or below it; at that level, `at` itself. Without `at`: the first dose at
    which the curve reaches `target`. Beyond the ladder's ends: the end, censored "above" / "below"."""
    scale = scale or scale_of(doses)
    ok = np.isfinite(fitted)
    d, y = doses[ok], fitted[ok]
    x = _x(d, scale)
    if target > y[-1]:
        return float(d[-1]), "above"
    if target < y[0]:
        return float(d[0]), "below"
    if at is not None:
        here = curve_at(d, y, at, scale)
        if target == here:
            return float(at), None
        if target < here:           # the last point at or below the target: the mirror image, read from the top
            i = int(np.searchsorted(y, target, side="right")) - 1     # y[i] <= target < y[i + 1]
            if y[i] == target or i == len(y) - 1:
                return float(d[i]), None
            t = (target - y[i]) / (y[i + 1] - y[i])
            return _from_x(x[i] + t * (x[i + 1] - x[i]), scale), None
    i = int(np.searchsorted(y, target, side="left"))      # y[i - 1] < target <= y[i]
    if i == 0 or y[i] == target or y[i] == y[i - 1]:
        return float(d[i]), None
    t = (target - y[i - 1]) / (y[i] - y[i - 1])
    return _from_x(x[i - 1] + t * (x[i] - x[i - 1]), scale), None


def metric_margin(doses: np.ndarray, levels: np.ndarray, dose: float, extra: float) -> float:
    """A margin of `extra` example strings per grammar at `dose`, in the metric's units: f(dose + extra) − f(dose)
    on the isotonic fit of the per-dose mean `levels` (NaN when the ladder cannot reach dose + extra)."""
    doses = np.asarray(doses, dtype=float)
    fitted = fit_curve(doses, np.asarray(levels, dtype=float))
    ok = np.isfinite(fitted)
    if ok.sum() < 2 or dose + extra > doses[ok][-1]:
        return math.nan
    scale = scale_of(doses)
    return curve_at(doses, fitted, dose + extra, scale) - curve_at(doses, fitted, dose, scale)


def exchange_rates(ladder: dict[int, np.ndarray], gains: dict[tuple[str, int], np.ndarray], *, n_resamples: int,
                   rng: np.random.Generator,
                   contrasts: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] | None = None) -> list[Rate]:
    """Rates of every (condition, dose) in `gains`, and of every (a, b, dose) in `contrasts`.

    ladder: x -> per-seed level (S,), the metric averaged over a set of the seed's grammars (x: examples per
    grammar, or added strings from 0); gains: (condition, x) -> per-seed gain over the ladder's own run at x on the
    same grammars (S,); contrasts: (a, b, x) -> (gain of a, gain of b): the rate of a minus the rate of b, both
    read within each resample (condition "a − b"). Every array lists the same seeds in the same order.
    """
    doses = np.array(sorted(ladder), dtype=float)
    scale = scale_of(doses)
    levels = np.stack([np.asarray(ladder[int(d)], dtype=float) for d in doses])           # (D, S)
    n_seeds = levels.shape[1]
    idx = rng.integers(0, n_seeds, (n_resamples, n_seeds))

    def read(level_means: np.ndarray, gain: float, dose: int) -> tuple[float, str | None]:
        fitted = fit_curve(doses, level_means)
        return equivalent_dose(doses, fitted, curve_at(doses, fitted, dose, scale) + gain, at=dose, scale=scale)

    def boot(per_seed: np.ndarray, dose: int) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            boot_gain = np.nanmean(per_seed[idx], axis=-1)
        return np.array([read(replicates[:, b], boot_gain[b], dose)[0] for b in range(n_resamples)])

    with np.errstate(invalid="ignore"):
        observed = np.nanmean(levels, axis=1)
        replicates = np.nanmean(levels[:, idx], axis=-1)                                 # (D, B)
    out = []
    for (cond, dose), per_seed in gains.items():
        per_seed = np.asarray(per_seed, dtype=float)
        d_star, censored = read(observed, float(np.nanmean(per_seed)), dose)
        n = int(np.isfinite(per_seed).sum())
        low, high, se = skewed_t_interval(d_star - dose, boot(per_seed, dose) - dose, n)
        out.append(Rate(cond, dose, d_star, d_star - dose, _ratio(d_star - dose, dose), float(low), float(high),
                        float(se), censored, n))
    for (a, b, dose), (gain_a, gain_b) in (contrasts or {}).items():
        gain_a, gain_b = np.asarray(gain_a, dtype=float), np.asarray(gain_b, dtype=float)
        d_a, cens_a = read(observed, float(np.nanmean(gain_a)), dose)
        d_b, cens_b = read(observed, float(np.nanmean(gain_b)), dose)
        n = int((np.isfinite(gain_a) & np.isfinite(gain_b)).sum())
        low, high, se = skewed_t_interval(d_a - d_b, boot(gain_a, dose) - boot(gain_b, dose), n)
        out.append(Rate(f"{a} − {b}", dose, math.nan, d_a - d_b, _ratio(d_a - d_b, dose), float(low), float(high),
                        float(se), cens_a or cens_b, n))
    return out


def _ratio(extra: float, dose: float) -> float:
    return extra / dose if dose else math.nan
