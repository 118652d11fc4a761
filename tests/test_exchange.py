"""The exchange rate (metaex.core.stats.exchange) recovers planted worths on synthetic dose-responses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metaex.core.stats.exchange import equivalent_dose, exchange_rates, fit_curve

LADDER = (4, 6, 8, 12, 16, 24, 32, 48)


def _curve(d: float) -> float:
    return 0.1 + 0.12 * math.log2(d / 4)


def _ladder(rng: np.random.Generator, seeds: int, noise: float = 0.01) -> dict[int, np.ndarray]:
    offset = rng.normal(0, 0.03, seeds)                 # seed effects shared by every dose of a seed
    return {d: _curve(d) + offset + rng.normal(0, noise, seeds) for d in LADDER}


def test_monotone_fit_and_inverse():
    doses = np.array(LADDER, dtype=float)
    fitted = fit_curve(doses, np.array([0.1, 0.2, 0.15, 0.3, 0.35, 0.33, 0.5, 0.6]))
    assert np.all(np.diff(fitted) >= 0) and fitted[1] == fitted[2] == pytest.approx(0.175)
    assert equivalent_dose(doses, fitted, 0.175) == (6.0, None)           # the first dose that reaches it
    d, censored = equivalent_dose(doses, fitted, 0.55)                     # between 32 and 48, in log dose
    assert censored is None and d == pytest.approx(math.exp((math.log(32) + math.log(48)) / 2))
    assert equivalent_dose(doses, fitted, 0.9) == (48.0, "above")
    assert equivalent_dose(doses, fitted, 0.0) == (4.0, "below")


@pytest.mark.parametrize("worth", [16, 0])
def test_a_planted_worth_is_recovered_with_an_honest_interval(worth):
    rng = np.random.default_rng(7)
    seeds = 6
    ladder = _ladder(rng, seeds)
    gain = _curve(8 + worth) - _curve(8) + rng.normal(0, 0.01, seeds)
    [rate] = exchange_rates(ladder, {("worked", 8): gain}, n_resamples=2000, rng=rng)
    assert rate.condition == "worked" and rate.dose == 8 and rate.n_seeds == seeds and rate.censored is None
    assert rate.ci_low <= worth <= rate.ci_high
    assert abs(rate.extra - worth) < 3 and rate.ratio == pytest.approx(rate.extra / 8)
    if worth:
        assert rate.ci_low > 0


def test_beyond_the_ladder_is_censored():
    rng = np.random.default_rng(3)
    ladder = _ladder(rng, 6)
    [rate] = exchange_rates(ladder, {("worked", 8): np.full(6, 2.0)}, n_resamples=200, rng=rng)
    assert rate.censored == "above" and rate.equivalent_dose == 48 and rate.extra == 40


def test_coverage_over_many_studies():
    """About 95 % of intervals cover the planted worth (6 seeds, seed noise larger than item noise)."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(120):
        ladder = _ladder(rng, 6, noise=0.02)
        gain = _curve(20) - _curve(8) + rng.normal(0, 0.03, 6)
        [rate] = exchange_rates(ladder, {("x", 8): gain}, n_resamples=300, rng=rng)
        covered += rate.ci_low <= 12 <= rate.ci_high
    assert 0.85 <= covered / 120 <= 1.0, covered
