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


def test_contested_textbooks_state_one_variant_and_show_only_its_forms(run_cli, tmp_path):
    """--contested-per-grammar N: per grammar with a contest, N textbooks alternating variants a and b, each the
    variant's explanation (the two worded alike: the texts of a paraphrase differ only in the contested rule)
    followed by contested strings that variant accepts and the other rejects."""
    from metaex.core.explain import Explainer
    from metaex.core.grammar import contest as C

    out = tmp_path / "c.jsonl"
    result = run_cli("bridge", "--grammars", "4", "--seed", "3", "--examples-per-grammar", "2",
                     "--contested-per-grammar", "4", "-o", out)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    man = json.loads((tmp_path / "c.manifest.json").read_text())
    assert man["options"]["contested_per_grammar"] == 4
    grammars = {g.name: g for g in bridge_grammars(4, 3, [])}

    def gseed(name: str) -> int:      # the corpus seed × 1000 + the grammar's index, as the corpus draws
        return 3 * 1000 + list(grammars).index(name)

    contested = 0
    for name, g in grammars.items():
        texts = [d["text"] for d in docs if d["grammar"] == name and d["doc_kind"] == "textbook"]
        try:
            chosen = C.choose(g, max_len=40, need=1, pairs=8, seed=gseed(name))
        except Exception:
            continue
        variants = dict(zip("ab", C.variants(g, chosen.contest), strict=True))
        accepts = {v: recognizer(x).accepts for v, x in variants.items()}
        expl = {v: {t for s in ("prose", "bnf", "constraints") for t in Explainer(x).paraphrases(s, 1, gseed(name))}
                for v, x in variants.items()}
        mine = [t for t in texts if "Is '" not in t]            # the contested ones: no Q&A lines
        assert len(mine) == 4
        told = []
        for t in mine:
            parts = t.split("\n")            # the explanation (a bnf one has lines), then 4 example lines
            head, lines = "\n".join(parts[:-4]), parts[-4:]
            assert all(x.startswith(f"{name}: ") for x in lines)
            strings = [x[len(name) + 2:] for x in lines]
            v = "a" if all(accepts["a"](s) and not accepts["b"](s) for s in strings) else "b"
            assert all(accepts[v](s) and not accepts["ab".replace(v, "")](s) for s in strings) and strings
            assert head in expl[v] and head not in expl["ab".replace(v, "")]
            told.append(v)
        assert sorted(told) == ["a", "a", "b", "b"]
        contested += 1
    assert contested >= 2
