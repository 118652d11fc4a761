"""Calibration of the cluster-bootstrap intervals on simulated studies (metaex.core.stats.simulate).

Each simulated study: 4 (or 6) seeds in complementary pairs, 4 grammars with different difficulties, 32 items per
cell, conditions `examples`, `filler` (no effect) and `worked` (planted logit effect on the explained
grammars). 2,000 null studies and 1,000 planted ones, B = 200 bootstrap resamples per study (the report
uses 2,000; 200 keeps this test at a few seconds and adds ≈ 0.3 % Monte Carlo noise to the coverage).
"""

from __future__ import annotations

import numpy as np
import pytest

from metaex.core.stats import bootstrap_summaries, simulate_study

B = 200


def _coverage(rng, n_studies, *, effect=0.0, seeds=4, within=False, chunk=250):
    """{(stat, condition): share of studies whose CI covers 0} and the same for 'CI excludes 0 above'."""
    covers: dict[tuple[str, str], list[np.ndarray]] = {}
    detects: dict[tuple[str, str], list[np.ndarray]] = {}
    for _ in range(n_studies // chunk):
        design = simulate_study(rng, n_studies=chunk, seeds=seeds, items=32, effects={"worked": effect})
        summaries = bootstrap_summaries(design, ("examples",), n_resamples=B, rng=rng, within=within)
        for stat in ("did", "change_explained", "change_unexplained", "delta"):
            sm = summaries[(stat, "examples" if stat != "delta" else None)]
            for c, cond in enumerate(design.conditions[1:], start=1):
                covers.setdefault((stat, cond), []).append((sm.ci_low[:, c] <= 0) & (sm.ci_high[:, c] >= 0))
                detects.setdefault((stat, cond), []).append(sm.ci_low[:, c] > 0)
    return ({k: float(np.concatenate(v).mean()) for k, v in covers.items()},
            {k: float(np.concatenate(v).mean()) for k, v in detects.items()})


@pytest.mark.parametrize("seeds", [4, 6])  # 6: the CPU default
def test_intervals_cover_zero_95_percent_of_the_time_without_an_effect(seeds):
    cover, _ = _coverage(np.random.default_rng(20240601), 2000, seeds=seeds)
    print(f"coverage with no effect (2,000 studies, {seeds} seeds):", cover)
    for cond in ("filler", "worked"):
        for stat in ("did", "change_explained", "change_unexplained"):
            assert 0.93 <= cover[(stat, cond)] <= 0.97, (stat, cond, cover[(stat, cond)])
        # Δ within a run ignores the complementary-pair balance: grammar difficulty makes it conservative
        assert cover[("delta", cond)] >= 0.95


@pytest.mark.parametrize(("seeds", "least_power"), [(4, 0.5), (6, 0.85)])
def test_a_planted_effect_is_detected(seeds, least_power):
    cover, detect = _coverage(np.random.default_rng(7 + seeds), 1000, effect=1.5, seeds=seeds)
    print(f"power at a planted logit effect of 1.5 (1,000 studies, {seeds} seeds):", detect)
    assert detect[("did", "worked")] >= least_power
    assert detect[("change_explained", "worked")] >= least_power
    assert 0.93 <= cover[("did", "filler")] <= 0.97             # the null condition stays calibrated


def test_resampling_items_too_is_conservative():
    cover, _ = _coverage(np.random.default_rng(5), 100, within=True, chunk=100)
    print("coverage with items resampled within seeds (100 studies):", cover)
    assert cover[("did", "filler")] >= 0.97
