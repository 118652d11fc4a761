"""Grammar engine, core level: validator, sampler, inside probabilities, pairs, lexicon, instances, random grammars."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from metaex.core.errors import InputError
from metaex.core.grammar.instantiate import instantiate, instantiate_many, words_of
from metaex.core.grammar.lexicon import lexicon
from metaex.core.grammar.pairs import minimal_pairs
from metaex.core.grammar.pcfg import load_grammar, parse_grammar
from metaex.core.grammar.random_gen import random_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import is_finite, language_size, sample_split, sample_strings

SHIPPED = ("reber", "dyck2", "counting", "agreement", "arith", "cfg3")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_grammars_validate(grammars_dir, name):
    g = load_grammar(grammars_dir / f"{name}.pcfg")
    assert g.name == name and g.description and "\n" not in g.description
    assert 1 < g.expected_length < math.inf
    assert (g.expected_length >= 100) == (name == "cfg3")
    import nltk  # our reader (no nltk import at run time) reads the file as nltk does

    ref = nltk.PCFG.fromstring((grammars_dir / f"{name}.pcfg").read_text())
    assert [(r.lhs, r.rhs) for r in g.rules] == [(str(p.lhs()), tuple(map(str, p.rhs()))) for p in ref.productions()]
    assert [r.prob for r in g.rules] == pytest.approx([p.prob() for p in ref.productions()], abs=1e-6)


@pytest.mark.parametrize("text, message, line", [
    ("S -> 'a' [0.5] | 'b' [0.2]", "do not sum to 1", 1),
    ("S -> 'a' [0.5] | 'a' A [0.5]\nA -> A 'b' [1.0]", "A is unproductive", 2),
    ("S -> 'a' [1.0]\nB -> 'b' [1.0]", "unreachable", 2),
    ("S -> S S [0.6] | 'a' [0.4]", "improper", None),
    ("S -> 'a b' [1.0]", "whitespace", 1),
    ("S -> 'a' [0.5] | [0.5]", "empty right-hand side", 1),
    ("S -> 'a' B [1.0]", "has no rules", 1),
    ("# only a comment\n", "empty grammar", None),
    ("S -> 'a' [1.0]\nS => 'b'", "cannot parse", 2),
])
def test_validator_rejects(text, message, line):
    with pytest.raises(InputError, match=message) as err:
        parse_grammar(text, source="g.pcfg")
    assert err.value.line == line and err.value.path == "g.pcfg"


def test_probabilities_within_tolerance_are_renormalised():
    g = parse_grammar("S -> 'a' [0.333] | 'b' [0.333] | 'c' [0.333]")
    assert sum(r.prob for r in g.rules) == pytest.approx(1.0, abs=1e-12)


def test_sampler_is_deterministic_and_seeded(grammars_dir):
    g = load_grammar(grammars_dir / "arith.pcfg")
    assert sample_strings(g, 200, 5) == sample_strings(g, 200, 5)
    assert sample_strings(g, 200, 5) != sample_strings(g, 200, 6)
    rec = recognizer(g)
    assert all(rec.accepts(s) for s in sample_strings(g, 500, 1))


def test_sampler_matches_rule_probabilities():
    # the number of recursive steps is geometric: P(k 'c's) = 0.4 * 0.6^k; the end symbol splits 0.25/0.75
    g = parse_grammar("S -> 'c' S [0.6] | 'a' [0.1] | 'b' [0.3]")
    from scipy.stats import chisquare

    strings = sample_strings(g, 20000, 3)
    ends = Counter(s[-1] for s in strings)
    assert chisquare([ends["a"], ends["b"]], [5000, 15000]).pvalue > 1e-3
    ks = Counter(min(s.count("c"), 5) for s in strings)
    expected = [0.4 * 0.6**k * 20000 for k in range(5)] + [0.6**5 * 20000]
    assert chisquare([ks[k] for k in range(6)], expected).pvalue > 1e-3


def test_max_len_distinct_and_exhaustion(grammars_dir):
    g = load_grammar(grammars_dir / "counting.pcfg")
    strings = sample_strings(g, 50, 1, max_len=7, distinct=True)  # of 78 such strings
    assert len(set(strings)) == 50 and max(len(s.split()) for s in strings) <= 7
    finite = parse_grammar("S -> A A [1.0]\nA -> 'x' [0.5] | 'y' [0.3] | 'z' [0.2]")
    assert is_finite(finite) and not is_finite(g)
    assert language_size(finite, at_least=100) == 9
    assert sorted(sample_strings(finite, 9, 0, distinct=True)) == sorted(
        f"{a} {b}" for a in "xyz" for b in "xyz")
    with pytest.raises(InputError, match="only 9 distinct strings"):
        sample_strings(finite, 10, 0, distinct=True)
    with pytest.raises(InputError, match="no string of at most 2"):
        sample_strings(g, 1, 0, max_len=2)
    # counting under max_len 5: a small language, counted exactly, which the sampler exhausts
    size = language_size(g, 5, at_least=1000)
    assert size == len({s for s in sample_strings(g, 20000, 2, max_len=5)})
    with pytest.raises(InputError, match=f"only {size} distinct"):
        sample_split(g, size, 1, 0, max_len=5)


def test_split_is_disjoint_and_nested(grammars_dir):
    g = load_grammar(grammars_dir / "agreement.pcfg")
    train, test = sample_split(g, 20, 50, 7)
    assert len(set(train)) == 20 and len(set(test)) == 50 and not set(train) & set(test)
    # while n_train <= n_test the test set does not depend on n_train, and doses nest
    bigger, same_test = sample_split(g, 50, 50, 7)
    assert same_test == test and bigger[:20] == train
    # past it the pool grows: still distinct and disjoint
    many, other_test = sample_split(g, 400, 50, 7)
    assert len(set(many)) == 400 and len(other_test) == 50 and not set(many) & set(other_test)


@pytest.mark.parametrize("name", ["reber", "counting"])
def test_train_and_test_strings_are_exchangeable(grammars_dir, name):
    """Over a small language, train and test strings are equally likely under the PCFG (within noise).
    Drawing the test strings first gave the likely strings to test: train was ~1 nat less likely (z ≈ -9)."""
    g = load_grammar(grammars_dir / f"{name}.pcfg")
    lp = recognizer(g).logprob
    diffs = []
    for seed in range(20):
        train, test = sample_split(g, 16, 60, seed, max_len=20)
        diffs.append(sum(map(lp, train)) / len(train) - sum(map(lp, test)) / len(test))
    mean = sum(diffs) / len(diffs)
    se = (sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)) ** 0.5
    assert abs(mean) < 3 * se, (mean, se)


def _all_strings(g, max_len):
    """Brute force: every string of the terminals up to max_len, with the recognizer's verdict."""
    from itertools import product

    out = []
    for n in range(1, max_len + 1):
        out += [" ".join(w) for w in product(g.terminals, repeat=n)]
    return out


def test_inside_logprob_against_nltk_and_total_mass():
    import nltk

    # ambiguous, with unit rules and a rule of length 3
    text = "S -> S S [0.2] | A [0.5] | 'b' A 'b' [0.3]\nA -> 'a' [0.7] | B [0.3]\nB -> 'a' [0.4] | 'b' [0.6]"
    g = parse_grammar(text)
    rec = recognizer(g)
    parser = nltk.InsideChartParser(nltk.PCFG.fromstring(text))
    for s in ["a", "a b", "b a b", "a a a", "b b b a"]:
        want = sum(t.prob() for t in parser.parse(s.split()))
        assert rec.logprob(s) == pytest.approx(math.log(want), abs=1e-9)
    finite = parse_grammar("S -> A B [0.6] | 'x' [0.4]\nA -> 'x' [0.5] | 'y' 'x' [0.5]\nB -> 'y' [0.3] | 'x' [0.7]")
    total = sum(math.exp(rec_lp) for s in _all_strings(finite, 4)
                if (rec_lp := recognizer(finite).logprob(s)) > -math.inf)
    assert total == pytest.approx(1.0, abs=1e-12)
    assert rec.logprob("a zzz") == -math.inf and not rec.accepts(["a", "zzz"]) and rec.logprob("") == -math.inf


def test_long_strings_do_not_underflow(grammars_dir):
    g = load_grammar(grammars_dir / "cfg3.pcfg")
    s = max(sample_strings(g, 50, 1), key=len)
    lp = recognizer(g).logprob(s)
    assert len(s.split()) > 150 and -math.inf < lp < -50


@pytest.mark.parametrize("kind", ["substitution", "swap", "delete", "insert"])
def test_minimal_pairs_leave_the_language(grammars_dir, kind):
    g = load_grammar(grammars_dir / "agreement.pcfg")
    good = sample_strings(g, 40, 2)
    pairs = minimal_pairs(g, good + ["not a sentence"], 9, per_string=2, perturbations=(kind,))
    rec = recognizer(g)
    assert pairs and all(p["perturbation"] == kind and rec.accepts(p["good"]) and not rec.accepts(p["bad"])
                         for p in pairs)
    for p in pairs:
        gw, bw = p["good"].split(), p["bad"].split()
        assert len(bw) - len(gw) == {"substitution": 0, "swap": 0, "delete": -1, "insert": 1}[kind]
        if kind == "substitution":
            assert [i for i, (a, b) in enumerate(zip(gw, bw, strict=False)) if a != b] == [p["position"]]
    assert pairs == minimal_pairs(g, good, 9, per_string=2, perturbations=(kind,))


def test_lexicon_shape():
    words = lexicon()
    assert len(words) >= 500 and len(set(words)) == len(words)
    assert all(w.isalpha() and w.islower() and 3 <= len(w) <= 7 for w in words)
    assert not {"the", "and", "sugar", "lemon", "robot", "yes", "sentence"} & set(words)


def test_instances_keep_structure_and_are_disjoint(grammars_dir):
    gs = [load_grammar(grammars_dir / f"{n}.pcfg") for n in SHIPPED]
    insts = instantiate_many(gs, 3)
    seen: set[str] = set()
    for g, inst in zip(gs, insts, strict=True):
        words = words_of(inst)
        assert not words & seen and set(inst.terminals) <= set(lexicon())
        seen |= words
        assert inst.meta["template"] == g.name and inst.meta["template_hash"] == g.hash
        assert [r.prob for r in inst.rules] == [r.prob for r in g.rules] and inst.nonterminals == g.nonterminals
        assert parse_grammar(inst.to_text()).hash == inst.hash
    bridging = instantiate_many(gs, 3, avoid=seen)
    assert not set().union(*map(words_of, bridging)) & seen
    names = {instantiate(gs[0], s).name for s in range(10)}
    assert len(names) >= 9 and instantiate(gs[0], 4) == instantiate(gs[0], 4)


@pytest.mark.parametrize("family, size", [("regular", {}), ("cfg", {}), ("cfg", {"deep": True}),
                                          ("regular", {"nonterminals": 8, "terminals": 2})])
def test_random_grammars_validate(family, size):
    for seed in range(25):
        g = random_grammar(family, seed, **size)
        again = parse_grammar(g.to_text())  # passes the validator, same content
        assert again.hash == g.hash == random_grammar(family, seed, **size).hash
        if size.get("deep"):
            assert len(g.terminals) == 3 and g.expected_length >= 100
            assert all(2 <= len(r.rhs) <= 3 for r in g.rules)
    assert random_grammar(family, 1, **size).hash != random_grammar(family, 2, **size).hash
    rng = random.Random(0)
    assert all(recognizer(g).accepts(s) for s in sample_strings(g, 20, rng.randrange(100)))


def test_only_known_metadata_is_kept_and_instances_carry_no_template_word():
    g = parse_grammar("# name: toy\n# blick: a note that quotes a template word\n# description: starts with 'b'\n"
                      "# gloss S: a sentence, 'b' or blick at its end\nS -> 'b' S [0.5] | 'blick' [0.5]\n")
    assert "blick" not in g.meta
    inst = instantiate(g, 0)
    text = inst.to_text()
    assert "'b'" not in text and "blick" not in text and "note" not in text, text
    assert inst.glosses["S"].startswith("a sentence, '") and inst.description.startswith("starts with '")


def test_zero_probability_rules_and_quoted_terminals_are_refused():
    with pytest.raises(InputError, match="probability 0"):
        parse_grammar("S -> 'a' [1.0] | 'b' [0.0]")
    with pytest.raises(InputError, match="contains a quote"):
        parse_grammar("S -> \"it's\" [1.0]")
