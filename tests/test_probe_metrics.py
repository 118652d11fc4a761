"""The probe's metric functions on hand-made inputs with known answers."""

from __future__ import annotations

import math

import pytest

from metaex.core.probe import metrics as m


def test_generation_metrics():
    samples = ["a b", "a b", "a c", "x"]
    valid = [True, True, True, False]
    train = {"a b"}
    assert m.summarise("validity", valid) == 0.75
    assert m.novel(samples, train) == [False, False, True, True]
    assert m.novel_valid(valid, samples, train) == [False, False, True, False]
    assert m.distinct(samples) == 0.75
    assert m.distinct([]) is None and m.summarise("validity", []) is None


def test_length_tv():
    assert m.length_tv([1, 1, 2, 2], [1, 2]) == 0.0
    assert m.length_tv([1, 1], [2, 2]) == 1.0
    # p = {1: .5, 2: .5}, q = {1: .25, 3: .75}: ½(.25 + .5 + .75) = .75
    assert m.length_tv([1, 2], [1, 3, 3, 3]) == pytest.approx(0.75)
    assert m.length_tv([], [1]) is None


def test_pairs_and_auroc():
    assert m.pair_correct(-1.0, -2.0) and not m.pair_correct(-2.0, -2.0)
    assert m.pair_margin(-1.0, -3.5) == 2.5
    assert m.auroc([3, 2, 1, 0], [True, True, False, False]) == 1.0
    assert m.auroc([0, 1, 2, 3], [True, True, False, False]) == 0.0
    # one of four positive/negative pairs ordered wrongly, one tie: (2 + 0.5) / 4
    assert m.auroc([3, 1, 1, 2], [True, True, False, False]) == pytest.approx(0.625)
    assert m.auroc([1, 2], [True, True]) is None


def test_judgement():
    assert m.p_yes(math.log(0.3), math.log(0.1)) == pytest.approx(0.75)
    assert m.p_yes(0.0, -1e6) == 1.0 and m.p_yes(-1e6, 0.0) == 0.0
    assert m.format_fail(math.log(0.2), math.log(0.2)) and not m.format_fail(math.log(0.4), math.log(0.2))
    # positives: 2 of 3 right; negatives: 1 of 1 right → (2/3 + 1) / 2
    assert m.balanced_accuracy([True, True, False, False], [True, True, True, False]) == pytest.approx(5 / 6)
    assert m.balanced_accuracy([True], [True]) is None
    assert m.judged_valid(0.51) and not m.judged_valid(0.5)


def test_choice():
    assert m.choice_correct(-1.0, [-2.0, -3.0])
    assert not m.choice_correct(-1.0, [-2.0, -1.0])
    assert m.choice_correct(-1.0, [])


def test_registry_names_every_metric_once_with_an_aggregate():
    from metaex.core.stats.aggregate import AGGREGATES

    assert m.HEADLINE in m.METRICS and m.FIT in m.METRICS
    for name, metric in m.METRICS.items():
        assert metric.name == name and metric.aggregate in AGGREGATES and metric.unit and metric.about
    assert {n for n, x in m.METRICS.items() if x.needs_labels} == {"ll_auroc", "judge_auroc", "judge_bacc"}
    with pytest.raises(Exception, match="unknown metric 'nope'"):
        m.metric("nope")


def test_set_level_metrics_are_not_means_of_scores():
    scores, labels = [-1.0, -2.0, -3.0, -4.0], [True, False, True, False]
    assert m.summarise("ll_auroc", scores, labels) == pytest.approx(0.75)   # 3 of 4 (pos, neg) pairs ordered right
    assert m.summarise("ll_auroc", scores, labels) != pytest.approx(sum(scores) / 4)
    # judged right on 2 of 3 positives and 0 of 1 negative: (2/3 + 0) / 2, not the plain accuracy 1/2
    assert m.summarise("judge_bacc", [True, True, False, False], [True, True, True, False]) == pytest.approx(1 / 3)
    assert m.summarise("judge_auroc", [0.9, 0.8], [True, True]) is None
    assert m.summarise("validity", [True, None, False]) == 0.5


def test_design_doc_lists_the_registry():
    from pathlib import Path

    table = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text()
    assert m.markdown_table() in table, "docs/metrics.md: paste metaex.core.probe.metrics.markdown_table()"
