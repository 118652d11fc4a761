"""The in-context control is a same-alphabet sham: the same words, names and length, other rules."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from metaex.core import records
from metaex.core.explain.run import explain
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.probe import in_context
from metaex.core.probe.inputs import load_items
from metaex.core.probe.options import ProbeOptions

ROOT = Path(__file__).resolve().parent.parent


def test_a_plain_grammar_s_control_is_its_explanation_with_the_terminals_permuted():
    g = load_grammar(ROOT / "grammars" / "reber.pcfg")
    for rec in explain(g, ["prose", "bnf", "constraints"], 2, 0):
        sham = in_context.permuted_terminals(rec["text"], g)
        assert sham != rec["text"] and len(sham.split()) == len(rec["text"].split())
        masked = [re.sub(r"'[^']+'", "'T'", t) for t in (sham, rec["text"])]   # terminals at the same places
        assert masked[0] == masked[1]


def test_a_contested_grammar_s_control_is_the_other_variant_s_explanation(tmp_path, run_cli):
    out = tmp_path / "c"
    assert run_cli("grammar", "contest", ROOT / "grammars" / "arith.pcfg", "--seed", 0, "--out", out, "--told", "b",
                   "--pairs", 6).exit_code == 0
    assert run_cli("explain", out / "b.pcfg", "--styles", "prose,bnf", "--paraphrases", 2, "-o",
                   tmp_path / "e.jsonl").exit_code == 0
    told = load_grammar(out / "b.pcfg")
    items = load_items([told], ProbeOptions(in_context=True, verbal=4), explanations=tmp_path / "e.jsonl")
    got = in_context.contexts(items[told.name])
    own = {r["text"] for r in records.read(tmp_path / "e.jsonl", "explanation")}
    assert got and set(got[in_context.TRUE]) <= own
    for true, sham in zip(got[in_context.TRUE], got[in_context.CONTROL], strict=True):
        assert sham != true and len(sham.split()) == len(true.split())
        assert Counter(true.split()) == Counter(sham.split()) or sum((Counter(true.split()) - Counter(sham.split())).values()) <= 4
