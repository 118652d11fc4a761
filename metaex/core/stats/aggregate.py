"""How a cell's items become one number, vectorised over any leading axes: the aggregates of the metric registry.

A cell is one grammar of one run. Its items sit packed at the front of the last axis (`counts` of them, NaN
padding after). Set-level aggregates (balanced accuracy, AUROC) need each item's class label and are computed
over the cell's items, never as a mean of item scores; the bootstrap calls the same function on every resample.

- `mean`: the mean of the item values (shares of 0/1 items, mean log-probs, …);
- `balanced_accuracy`: items are 0/1 "judged right", labels the true class: the mean of the per-class accuracies;
- `auroc`: items are scores, labels the positive class: the Mann–Whitney U of positives against negatives over
  n⁺·n⁻ (ties count ½), from average ranks;
- `summary`: a statistic the probe computes over a whole sample set (distinct ratio, length TV), stored as one
  item per cell and taken as it is.
Balanced accuracy and AUROC are NaN for a cell that lacks a class.
"""

from __future__ import annotations

import numpy as np

AGGREGATES = ("mean", "balanced_accuracy", "auroc", "summary")
NEEDS_LABELS = ("balanced_accuracy", "auroc")


def cell_values(values: np.ndarray, counts: np.ndarray, labels: np.ndarray | None = None,
                how: str = "mean") -> np.ndarray:
    """One value per cell from `values` (..., I) packed at the front, `counts` (...) and, for set-level
    aggregates, boolean `labels` (..., I). NaN for empty cells (and for a missing class)."""
    if how not in AGGREGATES:
        raise ValueError(f"unknown aggregate {how!r} (aggregates: {', '.join(AGGREGATES)})")
    use = (np.arange(values.shape[-1]) < np.asarray(counts)[..., None]) & np.isfinite(values)
    if how in ("mean", "summary"):
        return _masked_mean(values, use)
    if labels is None:
        raise ValueError(f"aggregate {how!r} needs item labels")
    pos, neg = use & labels, use & ~labels
    if how == "balanced_accuracy":
        return (_masked_mean(values, pos) + _masked_mean(values, neg)) / 2
    from scipy.stats import rankdata

    ranks = rankdata(np.where(use, values, np.nan), axis=-1, nan_policy="omit")
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), out, np.nan)


def _masked_mean(values: np.ndarray, use: np.ndarray) -> np.ndarray:
    n = use.sum(axis=-1)
    total = np.where(use, values, 0.0).sum(axis=-1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def one_cell(values: list[float], labels: list[bool] | None, how: str) -> float | None:
    """The aggregate of one cell's items (the probe's summary row); None where it is undefined."""
    if not values:
        return None
    arr = np.asarray(values, dtype=float)[None, :]
    lab = None if labels is None else np.asarray(labels, dtype=bool)[None, :]
    out = float(cell_values(arr, np.array([arr.shape[1]]), lab, how)[0])
    return None if np.isnan(out) else out
