"""The probe's metric functions on hand-made inputs with known answers."""

from __future__ import annotations

import math

import pytest

from metaex.core.probe import metrics as m


def test_generation_metrics():
    samples = ["a b", "a b", "a c", "x"]
    valid = [True, True, True, False]
    train = {"a b"}
    assert m.validity(valid) == 0.75
    assert m.novel(samples, train) == [False, False, True, True]
    assert m.novel_valid(valid, samples, train) == [False, False, True, False]
    assert m.distinct(samples) == 0.75
    assert m.distinct([]) is None and m.validity([]) is None


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
