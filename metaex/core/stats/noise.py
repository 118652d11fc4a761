"""How much of the seed-to-seed spread of an effect is sampling noise (the finite items of each cell).

For a metric whose cell value is the mean of its items (`aggregate == "mean"`: sampled strings, pairs, held-out
strings), a cell's sampling variance is s²/n (the items' variance over their count). Per seed:

    Var_sampling(Δ)  = Σ_{g ∈ E} v_g / |E|² + Σ_{g ∈ U} v_g / |U|²        (Δ = mean over E − mean over U)
    Var_sampling(Δ − Δ(r)) = Var_sampling(Δ) + Var_sampling(Δ(r))           (the two runs' items are independent)

The observed seed-to-seed variance of the per-seed statistic (ddof 1) is the seeds' true spread plus the mean
sampling variance, so `share` = mean sampling variance / observed variance says how much of the spread more items
would remove (it can exceed 1 by chance when the seeds agree closely). Items of a run are taken as independent
draws; that is exact for temperature samples and an approximation for test strings shared by all runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metaex.core.stats.effects import Design, nan_mean, seed_effects


@dataclass(frozen=True)
class NoiseShare:
    """One statistic of one condition: mean per-seed sampling variance, observed variance over seeds, share."""

    condition: str
    stat: str
    reference: str | None
    sampling_var: float
    seed_var: float
    share: float
    items: float          # mean items per cell


def noise_shares(design: Design, references: tuple[str, ...]) -> list[NoiseShare]:
    """Sampling-noise share of `delta` (every condition) and of `did` against each reference; empty unless the
    metric's cells are means of items."""
    if design.aggregate != "mean":
        return []
    cell_var, n = cell_sampling_var(design)
    expl = design.explained[None]
    k_e, k_u = expl.sum(axis=-1), (~expl).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_delta = (np.where(expl, cell_var, 0.0).sum(axis=-1) / k_e ** 2
                     + np.where(~expl, cell_var, 0.0).sum(axis=-1) / k_u ** 2)          # (C, S)
    var_delta = np.where(np.isnan(cell_var).any(axis=-1), np.nan, var_delta)
    effects = seed_effects(design.cell_values(), design.explained, design.conditions, references)
    out = []
    items = float(n[n > 0].mean()) if (n > 0).any() else float("nan")
    for c, cond in enumerate(design.conditions):
        out.append(_share(cond, "delta", None, var_delta[c], effects[("delta", None)][c], items))
        for ref in references:
            if ref == cond:
                continue
            r = design.conditions.index(ref)
            out.append(_share(cond, "did", ref, var_delta[c] + var_delta[r], effects[("did", ref)][c], items))
    return out


def cell_sampling_var(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(s²/n, n) of every cell (C, S, G): the sampling variance of a cell's mean of items, and its item count
    (NaN variance under 2 items, and for a metric whose cells are not means of items)."""
    use = (np.arange(design.values.shape[-1]) < design.counts[..., None]) & np.isfinite(design.values)
    n = use.sum(axis=-1)
    if design.aggregate != "mean":
        return np.full(n.shape, np.nan), n
    centred = np.where(use, design.values - nan_mean(design.values, use)[..., None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, (centred ** 2).sum(axis=-1) / (n - 1) / n, np.nan), n


def _share(cond: str, stat: str, ref: str | None, sampling: np.ndarray, per_seed: np.ndarray,
           items: float) -> NoiseShare:
    ok = np.isfinite(sampling) & np.isfinite(per_seed)
    if ok.sum() < 2:
        return NoiseShare(cond, stat, ref, float("nan"), float("nan"), float("nan"), items)
    s_var = float(np.mean(sampling[ok]))
    o_var = float(np.var(per_seed[ok], ddof=1))
    return NoiseShare(cond, stat, ref, s_var, o_var, s_var / o_var if o_var > 0 else float("nan"), items)
