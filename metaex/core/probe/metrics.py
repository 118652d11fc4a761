"""The probe's metrics (STUDY.md, Metrics) as small pure functions over per-item results.

Every function takes plain Python/numpy values (verdicts, log-probs, p_yes, lengths) and returns one float,
or None where the metric is undefined (no items, or one class missing for an AUROC). Item-level values are
computed by `item_*` helpers so the rows in `items.jsonl` and the summary agree by construction.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

# P(Yes) + P(No) below this after the judgement prompt counts as a format failure (Hu & Levy; Treutlein).
FORMAT_FAIL_MASS = 0.5


def mean(values: Iterable[float | bool]) -> float | None:
    """Arithmetic mean of numbers or booleans; None for no values."""
    vals = [float(v) for v in values]
    return float(np.mean(vals)) if vals else None


# --- generation -------------------------------------------------------------------------------------------

def validity(valid: Sequence[bool]) -> float | None:
    """Share of samples the grammar accepts."""
    return mean(valid)


def novel(samples: Sequence[str], train: set[str]) -> list[bool]:
    """Per sample: not among the training strings (the shared reference set of the grammar and seed)."""
    return [s not in train for s in samples]


def novel_valid(valid: Sequence[bool], samples: Sequence[str], train: set[str]) -> list[bool]:
    """Per sample: valid *and* not among the training strings (STUDY.md: the headline generation metric)."""
    return [v and n for v, n in zip(valid, novel(samples, train), strict=True)]


def distinct(samples: Sequence[str]) -> float | None:
    """Distinct ratio: number of different samples / number of samples."""
    return len(set(samples)) / len(samples) if samples else None


def length_distribution(lengths: Iterable[int]) -> dict[int, float]:
    """Empirical distribution of string lengths (in terminals)."""
    counts = Counter(int(n) for n in lengths)
    total = sum(counts.values())
    return {n: c / total for n, c in counts.items()} if total else {}


def length_tv(sample_lengths: Iterable[int], true_lengths: Iterable[int]) -> float | None:
    """Total-variation distance ½ Σ_n |p(n) − q(n)| between sampled and true length distributions."""
    p, q = length_distribution(sample_lengths), length_distribution(true_lengths)
    if not p or not q:
        return None
    return 0.5 * sum(abs(p.get(n, 0.0) - q.get(n, 0.0)) for n in set(p) | set(q))


# --- minimal pairs and log-likelihood ----------------------------------------------------------------------

def pair_correct(lp_good: float, lp_bad: float) -> bool:
    """BLiMP: a pair is right iff log p(good) > log p(bad) (a tie is wrong)."""
    return lp_good > lp_bad


def pair_margin(lp_good: float, lp_bad: float) -> float:
    """Log-prob margin log p(good) − log p(bad) of one pair."""
    return lp_good - lp_bad


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` for the positive `labels` (ties count ½).

    It equals the Mann–Whitney U statistic of positives against negatives divided by n⁺·n⁻;
    None when either class is empty.
    """
    from scipy.stats import mannwhitneyu

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


# --- judgement ---------------------------------------------------------------------------------------------

def p_yes(lp_yes: float, lp_no: float) -> float:
    """Renormalised P(Yes) / (P(Yes) + P(No)) from the two answers' log-probs (computed stably)."""
    return 1.0 / (1.0 + math.exp(lp_no - lp_yes)) if lp_no - lp_yes < 700 else 0.0


def format_fail(lp_yes: float, lp_no: float) -> bool:
    """True when P(Yes) + P(No) < FORMAT_FAIL_MASS: the model does not answer in the expected format."""
    return math.exp(lp_yes) + math.exp(lp_no) < FORMAT_FAIL_MASS


def balanced_accuracy(predicted: Sequence[bool], labels: Sequence[bool]) -> float | None:
    """Mean of the true-positive rate and the true-negative rate; None when a class is missing."""
    pred = np.asarray(predicted, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    return float((pred[y].mean() + (~pred[~y]).mean()) / 2)


def judged_valid(p: float) -> bool:
    """The model's verdict from a renormalised p_yes: valid iff p_yes > ½."""
    return p > 0.5


# --- verbalization -----------------------------------------------------------------------------------------

def choice_correct(true_score: float, distractor_scores: Sequence[float]) -> bool:
    """Multiple choice by score: right iff the true option outscores every distractor (ties are wrong).

    Scoring each option on its own makes the verdict the same for every order of the options, so this one
    comparison is the accuracy over all orders (Treutlein's all-orders averaging is exact here).
    """
    return all(true_score > d for d in distractor_scores)
