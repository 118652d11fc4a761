"""`metaex explain`: every style stays true to the rules, quotes no string, and uses a fixed vocabulary."""

from __future__ import annotations

import json

import pytest

from metaex.core.explain import explanation_vocabulary
from metaex.core.explain.facts import Fact, derive_facts
from metaex.core.explain.parse import parse_bnf, parse_constraints
from metaex.core.explain.render import prose_form, rules_of
from metaex.core.grammar.instantiate import instantiate
from metaex.core.grammar.pcfg import load_grammar, parse_grammar
from metaex.core.grammar.random_gen import random_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import sample_strings
from metaex.core.text import terminal_runs, tokens
from tests.conftest import GRAMMARS

SHIPPED = sorted(p.stem for p in GRAMMARS.glob("*.pcfg"))
# a grammar whose start rule is itself a whole string: bnf must not quote it as one run
WHOLE = "# name: whole\nS -> 'ka' 'fo' 'mi' [0.5] | 'ka' S 'mi' [0.5]\n"


def _instance(tmp_path, stem: str):
    g = instantiate(load_grammar(GRAMMARS / f"{stem}.pcfg"), seed=3)
    path = tmp_path / f"{stem}.pcfg"
    path.write_text(g.to_text())
    return load_grammar(path), path


def _explain(run_cli, path, out, *args):
    result = run_cli("explain", path, "-o", out, *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("stem", SHIPPED)
def test_every_style_is_true_to_the_rules(run_cli, tmp_path, stem):
    g, path = _instance(tmp_path, stem)
    recs = _explain(run_cli, path, tmp_path / "e.jsonl", "--paraphrases", "20", "--seed", "1")
    accepts = recognizer(g).accepts
    vocab = explanation_vocabulary([g]) | {g.name, *g.terminals, *g.nonterminals}
    assert {r["style"] for r in recs} == {"prose", "bnf", "constraints"}
    for style in ("prose", "bnf", "constraints"):
        texts = [r["text"] for r in recs if r["style"] == style]
        assert len(texts) == len(set(texts)) == 20, style
    form = prose_form(g)
    assert {(r.lhs, rhs) for r in form for rhs in r.alternatives} == rules_of(g)
    assert form[0].lhs == g.start
    for r in recs:
        text = r["text"]
        assert g.name in text and r["grammar_hash"] == g.hash and r["template"] == stem
        assert set(tokens(text)) <= vocab, set(tokens(text)) - vocab
        for run in terminal_runs(text, frozenset(g.terminals)):  # no string of the language, not even 2 symbols
            assert not any(accepts(" ".join(run[i:j])) for i in range(len(run)) for j in range(i + 2, len(run) + 1))
        if r["style"] == "bnf":
            assert parse_bnf(text, g.name) == (g.start, rules_of(g))
        elif r["style"] == "constraints":
            assert parse_constraints(text, g.name, g.terminals) == set(derive_facts(g))
        else:
            assert all(f"'{t}'" in text for t in g.terminals)


def _holds(f: Fact, s: list[str]) -> bool:
    a = f.args
    if f.kind == "first":
        return s[0] in a[0]
    if f.kind == "last":
        return s[-1] in a[0]
    if f.kind == "follow":
        return all(s[i + 1] in a[1] for i in range(len(s) - 1) if s[i] == a[0])
    if f.kind in ("min_length", "max_length", "exact_length"):
        return {"min_length": len(s) >= a[0], "max_length": len(s) <= a[0], "exact_length": len(s) == a[0]}[f.kind]
    if f.kind == "unbounded":
        return True  # structural: checked by test_unbounded_and_bounds_agree
    if f.kind == "residue":
        return len(s) % a[0] == a[1]
    if f.kind.startswith("count_"):
        n = s.count(a[0])
        return {"count_exact": n == a[1], "count_min": n >= a[1], "count_max": n <= a[1]}[f.kind]
    if f.kind == "balance":
        return s.count(a[0]) - s.count(a[1]) == a[2]
    assert f.kind == "nesting"
    depth = 0
    for t in s:
        depth += (t == a[0]) - (t == a[1])
        if depth < 0:
            return False
    return depth == 0


GRAMMAR_CASES = [(stem, None) for stem in SHIPPED] + [("random", ("regular", i)) for i in range(3)] + \
    [("random", ("cfg", i)) for i in range(4)]


@pytest.mark.parametrize("stem, random_args", GRAMMAR_CASES)
def test_constraint_facts_hold_on_sampled_strings(stem, random_args):
    g = random_grammar(*random_args) if random_args else load_grammar(GRAMMARS / f"{stem}.pcfg")
    facts = derive_facts(g)
    kinds = {f.kind for f in facts}
    assert {"first", "last", "follow"} <= kinds
    strings = [s.split() for s in sample_strings(g, 400, seed=7)]
    for f in facts:
        bad = next((s for s in strings if not _holds(f, s)), None)
        assert bad is None, (f, bad)
    # every allowed successor and every first symbol is actually used: the sets are exact, not loose
    if stem in ("reber", "counting", "arith"):
        seen = {(s[i], s[i + 1]) for s in strings for i in range(len(s) - 1)}
        allowed = {(f.args[0], y) for f in facts if f.kind == "follow" for y in f.args[1]}
        assert seen == allowed


def test_counting_and_nesting_facts_are_found():
    facts = set(derive_facts(load_grammar(GRAMMARS / "dyck2.pcfg")))
    assert Fact("nesting", ("(", ")")) in facts and Fact("nesting", ("[", "]")) in facts
    assert Fact("residue", (2, 0)) in facts and Fact("unbounded", ()) in facts
    facts = set(derive_facts(load_grammar(GRAMMARS / "counting.pcfg")))
    assert Fact("balance", ("a", "c", 0)) in facts and Fact("nesting", ("a", "c")) in facts


def test_a_rule_that_is_a_whole_string_is_not_quoted_whole(run_cli, tmp_path):
    path = tmp_path / "whole.pcfg"
    path.write_text(WHOLE)
    recs = _explain(run_cli, path, tmp_path / "e.jsonl", "--styles", "bnf,prose", "--paraphrases", "20")
    for r in recs:
        assert "'ka' 'fo'" not in r["text"] and "'fo' 'mi'" not in r["text"]
        assert all(len(run) == 1 for run in terminal_runs(r["text"], frozenset({"ka", "fo", "mi"})))
    assert any("'ka' then 'fo' then 'mi'" in r["text"] for r in recs if r["style"] == "bnf")


def test_glosses_name_nonterminals_else_neutral_names(run_cli, tmp_path):
    g, path = _instance(tmp_path, "reber")
    recs = _explain(run_cli, path, tmp_path / "e.jsonl", "--styles", "prose", "--paraphrases", "5")
    assert all("the upper loop" in r["text"] and "Q2" not in r["text"] for r in recs)
    plain = tmp_path / "plain.pcfg"
    plain.write_text("# name: Vemo\nS -> 'ka' B [1.0]\nB -> 'fo' [0.5] | 'fo' B [0.5]\n")
    recs = _explain(run_cli, plain, tmp_path / "p.jsonl", "--styles", "prose", "--paraphrases", "20")
    assert all(" of type B" in r["text"] or " B " in r["text"] for r in recs)


def test_same_seed_same_bytes_other_seed_other_texts(run_cli, tmp_path):
    _, path = _instance(tmp_path, "arith")
    a, b, c = (tmp_path / n for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    _explain(run_cli, path, a, "--seed", "4")
    _explain(run_cli, path, b, "--seed", "4")
    _explain(run_cli, path, c, "--seed", "5")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    # paraphrase i does not depend on how many were asked for
    small = _explain(run_cli, path, tmp_path / "s.jsonl", "--seed", "4", "--paraphrases", "3", "--styles", "bnf")
    big = [json.loads(x) for x in a.read_text().splitlines() if '"style":"bnf"' in x]
    assert [r["text"] for r in small] == [r["text"] for r in big[:3]]


def test_vocabulary_is_small_and_fixed():
    vocab = explanation_vocabulary()
    assert {"then", "or", "rule", "sentence", "0", "100", "'", ":", "="} <= vocab
    assert len(vocab) < 400
    g = parse_grammar("# gloss B: a wibbly part, with zorblets\nS -> 'ka' B [1.0]\nB -> 'fo' [1.0]\n")
    assert {"wibbly", "part"} <= explanation_vocabulary([g]) and "zorblets" not in explanation_vocabulary([g])


@pytest.mark.parametrize("args, message", [
    (["--styles", "prose,poetry"], "unknown style 'poetry'"),
    (["--paraphrases", "0"], "--paraphrases must be at least 1"),
    (["--paraphrases", "500", "--styles", "bnf"], "distinct bnf paraphrases"),
])
def test_bad_options_are_one_line_errors(run_cli, tmp_path, args, message):
    path = tmp_path / "tiny.pcfg"
    path.write_text("# name: Vemo\nS -> 'ka' [1.0]\n")
    out = tmp_path / "out.jsonl"
    result = run_cli("explain", path, "-o", out, *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_grammar_is_one_line_error(run_cli, tmp_path):
    result = run_cli("explain", tmp_path / "nope.pcfg", "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2 and "no such grammar file" in result.output
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("stem", SHIPPED)
def test_documents_give_back_the_strings_they_carry(stem):
    """`formats.document_strings` (the novelty reference) reads exactly the strings a document was built with:
    no explanation line of any style or paraphrase looks like an example line `"{name}: …"`."""
    from metaex.core import formats
    from metaex.core.explain import explain

    g = instantiate(load_grammar(GRAMMARS / f"{stem}.pcfg"), seed=3)
    strings = sample_strings(g, 5, 0)
    for rec in explain(g, ["prose", "bnf", "constraints"], 20, 0):
        assert formats.document_strings("worked", g.name, formats.worked_doc(rec["text"], g.name, strings)) == strings
        assert formats.document_strings("explanation", g.name, rec["text"]) == []
        page = formats.textbook_doc(rec["text"], g.name, strings[:2], [(strings[2], True)])
        assert formats.document_strings("textbook", g.name, page) == strings[:2]
    assert formats.document_strings("example", g.name, formats.example_doc(g.name, strings[0])) == strings[:1]
