"""`metaex screen`: the in-context direction-adjusted effect of a base model, on the real SmolLM2-135M."""

from __future__ import annotations

import json

from tests.conftest import GRAMMARS


def test_smollm2_reads_arith_s_bracket_order_in_context(smollm2, tmp_path, run_cli):
    """Measured once at 20 pairs: +0.086 nats a word [+0.036, +0.136] on arith (the contest: which bracket opens a
    parenthesised factor). The two explanations hold the same words; only the rule differs, so a positive DAE is
    the model reading it. Scoring is deterministic on the CPU."""
    out = tmp_path / "screen.json"
    result = run_cli("screen", smollm2, "--grammar", GRAMMARS / "arith.pcfg", "--pairs", 20, "-o", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    [row] = data["grammars"]
    assert row["grammar"] == "arith" and row["pairs"] == 20 and row["change"] == "swap:1,3"
    assert row["dae"]["ci_low"] > 0 and data["dae"]["estimate"] == row["dae"]["estimate"]
    assert "reads the contested rules in context" in result.output


def test_a_grammar_without_a_contestable_rule_is_one_line_and_writes_nothing(smollm2, tmp_path, run_cli):
    single = tmp_path / "single.pcfg"
    single.write_text("S -> 'ka' 'po' [1.0]\n")
    out = tmp_path / "screen.json"
    result = run_cli("screen", smollm2, "--grammar", single, "-o", out)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "has no contestable rule" in lines[0] and str(single) in lines[0]
    assert not out.exists()
