"""The exchange rate (metaex.core.stats.exchange) recovers planted worths on synthetic dose-responses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metaex.core.stats.exchange import equivalent_dose, exchange_rates, fit_curve, metric_margin

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


def test_a_zero_gain_reads_as_zero_extra_examples_inside_a_flat_stretch():
    """Regression (issue 29, defect 1): with fitted levels (0.045, 0.045, 0.2, …) at doses (4, 8, 16, …), a gain of 0
    at dose 8 read as the flat stretch's first dose, −4 extra examples, while +0.001 read as +0.04: a bootstrap
    distribution of the rate jumped across 0. The inverse is now read outward from the cell's own dose."""
    doses = np.array([4, 8, 16, 32], dtype=float)
    fitted = fit_curve(doses, np.array([0.045, 0.045, 0.2, 0.3]))
    assert equivalent_dose(doses, fitted, 0.045, at=8) == (8.0, None)
    up, _ = equivalent_dose(doses, fitted, 0.046, at=8)
    assert 8 < up < 8.2
    assert equivalent_dose(doses, fitted, 0.045, at=4) == (4.0, None)
    assert equivalent_dose(doses, fitted, 0.045, at=6) == (6.0, None)      # inside the stretch: the dose itself
    down, _ = equivalent_dose(doses, fitted, 0.1, at=32)                    # a loss: read down from 32
    assert 8 < down < 16
    ladder = {4: np.array([0.04, 0.05, 0.045, 0.05, 0.04, 0.045]), 8: np.array([0.05, 0.04, 0.045, 0.04, 0.05, 0.045]),
              16: np.full(6, 0.2), 32: np.full(6, 0.3)}
    [rate] = exchange_rates(ladder, {("filler", 8): np.zeros(6)}, n_resamples=500, rng=np.random.default_rng(0))
    assert rate.extra == 0 and rate.ci_low == 0 and rate.ci_high == 0


def test_a_contrast_of_two_conditions_is_read_within_each_resample():
    rng = np.random.default_rng(5)
    ladder = _ladder(rng, 6)
    a = _curve(20) - _curve(8) + rng.normal(0, 0.01, 6)
    b = _curve(12) - _curve(8) + rng.normal(0, 0.01, 6)
    rates = exchange_rates(ladder, {}, n_resamples=1000, rng=rng, contrasts={("explained", "mismatched", 8): (a, b)})
    [rate] = rates
    assert rate.condition == "explained − mismatched" and abs(rate.extra - 8) < 2.5
    assert rate.ci_low <= 8 <= rate.ci_high and rate.ci_low > 0


def test_a_ladder_from_zero_is_read_linearly_and_converts_a_margin():
    """A contested design's ladder: 0, 1, 2, 4, 8 added strings; the told condition sits at 0."""
    xs = (0, 1, 2, 4, 8)
    ladder = {x: np.full(6, 0.05 * x) + np.linspace(-0.01, 0.01, 6) for x in xs}
    [rate] = exchange_rates(ladder, {("told", 0): np.full(6, 0.15)}, n_resamples=300, rng=np.random.default_rng(1))
    assert rate.extra == pytest.approx(3.0) and math.isnan(rate.ratio)
    assert metric_margin(np.array(xs, float), np.array([0.05 * x for x in xs]), 0, 2) == pytest.approx(0.1)
    assert math.isnan(metric_margin(np.array(xs, float), np.array([0.05 * x for x in xs]), 0, 20))
