"""`metaex bridge`: a bridging corpus of random grammars, disjoint in words from the study's."""

from __future__ import annotations

import json
from collections import Counter

from metaex.core import formats
from metaex.core.grammar.instantiate import instantiate, words_of
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.mix.bridge import bridge_grammars
from tests.conftest import GRAMMARS


def test_bridge_corpus_documents_words_and_determinism(run_cli, tmp_path):
    study = instantiate(load_grammar(GRAMMARS / "reber.pcfg"), seed=0)
    avoid = tmp_path / "study.pcfg"
    avoid.write_text(study.to_text())
    args = ["bridge", "--grammars", "4", "--seed", "3", "--examples-per-grammar", "5", "--avoid", avoid]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        result = run_cli(*args, "-o", out)
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    docs = [json.loads(line) for line in a.read_text().splitlines()]
    man = json.loads((tmp_path / "a.manifest.json").read_text())
    assert man["documents"] == {"example": 20, "explanation": 24, "qa": 32, "textbook": 8}
    grammars = {g.name: g for g in bridge_grammars(4, 3, [str(avoid)])}
    assert sorted(grammars) == sorted(g["name"] for g in man["grammars"])
    taken = words_of(study)
    for g in grammars.values():
        assert not (words_of(g) & taken)
    qa = Counter()
    for d in docs:
        g = grammars[d["grammar"]]
        rec = recognizer(g)
        shots = {f"Is '{s}' {what} sentence? {formats.YES if ok else formats.NO}" for s, what, ok in formats.JUDGEMENT_SHOTS}
        for line in d["text"].split("\n"):
            if line in shots:
                continue   # the worked question every judgement prompt starts with
            if line.startswith("Is '"):
                text = line[4:line.index("' a ")]
                valid = line.endswith(formats.YES)
                assert rec.accepts(text) == valid
                if d["doc_kind"] == "qa":
                    qa[valid] += 1
            elif line.startswith(f"{g.name}: "):
                assert rec.accepts(line[len(g.name) + 2:])
        if d["doc_kind"] == "textbook":
            lines = d["text"].split("\n")
            assert g.name in lines[0] and not lines[0].startswith(f"{g.name}: ")
            assert any(x.startswith(f"{g.name}: ") for x in lines[1:]) and any(x.startswith("Is '") for x in lines)
    assert qa[True] == qa[False] == 16
    kinds = [d["doc_kind"] for d in docs]
    assert kinds != sorted(kinds)  # shuffled


def test_bridge_bad_options(run_cli, tmp_path):
    out = tmp_path / "c.jsonl"
    result = run_cli("bridge", "--grammars", "0", "--seed", "1", "-o", out)
    assert result.exit_code == 2 and "--grammars must be at least 1" in result.output and not out.exists()
    result = run_cli("bridge", "--grammars", "2", "--seed", "1", "--qa-per-grammar", "3", "-o", out)
    assert result.exit_code == 2 and "must be even" in result.output and not out.exists()
