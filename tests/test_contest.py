"""The contested-rule design's grammar side (metaex.core.grammar.contest, `metaex grammar contest`, `sample
--shared`): on every shipped grammar, the two variants differ exactly on the contested pairs (checked by our
recognizers and by nltk's parser), training strings never use the contested alternative, and a grammar without a
contestable rule gets one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaex.core import records
from metaex.core.grammar import contest as C
from metaex.core.grammar.contest_pairs import contested_pairs
from metaex.core.grammar.pcfg import load_grammar, parse_grammar
from metaex.core.grammar.recognize import recognizer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "grammars").glob("*.pcfg") if "contest:" in p.read_text())


def _nltk_accepts(g):
    import nltk

    parser = nltk.ChartParser(nltk.PCFG.fromstring(g.to_text(with_meta=False)))

    def accepts(text: str) -> bool:
        return any(True for _ in parser.parse(text.split()))

    return accepts


def test_every_shipped_study_grammar_declares_a_contest():
    assert {"agreement", "arith", "counting", "reber", "dyck2"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_variants_differ_exactly_on_the_contested_pairs(name, tmp_path, run_cli):
    out = tmp_path / "c"
    result = run_cli("grammar", "contest", ROOT / "grammars" / f"{name}.pcfg", "--seed", 3, "--out", out,
                     "--pairs", 40, "--strings", 8, "--told", "b", "--need", 200)
    assert result.exit_code == 0, result.output
    a, b = load_grammar(out / "a.pcfg"), load_grammar(out / "b.pcfg")
    assert set(b.terminals) <= set(a.terminals)            # one alphabet: b only rearranges a's symbols
    pairs = list(records.read_all(out / "pairs.jsonl", "contest_pair"))
    strings = [r["text"] for r in records.read_all(out / "strings.jsonl", "example")]
    assert len(pairs) == 40 and len(strings) == 8
    assert all(p["told"] == "b" and p["grammar_hash"] == b.hash for p in pairs)
    in_a, in_b = recognizer(a).accepts, recognizer(b).accepts
    nltk_a, nltk_b = _nltk_accepts(a), _nltk_accepts(b)
    for p in pairs:
        assert in_a(p["a"]) and not in_b(p["a"]) and in_b(p["b"]) and not in_a(p["b"]), p
        assert nltk_a(p["a"]) and not nltk_b(p["a"]) and nltk_b(p["b"]) and not nltk_a(p["b"]), p
    assert all(in_b(s) and not in_a(s) for s in strings)                   # the told variant's forms
    assert not set(strings) & {s for p in pairs for s in (p["a"], p["b"])}   # none of them in a test pair
    info = json.loads((out / "contest.json").read_text())
    assert info["told"] == "b" and info["hashes"] == {"a": a.hash, "b": b.hash}
    # each file declares the contest from its own side: either gives the same shared sub-language
    assert C.shared_of(a).to_text(with_meta=False) == C.shared_of(b).to_text(with_meta=False)


@pytest.mark.parametrize("name", SHIPPED)
def test_shared_strings_never_use_the_contested_alternative(name, tmp_path, run_cli):
    template = ROOT / "grammars" / f"{name}.pcfg"
    out = tmp_path / "train.jsonl"
    assert run_cli("grammar", "sample", template, "-n", 200, "--seed", 1, "--max-len", 20, "--shared",
                   "-o", out).exit_code == 0
    g = load_grammar(template)
    [c, *_] = C.parse_rule(g, *C.declared(g))
    _, b = C.variants(g, c)
    in_a, in_b = recognizer(g).accepts, recognizer(b).accepts
    texts = [r["text"] for r in records.read_all(out, "example")]
    assert texts and all(in_a(t) and in_b(t) for t in texts)     # both variants accept every training string
    # and no derivation of a training string needs α: the shared grammar alone derives each
    shared = recognizer(C.shared_grammar(g, c)).accepts
    assert all(shared(t) for t in texts)
    assert {r["grammar_hash"] for r in records.read_all(out, "example")} == {g.hash}


def test_a_swap_keeps_words_and_length_a_replacement_is_a_minimal_pair():
    for name in SHIPPED:
        g = load_grammar(ROOT / "grammars" / f"{name}.pcfg")
        [c, *_] = C.parse_rule(g, *C.declared(g))
        for p in contested_pairs(g, c, 20, 0, 20):
            if c.op == "swap":
                assert sorted(p.a.split()) == sorted(p.b.split())
            elif c.symbol not in g.by_lhs:
                assert len(p.a.split()) == len(p.b.split())
                assert sum(x != y for x, y in zip(p.a.split(), p.b.split(), strict=True)) == 1


def test_a_user_grammar_is_contested_automatically_and_a_grammar_without_a_rule_is_told_why(tmp_path, run_cli):
    user = tmp_path / "user.pcfg"
    user.write_text("S -> 'ka' X [0.6] | 'po' X 'zun' [0.4]\nX -> 'mek' X [0.4] | 'tov' [0.3] | 'lu' [0.3]\n")
    result = run_cli("grammar", "contest", user, "--seed", 0, "--out", tmp_path / "u", "--pairs", 10)
    assert result.exit_code == 0, result.output
    assert "contested" in result.output
    single = tmp_path / "single.pcfg"
    single.write_text("S -> 'ka' 'po' [1.0]\n")
    result = run_cli("grammar", "contest", single, "--seed", 0, "--out", tmp_path / "s")
    assert result.exit_code == 2 and not (tmp_path / "s").exists()
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "has no contestable rule" in lines[0] and str(single) in lines[0]
    bad = run_cli("grammar", "contest", user, "--seed", 0, "--out", tmp_path / "r", "--rule", "X -> 'nope'")
    assert bad.exit_code == 2 and "is not an alternative of X" in bad.output
    no_decl = run_cli("grammar", "sample", user, "-n", 3, "--seed", 0, "--shared")
    assert no_decl.exit_code == 2 and "declares no contested rule" in no_decl.output


def test_variant_files_reload_and_declare_each_other():
    g = load_grammar(ROOT / "grammars" / "agreement.pcfg")
    [c] = C.parse_rule(g, *C.declared(g))
    a, b = C.variants(g, c)
    a2, b2 = parse_grammar(a.to_text()), parse_grammar(b.to_text())
    assert C.declared(b2) == ("NS -> DS NSG 'ro' VP", "replace:4=VS")
    [back] = C.parse_rule(b2, *C.declared(b2))
    assert C.variant_b(b2, back).hash == a2.hash


def test_a_deep_grammar_with_long_strings_is_refused_in_seconds_not_hours(tmp_path, run_cli):
    """cfg3 without its file's contest: its strings are long and its language ambiguous, so no candidate has
    exclusive pairs under the cap. Counting its shared sub-language once grew one rule's product of string sets
    unbounded before the work budget was checked (minutes, gigabytes); it is now counted per pair tried."""
    bare = tmp_path / "cfg3.pcfg"
    bare.write_text("".join(line for line in (ROOT / "grammars" / "cfg3.pcfg").read_text().splitlines(True)
                            if not line.startswith("# contest")))
    result = run_cli("grammar", "contest", bare, "--seed", 0, "--out", tmp_path / "c", "--pairs", 40)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "has no contestable rule" in lines[0]
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("name", SHIPPED)
def test_the_two_variants_explanations_differ_only_in_the_contested_rule(name, tmp_path, run_cli):
    """Paraphrase i of a style is worded alike for both variants (seeded by their shared sub-language), so prose and
    bnf texts differ only in the contested alternative's symbols; each text is its own variant's (the explainer
    checks that bnf parses back to the file's rules)."""
    import difflib

    out = tmp_path / "c"
    assert run_cli("grammar", "contest", ROOT / "grammars" / f"{name}.pcfg", "--seed", 0, "--out", out,
                   "--pairs", 5).exit_code == 0
    texts = {}
    for v in ("a", "b"):
        result = run_cli("explain", out / f"{v}.pcfg", "--styles", "prose,bnf", "--paraphrases", 3, "-o",
                         tmp_path / f"{v}.jsonl")
        assert result.exit_code == 0, result.output
        texts[v] = list(records.read(tmp_path / f"{v}.jsonl", "explanation"))
    a, b = load_grammar(out / "a.pcfg"), load_grammar(out / "b.pcfg")
    [contest] = C.parse_rule(a, *C.declared(a))
    changed = set(C.alternative(a, contest).rhs) ^ set(C.changed_rhs(a, contest))
    for ra, rb in zip(texts["a"], texts["b"], strict=True):
        wa, wb = ra["text"].split(), rb["text"].split()
        assert len(wa) == len(wb) and ra["text"] != rb["text"]
        diff = [w[2:] for w in difflib.ndiff(wa, wb) if w[:1] in "+-"]
        assert 0 < len(diff) <= 2 * len(C.alternative(a, contest).rhs), (ra["style"], diff)
        if contest.op == "replace":   # the replaced symbol, by its name or gloss, is what differs
            assert len(diff) == 2, diff
    assert {r["grammar_hash"] for r in texts["a"]} == {a.hash} and {r["grammar_hash"] for r in texts["b"]} == {b.hash}
    assert changed or contest.op == "swap"


def test_a_replacement_that_leaves_a_symbol_unused_is_no_contest(tmp_path, run_cli):
    """Y replaced by X where Y is used nowhere else: B would lose Y and its words (another alphabet) and could not
    declare the change back to A. Refused when named; the automatic choice takes a valid contest instead."""
    user = tmp_path / "u.pcfg"
    user.write_text("S -> 'ka' X [0.6] | 'po' Y 'zun' [0.4]\nX -> 'mek' X [0.4] | 'tov' [0.6]\n"
                    "Y -> 'lu' Y [0.3] | 'ri' [0.7]\n")
    named = run_cli("grammar", "contest", user, "--rule", "S -> 'po' Y 'zun'", "--change", "replace:2=X", "--seed", 0,
                    "--out", tmp_path / "n", "--pairs", 5)
    assert named.exit_code == 2 and "used elsewhere too" in named.output and not (tmp_path / "n").exists()
    auto = run_cli("grammar", "contest", user, "--seed", 0, "--out", tmp_path / "c", "--pairs", 5)
    assert auto.exit_code == 0, auto.output
    a, b = load_grammar(tmp_path / "c" / "a.pcfg"), load_grammar(tmp_path / "c" / "b.pcfg")
    assert set(a.terminals) == set(b.terminals) and set(a.nonterminals) == set(b.nonterminals)
    assert C.other_variant(b).hash == a.hash and C.other_variant(a).hash == b.hash
