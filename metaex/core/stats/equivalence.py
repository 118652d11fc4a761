"""Verdicts that can bound a null: two one-sided tests (TOST) at a margin, Holm's correction, and the three answers.

A contrast's interval covering 0 is absence of evidence. With a margin δ (in the metric's units, converted from
extra example strings per grammar by the arm's own dose-response, `exchange.metric_margin`), a contrast is
*equivalent to 0 within δ* when both one-sided tests reject at 5 %: its 90 % interval lies inside (−δ, δ)
(Schuirmann 1987; Lakens 2017). The answers the report gives:

- a primary contrast (the explanation's effect): *detected* when its Holm-adjusted two-sided p (across the
  study's primary contrasts) is below 0.05; *excluded* above X when it is equivalent within the margin (X: the
  90 % interval's upper end read in example units); else *undetermined* (and, where the minimal detectable
  effect exceeds the margin, the design could not have seen it);
- a null control (`filler`, `mismatched`, a contested design's `examples`): *equivalent* within the margin,
  *nonzero* when its 95 % interval excludes 0 (the control failed), else *undetermined* — never "passed" for an
  interval that merely covers 0;
- the planted control: *detected* when its 95 % interval lies above 0, else *not detected*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DETECTED, EXCLUDED, UNDETERMINED = "detected", "excluded", "undetermined"
EQUIVALENT, NONZERO = "equivalent", "nonzero"
NOT_DETECTED = "not detected"
ALPHA = 0.05


@dataclass(frozen=True)
class Tost:
    """Two one-sided tests of |effect| < margin: the 90 % interval, the larger one-sided p, and the verdict."""

    low90: float
    high90: float
    p_value: float
    equivalent: bool


def tost(estimate: float, se: float, df: float, margin: float, alpha: float = ALPHA) -> Tost:
    """TOST of an estimate with standard error `se` on `df` degrees of freedom (t distribution) at ±margin."""
    from scipy import stats

    if not all(math.isfinite(v) for v in (estimate, se, df)) or df <= 0:
        return Tost(math.nan, math.nan, math.nan, False)
    q = float(stats.t.ppf(1 - alpha, df))
    if not (math.isfinite(margin) and margin > 0):      # no margin: the 90 % interval alone, no equivalence
        return Tost(estimate - q * se, estimate + q * se, math.nan, False)
    if se == 0:
        inside = abs(estimate) < margin
        return Tost(estimate, estimate, 0.0 if inside else 1.0, inside)
    p_low = float(stats.t.sf((estimate + margin) / se, df))      # H0: effect <= -margin
    p_high = float(stats.t.cdf((estimate - margin) / se, df))    # H0: effect >= +margin
    p = max(p_low, p_high)
    return Tost(estimate - q * se, estimate + q * se, p, p < alpha)


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels' multipletests); NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    finite = [i for i, p in enumerate(p_values) if math.isfinite(p)]
    out = [math.nan] * len(p_values)
    if finite:
        adjusted = multipletests([p_values[i] for i in finite], alpha=ALPHA, method="holm")[1]
        for i, p in zip(finite, adjusted, strict=True):
            out[i] = float(p)
    return out


def primary_verdict(p_adjusted: float, equivalence: Tost) -> str:
    """detected / excluded / undetermined for a primary contrast."""
    if math.isfinite(p_adjusted) and p_adjusted < ALPHA:
        return DETECTED
    return EXCLUDED if equivalence.equivalent else UNDETERMINED


def null_verdict(ci_low: float, ci_high: float, equivalence: Tost) -> str:
    """equivalent / nonzero / undetermined for a null control."""
    if equivalence.equivalent:
        return EQUIVALENT
    if ci_low > 0 or ci_high < 0:
        return NONZERO
    return UNDETERMINED


def planted_verdict(ci_low: float) -> str:
    """detected / not detected for the planted positive control (its effect is positive by construction)."""
    return DETECTED if math.isfinite(ci_low) and ci_low > 0 else NOT_DETECTED
