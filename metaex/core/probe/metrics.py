"""The probe's metrics (STUDY.md, Metrics): the registry `METRICS`, and small pure functions over per-item results.

`METRICS` is the one definition of every metric: its family, how its items aggregate into a grammar's value
(`metaex.core.stats.aggregate`), its unit and direction. The probe's summary rows, the report's levels and
bootstrap statistics, the figures' axes and the metric table in docs/DESIGN.md all read it.

Item functions take plain Python values (verdicts, log-probs, p_yes, lengths) and return one value per item,
or one float (None where undefined) for a set; the rows in `items.jsonl` and the summary agree by construction.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from metaex.core.errors import InputError
from metaex.core.stats.aggregate import AGGREGATES, NEEDS_LABELS, one_cell


@dataclass(frozen=True)
class Metric:
    """One metric of the registry. aggregate: how a grammar's items become its value (`AGGREGATES`);
    higher_is_better: the direction of improvement; about: what one item is, for people."""

    name: str
    family: str
    aggregate: str
    unit: str
    higher_is_better: bool
    about: str

    @property
    def needs_labels(self) -> bool:
        return self.aggregate in NEEDS_LABELS

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


FAMILIES = ("generation", "greedy", "likelihood", "judgement", "verbalization", "consistency", "in_context", "contest")
_ICL = "after the grammar's own explanation (`{explanation}\\n{name}:`)"
_CTL = ("after the same-alphabet sham (the control prompt): the other variant's explanation worded alike where the "
        "grammar is contested, else this explanation with the grammar's terminals permuted")
_GEN = "sampled completions of `{name}:` (temperature 1)"
_PAIR = "a contested pair (one derivation with the contested rule as each variant has it)"
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("novel_valid", "generation", "mean", "share of samples valid and new", True,
           f"{_GEN} the grammar accepts and that no condition of the seed trained on (the headline)"),
    Metric("validity", "generation", "mean", "share of samples valid", True, f"{_GEN} the grammar accepts"),
    Metric("novelty", "generation", "mean", "share of samples new", True,
           f"{_GEN} that no condition of the seed trained on"),
    Metric("distinct", "generation", "summary", "distinct / sampled", True, "different samples / samples"),
    Metric("length_tv", "generation", "summary", "total variation distance", False,
           "total variation between sampled and true length distributions"),
    Metric("greedy_validity", "greedy", "mean", "share of continuations valid", True,
           "greedy continuations of the first k terminals of test strings that the grammar accepts"),
    Metric("greedy_novel_valid", "greedy", "mean", "share of continuations valid and new", True,
           "greedy continuations that are valid and not trained on"),
    Metric("pair_acc", "likelihood", "mean", "share of minimal pairs right", True,
           "minimal pairs with log p(good) > log p(bad)"),
    Metric("pair_margin", "likelihood", "mean", "log-prob margin, nats", True, "log p(good) − log p(bad)"),
    Metric("heldout_lp", "likelihood", "mean", "log-prob per token (nats)", True,
           "mean log-prob per token (EOS included) of a held-out valid string after `{name}:`"),
    Metric("heldout_lpw", "likelihood", "mean", "log-prob per word (nats)", True,
           "a held-out valid string's summed token log-probs (EOS included) after `{name}:` ÷ its words: held-out "
           "fit in a unit that does not depend on the tokenizer (arms are compared on it)"),
    Metric("ll_auroc", "likelihood", "auroc", "AUROC", True,
           "mean log-prob per token as a score of valid (good) against invalid (bad) strings"),
    Metric("judge_bacc", "judgement", "balanced_accuracy", "balanced accuracy", True,
           "Yes/No verdict (p_yes > ½) on good and bad strings"),
    Metric("judge_auroc", "judgement", "auroc", "AUROC", True, "p_yes as a score of good against bad strings"),
    Metric("judge_format_fail", "judgement", "mean", "share of format failures", False,
           "P(Yes) + P(No) < ½ after the judgement prompt"),
    Metric("verbal_acc", "verbalization", "mean", "share of questions right", True,
           "the true explanation outscores every sibling's (name swapped in)"),
    Metric("consistency", "consistency", "mean", "share of own samples judged valid", True,
           "the model's own samples it judges valid (p_yes > ½)"),
    Metric("icl_validity", "in_context", "mean", "share of samples valid", True, f"samples {_ICL} that are valid"),
    Metric("icl_novel_valid", "in_context", "mean", "share of samples valid and new", True,
           f"samples {_ICL} that are valid and new"),
    Metric("icl_heldout_lp", "in_context", "mean", "log-prob per token (nats)", True,
           f"held-out fit {_ICL}"),
    Metric("icl_control_validity", "in_context", "mean", "share of samples valid", True,
           f"samples {_CTL} that are valid"),
    Metric("icl_control_novel_valid", "in_context", "mean", "share of samples valid and new", True,
           f"samples {_CTL} that are valid and new"),
    Metric("icl_control_heldout_lp", "in_context", "mean", "log-prob per token (nats)", True,
           f"held-out fit {_CTL}"),
    Metric("contest_pref", "contest", "mean", "log-prob per word (nats), told − other", True,
           f"{_PAIR}: (log p(told form) − log p(other form)) ÷ its words, each form scored after `{{name}}:` with EOS "
           "as pair_margin is (the direction-adjusted effect; 0 when the explanations are not used)"),
    Metric("contest_acc", "contest", "mean", "share of pairs told form preferred", True,
           f"{_PAIR} whose told form is the likelier"),
    Metric("contest_judge", "contest", "mean", "p_yes(told) − p_yes(other)", True,
           f"{_PAIR}: the renormalised Yes/No judgement of the told form minus that of the other form"),
    Metric("contest_gen", "contest", "mean", "share of samples following the told variant", True,
           "a sampled continuation of `{name}:` and a contested pair's common word prefix that ends in one variant's "
           "language only: 1 if the told one's, 0 if the other's (one in neither or both, or that did not end, has no "
           "value; the summary counts the classified ones)"),
    Metric("icl_contest_pref", "in_context", "mean", "log-prob per word (nats), in-context variant − other", True,
           f"{_PAIR}, scored after a told explanation (`{{explanation}}\\n{{name}}:`) and after the other variant's "
           "worded alike (the explainer's rendering of the other variant with the same random choices): the mean of "
           "the preference, per word, for the form of the variant whose explanation is in the prompt (0 when the "
           "model does not read the rule in context)"),
)}
HEADLINE = "novel_valid"   # the headline generation metric (STUDY.md)
FIT = "heldout_lpw"        # held-out fit per word: judged beside the headline, free of sampling noise and of the
                           # tokenizer (a word-level tiny model and a BPE model at 2-3 tokens a word compare)
assert all(m.aggregate in AGGREGATES and m.family in FAMILIES for m in METRICS.values())


def metric(name: str, where: str | None = None) -> Metric:
    """The registry entry of `name`; an InputError naming the known metrics otherwise."""
    if name not in METRICS:
        raise InputError(f"unknown metric {name!r} (metrics: {', '.join(METRICS)})", where)
    return METRICS[name]


def summarise(name: str, values: Sequence[float | bool | None], labels: Sequence[bool] | None = None) -> float | None:
    """A grammar's value of metric `name` from its items (None values are skipped, as the report skips them)."""
    m = metric(name)
    keep = [i for i, v in enumerate(values) if v is not None]
    labs = [bool(labels[i]) for i in keep] if m.needs_labels and labels is not None else None
    if m.needs_labels and labs is None:
        raise ValueError(f"metric {name} aggregates by {m.aggregate} and needs item labels")
    return one_cell([float(values[i]) for i in keep], labs, m.aggregate)


def markdown_table() -> str:
    """The registry as the metric table of docs/DESIGN.md (a test keeps the two equal)."""
    lines = ["| metric | family | aggregate over a grammar's items | unit | better | one item |", "|---|---|---|---|---|---|"]
    lines += [f"| `{m.name}` | {m.family} | {m.aggregate} | {m.unit} | {m.direction} | {m.about} |"
              for m in METRICS.values()]
    return "\n".join(lines)


# P(Yes) + P(No) below this after the judgement prompt counts as a format failure (Hu & Levy; Treutlein).
FORMAT_FAIL_MASS = 0.5


def mean(values: Iterable[float | bool]) -> float | None:
    """Arithmetic mean of numbers or booleans; None for no values."""
    vals = [float(v) for v in values]
    return float(np.mean(vals)) if vals else None


# --- generation -------------------------------------------------------------------------------------------

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

def per_word(total_lp: float, text: str) -> float:
    """A string's summed log-prob ÷ its words (space-separated terminals): comparable across tokenizers."""
    return total_lp / max(1, len(text.split()))


def pair_correct(lp_good: float, lp_bad: float) -> bool:
    """BLiMP: a pair is right iff log p(good) > log p(bad) (a tie is wrong)."""
    return lp_good > lp_bad


def pair_margin(lp_good: float, lp_bad: float) -> float:
    """Log-prob margin log p(good) − log p(bad) of one pair."""
    return lp_good - lp_bad


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` for the positive `labels` (ties count ½); None when a class is
    empty. The registry's `auroc` aggregate (`metaex.core.stats.aggregate`)."""
    return one_cell([float(s) for s in scores], [bool(y) for y in labels], "auroc")


# --- judgement ---------------------------------------------------------------------------------------------

def p_yes(lp_yes: float, lp_no: float) -> float:
    """Renormalised P(Yes) / (P(Yes) + P(No)) from the two answers' log-probs (computed stably)."""
    return 1.0 / (1.0 + math.exp(lp_no - lp_yes)) if lp_no - lp_yes < 700 else 0.0


def format_fail(lp_yes: float, lp_no: float) -> bool:
    """True when P(Yes) + P(No) < FORMAT_FAIL_MASS: the model does not answer in the expected format."""
    return math.exp(lp_yes) + math.exp(lp_no) < FORMAT_FAIL_MASS


def balanced_accuracy(predicted: Sequence[bool], labels: Sequence[bool]) -> float | None:
    """Mean of the true-positive rate and the true-negative rate; None when a class is missing. The registry's
    `balanced_accuracy` aggregate over items that are "judged right"."""
    right = [float(bool(p) == bool(y)) for p, y in zip(predicted, labels, strict=True)]
    return one_cell(right, [bool(y) for y in labels], "balanced_accuracy")


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
