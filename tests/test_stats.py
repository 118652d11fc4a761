"""Statistics on hand-made data with known answers: per-seed effects, cell means, intervals, sign flips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metaex.core.stats import (
    Design,
    bootstrap_effects,
    cell_means,
    complementary_halves,
    resample_cells,
    seed_effects,
    sign_flip_test,
    simulate_study,
    t_interval,
)


def _design(means: np.ndarray, explained: np.ndarray, conditions=("examples", "worked")) -> Design:
    """A Design with one item per cell, holding the given (C, S, G) cell means."""
    c, s, g = means.shape
    return Design(tuple(conditions), tuple(range(s)), tuple(f"g{i}" for i in range(g)),
                  means[..., None].astype(float), np.ones((c, s, g), dtype=int), explained)


def test_cell_means_ignore_padding_and_mark_missing_cells():
    values = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    out = cell_means(values, np.array([2, 1, 0]))
    assert out[:2].tolist() == [2.0, 2.0] and np.isnan(out[2])


def test_seed_effects_by_hand():
    # 2 conditions × 2 seeds × 2 grammars; seed 0 explains g0, seed 1 explains g1 (a complementary pair)
    means = np.array([[[0.5, 0.3], [0.4, 0.6]],     # examples
                      [[0.9, 0.3], [0.4, 0.7]]])    # worked: +0.4 and +0.1 on the explained grammar
    explained = np.array([[True, False], [False, True]])
    out = seed_effects(means, explained, ("examples", "worked"), ("examples",))
    np.testing.assert_allclose(out[("delta", None)], [[0.2, 0.2], [0.6, 0.3]])
    np.testing.assert_allclose(out[("change_explained", "examples")][1], [0.4, 0.1])
    np.testing.assert_allclose(out[("change_unexplained", "examples")][1], [0.0, 0.0])
    np.testing.assert_allclose(out[("did", "examples")][1], [0.4, 0.1])
    assert np.isnan(out[("did", "examples")][0]).all()     # a reference is not contrasted with itself
    np.testing.assert_allclose(out[("level", None)][0], [0.4, 0.5])


def test_bootstrap_ci_matches_the_t_interval_on_per_seed_effects():
    per_seed = np.array([0.10, 0.25, -0.05, 0.30, 0.15])
    means = np.zeros((2, 5, 2))
    means[1, :, 0] = per_seed                                # explained grammar g0 gains per_seed
    effects = bootstrap_effects(_design(means, np.tile([True, False], (5, 1))), ("examples",),
                                n_resamples=40_000, rng=np.random.default_rng(0))
    did = next(e for e in effects if e.stat == "did")
    low, high = stats.t.interval(0.95, 4, loc=per_seed.mean(), scale=stats.sem(per_seed))
    assert did.estimate == pytest.approx(per_seed.mean())
    assert did.ci_low == pytest.approx(low, rel=0.03) and did.ci_high == pytest.approx(high, rel=0.03)
    assert did.n_seeds == 5 and did.per_seed == pytest.approx(tuple(per_seed))
    assert did.p_value == pytest.approx(4 / 32)             # exact: |sum| ≥ observed for 4 of 32 sign flips
    level = next(e for e in effects if e.stat == "level" and e.condition == "worked")
    assert np.isnan(level.p_value)


def test_t_interval_needs_two_clusters():
    low, high, se = t_interval(np.array([1.0]), np.ones((1, 10)), np.array([1]))
    assert np.isnan(low).all() and np.isnan(high).all() and np.isnan(se).all()


@pytest.mark.parametrize(("x", "p"), [([1, 2, 3, 4, 5], 2 / 32), ([1, -1], 1.0), ([0.5] * 6, 2 / 64),
                                      ([0, 0, 0], 1.0)])
def test_sign_flip_exact_p_values(x, p):
    assert sign_flip_test(np.array(x, dtype=float), np.random.default_rng(0)) == pytest.approx(p)


def test_sign_flip_drops_missing_seeds():
    assert sign_flip_test(np.array([1.0, np.nan]), np.random.default_rng(0)) != sign_flip_test(
        np.array([1.0, 2.0, np.nan]), np.random.default_rng(0))
    assert np.isnan(sign_flip_test(np.array([1.0, np.nan]), np.random.default_rng(0)))


def test_seed_resampling_keeps_each_seed_whole():
    design = simulate_study(np.random.default_rng(1), seeds=4, items=8)
    seed_index, means = resample_cells(design.values, design.counts, 50, np.random.default_rng(2))
    original = cell_means(design.values, design.counts)
    assert means.shape == (50, 3, 4, 4)
    np.testing.assert_array_equal(means, np.moveaxis(original[:, seed_index], 1, 0))


def test_item_resampling_stays_inside_cells():
    design = simulate_study(np.random.default_rng(1), seeds=3, items=6)
    _, means = resample_cells(design.values, design.counts, 20, np.random.default_rng(2), within=True)
    assert means.shape == (20, 3, 3, 4) and ((means >= 0) & (means <= 1)).all()
    assert not np.isin(means, [0, 1]).all()                 # items were mixed, not just seeds picked


def test_complementary_halves_balance_grammars():
    halves = complementary_halves(np.random.default_rng(3), 6, 4)
    assert (halves.sum(axis=1) == 2).all()                   # half of the grammars per seed
    assert (halves.sum(axis=0) == 3).all()                   # every grammar explained in half the seeds
    np.testing.assert_array_equal(halves[0], ~halves[1])
