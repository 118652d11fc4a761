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


def test_set_level_aggregates_per_cell_and_per_item_resample():
    """AUROC and balanced accuracy are computed over a cell's items (with their labels), on every resample too."""
    from metaex.core.stats.aggregate import cell_values

    rng = np.random.default_rng(4)
    labels = np.tile([True, False], 10)                              # 20 items, balanced
    scores = np.where(labels, 1.0, 0.0) + rng.normal(0, 1, (2, 6, 4, 20))   # (C, S, G, I)
    counts = np.full((2, 6, 4), 20)
    lab = np.broadcast_to(labels, scores.shape)
    auc = cell_values(scores, counts, lab, "auroc")
    by_hand = stats.mannwhitneyu(scores[0, 0, 0][labels], scores[0, 0, 0][~labels]).statistic / 100
    assert auc[0, 0, 0] == pytest.approx(by_hand) and auc.mean() > 0.6
    # a padded cell: only its first 7 items count, a cell without negatives is NaN
    short = cell_values(scores[:1, :1, :1], np.array([[[7]]]), lab[:1, :1, :1], "auroc")
    pos, neg = scores[0, 0, 0, :7][labels[:7]], scores[0, 0, 0, :7][~labels[:7]]
    assert short[0, 0, 0] == pytest.approx(stats.mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))
    assert np.isnan(cell_values(scores[..., :1], np.ones((2, 6, 4), int), lab[..., :1], "auroc")).all()
    right = (scores > 0.5) == lab
    bacc = cell_values(right.astype(float), counts, lab, "balanced_accuracy")
    assert bacc[1, 2, 3] == pytest.approx((right[1, 2, 3][labels].mean() + right[1, 2, 3][~labels].mean()) / 2)
    design = Design(("examples", "worked"), tuple(range(6)), tuple(f"g{i}" for i in range(4)), scores, counts,
                    complementary_halves(rng, 6, 4), aggregate="auroc", labels=lab)
    _, boot = resample_cells(design.values, design.counts, 30, rng, within=True, labels=design.labels,
                             how=design.aggregate)
    assert ((boot >= 0) & (boot <= 1)).all() and not np.allclose(boot, boot[:1])   # AUROCs, recomputed
    level = next(e for e in bootstrap_effects(design, (), n_resamples=50, rng=rng) if e.stat == "level"
                 and e.condition == "examples")
    assert level.estimate == pytest.approx(auc[0].mean())


def test_noise_share_separates_sampling_from_seed_noise():
    from metaex.core.stats.noise import noise_shares

    rng = np.random.default_rng(5)
    # no seed or run noise: the whole spread is the items' binomial noise (share ≈ 1)
    pure = simulate_study(rng, seeds=40, items=30, seed_sd=0.0, run_sd=0.0, grammar_sd=0.0)
    shares = [n.share for n in noise_shares(pure, ("examples",))]
    assert all(0.6 < s < 1.5 for s in shares), shares
    # seeds that differ a lot and many items: sampling noise explains little
    spread = simulate_study(rng, seeds=40, items=400, seed_sd=1.5, run_sd=1.0)
    assert all(n.share < 0.2 for n in noise_shares(spread, ("examples",)))
    by_hand = noise_shares(pure, ("examples",))[0]
    assert by_hand.stat == "delta" and by_hand.items == 30
    auc = Design(pure.conditions, pure.seeds, pure.grammars, pure.values, pure.counts, pure.explained,
                 aggregate="auroc", labels=pure.values > 0.5)
    assert noise_shares(auc, ("examples",)) == []          # only means of items have an s²/n
