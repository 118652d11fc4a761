"""The grammar-blocked estimator (metaex.core.stats.blocked): equal to statsmodels' OLS of the same model, calibrated
on simulated studies with no effect (the same simulations as the seed-level intervals, test_stats_calibration.py),
and more powerful than the seed-level estimator when one grammar carries the effect."""

from __future__ import annotations

import numpy as np
import pytest

from metaex.core.stats import bootstrap_summaries, simulate_study
from metaex.core.stats.blocked import blocked_fit
from metaex.core.stats.simulate import complementary_halves

N = 2000     # simulated studies per calibration (the issue asks for 1,000+)


def _dummies(explained: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full design matrix (seed dummies, grammar dummies but the first, τ_g·E) and the contrast averaging τ."""
    n_seeds, n_grammars = explained.shape
    rows, c = [], np.zeros(n_seeds + 2 * n_grammars - 1)
    c[-n_grammars:] = 1 / n_grammars
    for s in range(n_seeds):
        for g in range(n_grammars):
            rows.append(np.concatenate([np.eye(n_seeds)[s], np.eye(n_grammars)[g][1:],
                                        np.eye(n_grammars)[g] * explained[s, g]]))
    return np.array(rows), c


@pytest.mark.filterwarnings("ignore::UserWarning")   # statsmodels: rank-deficient when two pairs share halves
def test_the_fit_equals_statsmodels_ols_of_the_full_dummy_model():
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    for seeds in (4, 6, 8):
        design = simulate_study(rng, seeds=seeds, grammars=4, items=32, effects={"worked": [1.5, 0, 0.5, 0]})
        cells = design.cell_values()
        y = cells[2] - cells[0]
        y[1, 2] = np.nan                                              # a missing cell is dropped, not zeroed
        fit = blocked_fit(y, design.explained)
        x, c = _dummies(design.explained)
        keep = np.isfinite(y.reshape(-1))
        ols = sm.OLS(y.reshape(-1)[keep], x[keep]).fit()
        assert float(fit.estimate) == pytest.approx(float(c @ ols.params), abs=1e-10)
        assert float(fit.se) == pytest.approx(float(np.sqrt(c @ ols.cov_params() @ c)), rel=1e-8)
        assert float(fit.df) == ols.df_resid


def test_in_a_balanced_design_it_estimates_what_the_seed_level_statistic_does():
    design = simulate_study(np.random.default_rng(1), seeds=6, items=32, effects={"worked": 1.0})
    cells = design.cell_values()
    fit = blocked_fit(cells[2] - cells[0], design.explained)
    seed = bootstrap_summaries(design, ("examples",), n_resamples=50, rng=np.random.default_rng(0))[("did", "examples")]
    assert float(fit.estimate) == pytest.approx(float(seed.estimate[2]), abs=1e-12)


@pytest.mark.parametrize("seeds", [4, 6, 8])
def test_coverage_without_an_effect_halves_design(seeds):
    rng = np.random.default_rng(100 + seeds)
    design = simulate_study(rng, n_studies=N, seeds=seeds, grammars=4, items=32)
    cells = design.cell_values()
    fit = blocked_fit(cells[:, 2] - cells[:, 0], design.explained)
    cover = float(np.mean((fit.ci_low <= 0) & (fit.ci_high >= 0)))
    print(f"blocked coverage, {seeds} seeds, {N} null studies: {cover:.3f}")
    assert 0.93 <= cover <= 0.97


@pytest.mark.parametrize("case", ["every grammar told", "grammars of unequal noise", "a shared run shift"])
def test_coverage_without_an_effect_robustness(case):
    rng = np.random.default_rng(7)
    kw = {"grammar_sd": 2.0, "run_sd": 0.6} if case == "grammars of unequal noise" else {}
    design = simulate_study(rng, n_studies=N, seeds=6, grammars=4, items=32, **kw)
    cells = design.cell_values()
    y = cells[:, 2] - cells[:, 0]
    labels = design.explained
    if case == "every grammar told":
        labels = np.ones_like(labels)
    if case == "a shared run shift":
        y = y + rng.normal(0, 0.3, y.shape[:2])[..., None]     # one run's shift shared by its grammars
    fit = blocked_fit(y, labels)
    cover = float(np.mean((fit.ci_low <= 0) & (fit.ci_high >= 0)))
    print(f"blocked coverage ({case}), 6 seeds: {cover:.3f}")
    assert 0.93 <= cover <= 0.97


def test_more_power_than_the_seed_level_estimator_when_one_grammar_carries_the_effect():
    """At 6 seeds the seed-level t cannot exceed √5 for a one-grammar effect (by_grammar.py); the blocked model
    gives the grammar its own τ and tests their mean on the residual df."""
    rng = np.random.default_rng(3)
    design = simulate_study(rng, n_studies=400, seeds=6, grammars=4, items=200, binary=False, seed_sd=0.05,
                            run_sd=0.05, effects={"worked": [2.0, 0, 0, 0]})
    cells = design.cell_values()
    fit = blocked_fit(cells[:, 2] - cells[:, 0], design.explained)
    seed = bootstrap_summaries(design, ("examples",), n_resamples=200, rng=rng)[("did", "examples")]
    blocked_power = float(np.mean(fit.ci_low > 0))
    seed_power = float(np.mean(seed.ci_low[:, 2] > 0))
    print(f"one grammar carries a mean effect of 0.5: power blocked {blocked_power:.2f}, seed-level {seed_power:.2f}")
    assert blocked_power > 0.9 and seed_power < 0.3


def test_unfittable_designs_give_nan():
    labels = complementary_halves(np.random.default_rng(0), 2, 4)     # 2 seeds: no residual df
    assert np.isnan(blocked_fit(np.ones((2, 4)), labels).estimate)
    one_sided = np.zeros((4, 4), dtype=bool)
    one_sided[:, :2] = True                                          # grammars 0-1 always explained: no τ_g
    assert np.isnan(blocked_fit(np.random.default_rng(1).normal(size=(4, 4)), one_sided).estimate)
