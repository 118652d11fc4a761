"""Per-seed effects of one metric in one arm × dose, and their cluster-bootstrap summaries.

A *run* is arm × condition × dose × seed. Within a run half the grammars are explained. For every seed
(the cluster) and condition this module computes, from the grammar cell means:

- `level`, `level_explained`, `level_unexplained`: the metric averaged over all / explained / unexplained
  grammars (each grammar weighs the same);
- `delta`: level_explained − level_unexplained, the within-run effect Δ;
and, against each reference condition r (`examples`, and `filler` where the study has it), paired by seed
and grammar:
- `change`: level − level(r) over every grammar (in a contested design every grammar of a told run is told, and
  its direction-adjusted effect against `examples` is this);
- `change_explained`, `change_unexplained`: how much the explained / unexplained grammars moved
  relative to r (STUDY.md: report them separately, a "gain" can be the other half getting worse);
- `did`: Δ(condition) − Δ(r), the explanation effect net of grammar difficulty (the grammars' own
  difficulty cancels inside a seed because both runs share the seed's assignment of grammars to halves).

Every statistic is the mean over seeds of the per-seed values; its CI comes from `bootstrap.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metaex.core.stats.aggregate import cell_values
from metaex.core.stats.bootstrap import resample_cells, sign_flip_test, t_interval

LEVELS = ("level", "level_explained", "level_unexplained", "delta")
CONTRASTS = ("change", "change_explained", "change_unexplained", "did")


@dataclass(frozen=True)
class Design:
    """Item values of one metric for one arm × dose × variant, dense over condition × seed × grammar.

    values: (C, S, G, I) floats, each cell's items packed at the front (NaN padding), items in the same
    order (by item id) in every condition; counts: (C, S, G) items per cell, 0 for a missing run;
    explained: (S, G) whether the grammar is in the explained half of that seed's runs; aggregate: how a
    cell's items become its value (`aggregate.AGGREGATES`, from the metric registry), with `labels` (C, S, G, I)
    the items' classes for the set-level ones.
    """

    conditions: tuple[str, ...]
    seeds: tuple[int, ...]
    grammars: tuple[str, ...]
    values: np.ndarray
    counts: np.ndarray
    explained: np.ndarray
    aggregate: str = "mean"
    labels: np.ndarray | None = None

    def cell_values(self) -> np.ndarray:
        """(C, S, G) one value per grammar cell of a run, as the probe's summary row computes it."""
        return cell_values(self.values, self.counts, self.labels, self.aggregate)


@dataclass(frozen=True)
class Effect:
    """One statistic of one condition (against `reference` for contrasts), summarised over seeds."""

    condition: str
    stat: str
    reference: str | None
    estimate: float
    ci_low: float
    ci_high: float
    se: float
    n_seeds: int
    p_value: float
    per_seed: tuple[float, ...]

    @property
    def excludes_zero(self) -> bool:
        """True when the whole CI lies on one side of 0 (False when the CI is undefined)."""
        return bool(self.ci_low > 0 or self.ci_high < 0)


def seed_effects(means: np.ndarray, explained: np.ndarray, conditions: tuple[str, ...],
                 references: tuple[str, ...]) -> dict[tuple[str, str | None], np.ndarray]:
    """Per-seed statistics from cell means (..., C, S, G) and labels broadcastable to (..., S, G).

    Returns {(stat, reference): array (..., C, S)}; contrasts are NaN in the reference's own row.
    """
    expl = np.broadcast_to(explained, means.shape[:-3] + means.shape[-2:])[..., None, :, :]
    out: dict[tuple[str, str | None], np.ndarray] = {
        ("level", None): nan_mean(means, True),
        ("level_explained", None): nan_mean(means, expl),
        ("level_unexplained", None): nan_mean(means, ~expl),
    }
    out[("delta", None)] = out[("level_explained", None)] - out[("level_unexplained", None)]
    for ref in references:
        r = conditions.index(ref)
        for stat, source in zip(CONTRASTS, ("level", "level_explained", "level_unexplained", "delta"), strict=True):
            diff = out[(source, None)] - out[(source, None)][..., r:r + 1, :]
            diff[..., r, :] = np.nan
            out[(stat, ref)] = diff
    return out


def nan_mean(x: np.ndarray, mask: np.ndarray | bool) -> np.ndarray:
    """Mean over the last axis of the finite entries where `mask` holds; NaN (no warning) when there are none."""
    use = mask & np.isfinite(x)
    total = np.where(use, x, 0.0).sum(axis=-1)
    n = use.sum(axis=-1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class Summary:
    """One statistic over seeds, arrays shaped (*batch, C): estimate, CI, SE, seeds used; per seed (*batch, C, S)."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    se: np.ndarray
    n_seeds: np.ndarray
    per_seed: np.ndarray


def bootstrap_summaries(design: Design, references: tuple[str, ...], *, n_resamples: int,
                        rng: np.random.Generator, level: float = 0.95,
                        within: bool = False) -> dict[tuple[str, str | None], Summary]:
    """Estimates and t-based cluster-bootstrap CIs of every statistic, keyed (stat, reference).

    Works on a Design whose arrays carry leading batch axes too (many simulated studies at once).
    """
    observed = seed_effects(design.cell_values(), design.explained, design.conditions, references)
    replicates: dict[tuple[str, str | None], list[np.ndarray]] = {key: [] for key in observed}
    per_replicate = design.counts.size * (design.values.shape[-1] if within else 1)
    block = max(1, 4_000_000 // max(1, per_replicate))
    for start in range(0, n_resamples, block):
        seed_index, means = resample_cells(design.values, design.counts, min(block, n_resamples - start),
                                           rng, within=within, labels=design.labels, how=design.aggregate)
        labels = np.take_along_axis(design.explained[..., None, :, :], seed_index[..., None], axis=-2)
        for key, arr in seed_effects(means, labels, design.conditions, references).items():
            replicates[key].append(nan_mean(arr, True))                    # (*batch, b, C)
    out = {}
    for key, per_seed in observed.items():
        n = np.isfinite(per_seed).sum(axis=-1)
        est = nan_mean(per_seed, True)
        boot = np.moveaxis(np.concatenate(replicates[key], axis=-2), -2, -1)   # (*batch, C, B)
        low, high, se = t_interval(est, boot, n, level)
        out[key] = Summary(est, low, high, se, n, per_seed)
    return out


def bootstrap_effects(design: Design, references: tuple[str, ...], *, n_resamples: int = 2000,
                      rng: np.random.Generator, level: float = 0.95, permutations: int = 9999,
                      within: bool = False) -> list[Effect]:
    """Every statistic of every condition of one (unbatched) Design, with a sign-flip p-value per contrast.

    Levels get no p-value (NaN): "is the metric 0" is not a question worth a test.
    """
    effects = []
    summaries = bootstrap_summaries(design, references, n_resamples=n_resamples, rng=rng, level=level,
                                    within=within)
    for (stat, ref), sm in summaries.items():
        for c, cond in enumerate(design.conditions):
            if cond == ref or sm.n_seeds[c] == 0:
                continue
            p = math.nan if stat in LEVELS[:3] else sign_flip_test(sm.per_seed[c], rng, permutations)
            effects.append(Effect(cond, stat, ref, float(sm.estimate[c]), float(sm.ci_low[c]),
                                  float(sm.ci_high[c]), float(sm.se[c]), int(sm.n_seeds[c]), p,
                                  tuple(float(v) for v in sm.per_seed[c])))
    return effects
