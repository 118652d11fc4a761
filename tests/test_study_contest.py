"""The contested-rule design as a study: a micro study of `examples`, `told`, `told-worked`, the contested ladder and
the exposure ladder, run end to end by `metaex study run`, then its construction checked from the files it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metaex.core import records
from metaex.core.grammar import contest as C
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.recognize import recognizer

ROOT = Path(__file__).resolve().parent.parent
GRAMMARS = ("agreement", "arith", "counting", "reber")

MICRO = """
[study]
grammars = ["agreement", "arith", "counting", "reber"]
seeds = [0, 1]
conditions = ["examples", "told", "told-worked"]
doses = [8]
contest_pairs = 12
contest_ladder = [2, 8]
exposure = [1]
grammar_dir = "{grammars}"

[data]
max_len = 12
test_strings = 20
paraphrases = 2
filler_grammars = 0
worked_multiplier = 1
worked_per_doc = 4
example_steps = 6
extra_passes = 1

[model]
size = "tiny"
batch_size = 16

[arms.tiny]
bridged = false

[probe]
samples = 4
limit = 6
verbal = 2
batch_size = 64
contest_samples = 1
in_context = true
in_context_samples = 2
in_context_conditions = ["examples"]
"""


@pytest.fixture(scope="module")
def contested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contested")
    config, out = tmp / "contest.toml", tmp / "study"
    config.write_text(MICRO.replace("{grammars}", str(ROOT / "grammars")))
    run = subprocess.run([sys.executable, "-m", "metaex", "study", "run", str(config), "--out", str(out),
                          "--threads", "1"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def _docs(mix: Path) -> list[dict]:
    return list(records.read(mix, "document"))


def test_each_seed_pair_tells_both_forms_and_every_step_reads_the_told_variant(contested):
    told = {}
    for seed in (0, 1):
        for name in GRAMMARS:
            info = json.loads((contested / f"seed{seed}" / "contest" / name / "contest.json").read_text())
            told[seed, name] = info["told"]
        probe = json.loads((contested / "probes" / "tiny" / f"seed{seed}-told-d8" / "config.json").read_text())
        assert all(f"/seed{seed}/contest/" in g for g in json.dumps(probe["inputs"]).split('"') if g.endswith(".pcfg"))
    assert all(told[0, n] != told[1, n] for n in GRAMMARS)          # complementary seeds: both forms told


def test_no_training_string_uses_the_contested_rule_but_the_planted_ones(contested):
    """Every example string of every condition's mix is in the shared sub-language (both variants accept it alike);
    the contested strings appear only in told-worked and the ladder, and no test pair's form is trained on."""
    for seed in (0, 1):
        tests, grammars = set(), {}
        for name in GRAMMARS:
            folder = contested / f"seed{seed}" / "contest" / name
            a, b = load_grammar(folder / "a.pcfg"), load_grammar(folder / "b.pcfg")
            grammars[a.name] = (recognizer(a).accepts, recognizer(b).accepts, set(a.terminals))
            tests |= {s for r in records.read(folder / "pairs.jsonl", "contest_pair") for s in (r["a"], r["b"])}
        for mix in sorted((contested / f"seed{seed}" / "mix").glob("*.jsonl")):
            strings = planted = 0
            for d in _docs(mix):
                for line in d["text"].splitlines():
                    name, _, text = line.partition(": ")
                    if name not in grammars or not text or not set(text.split()) <= grammars[name][2]:
                        continue            # not a string line (an explanation's sentence)
                    in_a, in_b, _ = (f(text) if callable(f) else f for f in grammars[name])
                    assert in_a or in_b, (mix.name, text)
                    assert text not in tests, (mix.name, text)
                    strings += 1
                    planted += in_a != in_b
            assert strings > 0
            contested_condition = mix.stem.startswith(("told-worked", "contested-"))
            assert (planted > 0) == contested_condition, (mix.name, planted)


def test_contest_metrics_are_probed_and_the_report_answers_for_the_contested_design(contested):
    rows = list(records.read(contested / "probes" / "tiny" / "seed0-contested-8-d8" / "summary.jsonl",
                             "probe_summary"))
    assert {"contest_pref", "contest_acc", "contest_judge", "contest_gen"} <= {r["metric"] for r in rows}
    report = json.loads((contested / "report" / "report.json").read_text())
    [entry] = [e for e in report["answer"]["entries"] if e["design"] == "contested"]
    assert entry["metric"] == "contest_pref" and entry["curve"]["x"] == [0.0, 2.0, 8.0]
    assert entry["primary"]["condition"] == "told" and entry["primary"]["reference"] == "examples"
    assert entry["planted"]["condition"] == "told-worked"
    # the exposure curve: told-p1 against examples beside told (2 paraphrases per style), exploratory
    assert [c["condition"] for c in entry["exposure"]] == ["told-p1"]
    assert entry["exposure"][0]["reference"] == "examples" and "p_holm" not in entry["exposure"][0]
    docs = entry["told_documents"]
    assert docs["told"]["paraphrases"] == 2 and docs["told-p1"]["paraphrases"] == 1
    assert docs["told"]["documents"] == 2 * docs["told-p1"]["documents"] > 0
    assert report["answer"]["holm"] == 1          # the exposure rungs are not primary contrasts
    # the in-context DAE (the screen) of the arm's `examples` models beside the out-of-context one
    screen = entry["in_context"]["examples"]
    assert screen["n_seeds"] == 2 and screen["ci_low"] <= screen["estimate"] <= screen["ci_high"]
    text = (contested / "report" / "report.md").read_text()
    assert "contested design" in text and "Exposure curve (exploratory" in text and "`told-p1` (1 paraphrase(s)" in text
    assert "In context (the screen" in text and "| in-context DAE |" in text


def test_the_contest_choice_is_the_templates_declared_one(contested):
    for name in GRAMMARS:
        template = load_grammar(ROOT / "grammars" / f"{name}.pcfg")
        info = json.loads((contested / "seed0" / "contest" / name / "contest.json").read_text())
        [want] = C.parse_rule(template, *C.declared(template))   # terminals are the instance's own words
        assert {k: info["contest"][k] for k in ("lhs", "alt", "op", "i", "j")} == {
            k: want.to_dict()[k] for k in ("lhs", "alt", "op", "i", "j")}
