"""`metaex mix`: one condition's training stream — shared example stream, controls, leakage guard, bad input."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

import pytest

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.explain import explain
from metaex.core.grammar.instantiate import instantiate_many
from metaex.core.grammar.pairs import minimal_pairs
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.random_gen import random_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import sample_split, sample_strings
from metaex.core.text import tokens
from tests.conftest import GRAMMARS

STUDY = ("reber", "counting", "arith", "agreement")
CONDITIONS = ("examples", "explained", "mismatched", "filler", "explanations-only", "worked")
PARAPHRASES = 3


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Files of a 4-grammar study (seed 0) plus filler explanations of two grammars outside it."""
    d = tmp_path_factory.mktemp("study")
    templates = [load_grammar(GRAMMARS / f"{t}.pcfg") for t in STUDY]
    outside = [load_grammar(GRAMMARS / "dyck2.pcfg"), random_grammar("cfg", 5)]
    gs = instantiate_many(templates + outside, seed=0)
    files: dict[str, list] = {k: [] for k in ("examples", "explanations", "tests", "pool", "filler", "grammar")}

    def put(name, recs):
        path = d / name
        records.write(path, recs)
        return path

    def ex(g, texts, split):
        return [records.make("example", text=t, grammar=g.name, grammar_hash=g.hash, seed=0, split=split,
                             template=g.meta["template"]) for t in texts]

    for g in gs[:4]:
        stem = g.meta["template"]
        path = d / f"{stem}.pcfg"
        path.write_text(g.to_text())
        files["grammar"].append(path)
        train, test = sample_split(g, 24, 30, seed=1)
        files["examples"].append(put(f"{stem}.train.jsonl", ex(g, train, "train")))
        files["tests"].append(put(f"{stem}.test.jsonl", ex(g, test, "test")))
        files["tests"].append(put(f"{stem}.pairs.jsonl", minimal_pairs(g, test, seed=2)))
        files["pool"].append(put(f"{stem}.pool.jsonl", ex(g, sample_strings(g, 400, seed=3), "pool")))
        files["explanations"].append(put(f"{stem}.expl.jsonl", explain(g, ["prose", "bnf", "constraints"],
                                                                          PARAPHRASES, 0)))
    for g in gs[4:]:
        files["filler"].append(put(f"{g.name}.filler.jsonl", explain(g, ["prose", "bnf", "constraints"], 20, 0)))
    files["dir"] = d
    files["instances"] = gs[:4]
    return files


def _args(study, **over):
    opts = {"condition": "explained", "dose": 8, "seed": 0, "paraphrases": PARAPHRASES, **over}
    args = []
    for k, v in opts.items():
        args += [f"--{k}", str(v)]
    for opt, key in (("--examples", "examples"), ("--explanations", "explanations"), ("--tests", "tests"),
                     ("--pool", "pool"), ("--filler", "filler")):
        for p in study[key]:
            args += [opt, str(p)]
    return args


def _mix(run_cli, study, out, **over):
    result = run_cli("mix", *_args(study, **over), "-o", out)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    return docs, json.loads((out.parent / out.name.replace(".jsonl", ".manifest.json")).read_text())


def test_all_conditions_share_the_example_stream(run_cli, study, tmp_path):
    streams, extras, manifests = {}, {}, {}
    for order in ("interleaved", "explanations-first"):
        for c in CONDITIONS:
            docs, man = _mix(run_cli, study, tmp_path / f"{c}.{order}.jsonl", condition=c, order=order, passes=2)
            manifests[c] = man
            streams[c, order] = [d["text"] for d in docs if d["doc_kind"] == "example"]
            extras[c, order] = [i for i, d in enumerate(docs) if d["doc_kind"] != "example"]
            assert all(d["condition"] == c and d["seed"] == 0 for d in docs)
    reference = streams["examples", "interleaved"]
    assert len(reference) == 2 * 4 * 8 and Counter(reference[:32]) == Counter(reference[32:])
    for (c, order), s in streams.items():
        assert s == ([] if c == "explanations-only" else reference), (c, order)
    # conditions adding the same number of documents put them at the same positions
    for c in ("mismatched", "worked"):
        assert extras[c, "interleaved"] == extras["explained", "interleaved"]
    assert extras["explained", "explanations-first"][:6] == list(range(6))
    m = manifests["explained"]
    assert m["documents"] == {"example": 64, "explanation": 2 * 2 * 3 * PARAPHRASES}
    assert sum(m["tokens"]["by_kind"].values()) == m["tokens"]["total"] == sum(m["tokens"]["by_grammar"].values())


def test_same_seed_same_bytes(run_cli, study, tmp_path):
    for c in ("explained", "filler", "worked"):
        a, b = tmp_path / f"{c}a.jsonl", tmp_path / f"{c}b.jsonl"
        _mix(run_cli, study, a, condition=c)
        _mix(run_cli, study, b, condition=c)
        assert a.read_bytes() == b.read_bytes()


def test_seed_pairs_explain_complementary_halves(run_cli, study, tmp_path):
    counts: Counter = Counter()
    halves = []
    for seed in range(4):
        _, man = _mix(run_cli, study, tmp_path / f"s{seed}.jsonl", condition="examples", seed=seed)
        halves.append({g["template"] for g in man["grammars"] if g["explained"]})
        counts.update(halves[-1])
    for even, odd in (halves[0:2], halves[2:4]):
        assert len(even) == len(odd) == 2 and even.isdisjoint(odd)
    assert set(counts.values()) == {2}


@pytest.mark.parametrize("extra_passes", [1, 3])
def test_filler_is_token_matched_to_explained(run_cli, study, tmp_path, extra_passes):
    _, ex = _mix(run_cli, study, tmp_path / "e.jsonl", condition="explained", passes=3, **{"extra-passes": extra_passes})
    docs, fi = _mix(run_cli, study, tmp_path / "f.jsonl", condition="filler", passes=3, **{"extra-passes": extra_passes})
    want, got = ex["tokens"]["by_kind"]["explanation"], fi["tokens"]["by_kind"]["filler"]
    assert abs(got / want - 1) <= 0.02, (got, want)  # tokens as the manifest counts them
    note = fi["filler"]
    assert note["target_tokens"] * extra_passes == want and note["tokens"] * extra_passes == got
    assert note["documents"] * extra_passes == fi["documents"]["filler"] and note["targets"] == 18
    study_names = {g.name for g in study["instances"]}
    assert all(d["grammar"] not in study_names for d in docs if d["doc_kind"] == "filler")


def test_filler_repeats_and_trims_to_the_target_or_refuses():
    from metaex.core.mix.build import Doc, filler_docs
    from metaex.core.mix.inputs import Source
    from metaex.core.text import tokens

    src = Source("f.jsonl", 1)
    long = {"text": "In Zib , " + " ".join(f"w{i}" for i in range(46)) + " .", "grammar": "Zib", "style": "prose"}
    short = {"text": "Zib is small .", "grammar": "Zib", "style": "prose"}
    targets = [Doc("explanation", "Vemo", "Vemo has " + " ".join(["ka"] * 8), src, "prose")] * 2   # 2 × 10 tokens
    docs, note = filler_docs(targets, [(long, src)], seed=0)      # 50 tokens: used once, cut to 20
    assert sum(len(tokens(d.text)) for d in docs) == 20 and note["trimmed"] == 1 and len(docs) == 1
    assert long["text"].startswith(docs[0].text)
    with pytest.raises(InputError, match="must add 30 tokens.*reach 12 at 3 uses each"):
        filler_docs(targets[:1] * 3, [(short, src)], seed=0)   # 30 tokens from one 4-token text


def test_mismatched_is_a_derangement_with_the_same_tokens(run_cli, study, tmp_path):
    ex, ex_man = _mix(run_cli, study, tmp_path / "e.jsonl", condition="explained")
    mm, mm_man = _mix(run_cli, study, tmp_path / "m.jsonl", condition="mismatched")
    assert mm_man["tokens"]["by_kind"]["mismatched"] == ex_man["tokens"]["by_kind"]["explanation"]
    names = {g.name for g in study["instances"]}
    mask = re.compile("|".join(rf"\b{n}\b" for n in names))
    e_docs = [d for d in ex if d["doc_kind"] == "explanation"]
    m_docs = [d for d in mm if d["doc_kind"] == "mismatched"]
    assert len(e_docs) == len(m_docs)
    mapping = {d["about"]: d["grammar"] for d in m_docs}
    assert all(a != b for a, b in mapping.items()) and sorted(mapping) == sorted(mapping.values())
    assert all(d["about"] not in d["text"] and d["grammar"] in d["text"] for d in m_docs)
    masked = [Counter(tokens(mask.sub("NAME", d["text"]))) for d in (e_docs, m_docs) for d in d]
    assert sum(masked[:len(e_docs)], Counter()) == sum(masked[len(e_docs):], Counter())
    assert sum(len(tokens(d["text"])) for d in e_docs) == sum(len(tokens(d["text"])) for d in m_docs)


def test_doses_nest(run_cli, study, tmp_path):
    small, _ = _mix(run_cli, study, tmp_path / "a.jsonl", condition="examples", dose=4)
    big, _ = _mix(run_cli, study, tmp_path / "b.jsonl", condition="examples", dose=8)
    by = lambda docs, g: {d["text"] for d in docs if d["grammar"] == g}  # noqa: E731
    for g in study["instances"]:
        assert len(by(small, g.name)) == 4 and by(small, g.name) < by(big, g.name)


def test_worked_carries_extra_valid_strings_never_train_or_test(run_cli, study, tmp_path):
    docs, man = _mix(run_cli, study, tmp_path / "w.jsonl", condition="worked", dose=8)
    assert man["worked"]["strings_per_grammar"] == 16 and man["worked"]["dose_multiple"] == 2
    gs = {g.name: g for g in study["instances"]}
    train_test = {json.loads(line)["text"] for key in ("examples", "tests") for p in study[key]
                  for line in p.read_text().splitlines() if '"text"' in line}
    for name in (g["name"] for g in man["grammars"] if g["explained"]):
        worked = [d["text"].split("\n") for d in docs if d["doc_kind"] == "worked" and d["grammar"] == name]
        # one example document per line, then the explanation (bnf spans lines)
        strings = []
        for lines in worked:
            quoted = [i for i, line in enumerate(lines) if line.startswith(f"{name}: ")]
            assert quoted == list(range(len(quoted))) and len(quoted) < len(lines)
            strings += [lines[i].removeprefix(f"{name}: ") for i in quoted]
        assert len(strings) == 16 and len(set(strings)) == 16
        assert all(recognizer(gs[name]).accepts(s) and s not in train_test for s in strings)


def test_worked_per_doc_packs_strings_onto_fewer_explanations(run_cli, study, tmp_path):
    docs, man = _mix(run_cli, study, tmp_path / "w4.jsonl", condition="worked", dose=8, **{"worked-per-doc": 5})
    assert man["worked"]["strings_per_document"] == 5
    for name in (g["name"] for g in man["grammars"] if g["explained"]):
        worked = [d["text"].split("\n") for d in docs if d["doc_kind"] == "worked" and d["grammar"] == name]
        counts = [sum(line.startswith(f"{name}: ") for line in lines) for lines in worked]
        assert sorted(counts) == [1, 5, 5, 5]                 # 16 strings, 5 to a document, the rest in one
        explanations = ["\n".join(lines[n:]) for lines, n in zip(worked, counts, strict=True)]
        assert len(set(explanations)) == 4                    # a different explanation for each document


def test_leakage_guard_refuses_and_reports(run_cli, study, tmp_path):
    _, man = _mix(run_cli, study, tmp_path / "ok.jsonl", condition="explained")
    report = man["leakage"]["longest_shared_run"]
    assert set(report) == {g.name for g in study["instances"]}
    assert all(n <= 3 for kinds in report.values() for n in kinds.values())
    # a test string that is also a training example
    train = study["examples"][0]
    first = json.loads(train.read_text().splitlines()[0])
    leak = tmp_path / "leak.test.jsonl"
    records.write(leak, [{**first, "split": "test"}])
    out = tmp_path / "bad.jsonl"
    result = run_cli("mix", *_args(study), "--tests", leak, "-o", out)
    assert result.exit_code == 2 and f"{train}:1:" in result.output and "is a test string" in result.output
    assert not out.exists() and not (tmp_path / "bad.manifest.json").exists()
    # an explanation quoting a test string whole
    test = json.loads(study["tests"][0].read_text().splitlines()[0])
    g = next(g for g in study["instances"] if g.name == test["grammar"])
    quoting = tmp_path / "quoting.jsonl"
    records.write(quoting, [records.make("explanation", text=f"{g.name} allows {test['text']} and more.",
                                         grammar=g.name, grammar_hash=g.hash, style="zz", paraphrase=i, seed=0)
                            for i in range(PARAPHRASES)])
    seed = _seed_explaining(run_cli, study, tmp_path, g.name)
    result = run_cli("mix", *_args(study, seed=seed), "--explanations", quoting, "-o", out)
    assert result.exit_code == 2 and f"{quoting}:1:" in result.output and "whole" in result.output
    assert not out.exists()


def _seed_explaining(run_cli, study, tmp_path, name: str) -> int:
    for seed in (0, 1):
        _, man = _mix(run_cli, study, tmp_path / "probe.jsonl", condition="examples", seed=seed)
        if any(g["name"] == name and g["explained"] for g in man["grammars"]):
            return seed
    raise AssertionError("one of two complementary seeds explains every grammar")


def _bad_cases(study, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    stray = tmp_path / "stray.jsonl"
    records.write(stray, [records.make("explanation", text="Zib is small.", grammar="Zib", grammar_hash="x",
                                       style="prose", paraphrase=0, seed=0)])
    pairs = next(p for p in study["tests"] if "pairs" in p.name)
    return {
        "stray explanation": (["--explanations", stray], f"{stray}:1:", "not among the example grammars"),
        "wrong kind": (["--examples", pairs], f"{pairs}:1:", "of kind 'pair' where 'example'"),
        "empty": (["--examples", empty], f"{empty}:", "no records (empty input)"),
        "unknown condition": (["--condition", "vibes"], "", "--condition must be one of examples"),
        "dose too large": (["--dose", "25"], "", "--dose 25 is larger than the 24 train examples"),
        "unknown order": (["--order", "sideways"], "", "--order must be one of"),
        "too few paraphrases": (["--paraphrases", "4"], "", "paraphrases asked for"),
        "filler from the study": (["--condition", "filler", "--filler", study["explanations"][0]],
                                  f"{study['explanations'][0]}:1:", "a grammar of this study"),
    }


@pytest.mark.parametrize("case", ["stray explanation", "wrong kind", "empty", "unknown condition",
                                  "dose too large", "unknown order", "too few paraphrases", "filler from the study"])
def test_bad_input_is_one_line_and_writes_nothing(run_cli, study, tmp_path, case):
    extra, where, message = _bad_cases(study, tmp_path)[case]
    out = tmp_path / "out.jsonl"
    result = run_cli("mix", *_args(study), *extra, "-o", out)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and where in line and message in line, line
    assert not out.exists() and not (tmp_path / "out.manifest.json").exists()


def test_no_torch_and_one_line_errors_in_a_fresh_process(run_subprocess, study, tmp_path):
    """explain, mix and bridge never import torch; errors print one line, no traceback."""
    out = tmp_path / "m.jsonl"
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from metaex.cli.main import app\n"
        "r = CliRunner()\n"
        f"args = {[str(a) for a in _args(study)]!r}\n"
        f"assert r.invoke(app, ['mix', *args, '-o', {str(out)!r}]).exit_code == 0\n"
        f"assert r.invoke(app, ['explain', {str(study['grammar'][0])!r}, '-n', '2', '-o', {str(tmp_path / 'e')!r}])"
        ".exit_code == 0\n"
        f"assert r.invoke(app, ['bridge', '--grammars', '2', '--seed', '0', '-o', {str(tmp_path / 'b')!r}])"
        ".exit_code == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = run_subprocess("mix", *_args(study, condition="nope"), "-o", out)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_extra_passes_spread_each_extra_document_over_the_stream(run_cli, study, tmp_path):
    full, _ = _mix(run_cli, study, tmp_path / "full.jsonl", passes=4)
    once, man = _mix(run_cli, study, tmp_path / "once.jsonl", passes=4, **{"extra-passes": 1})
    assert man["extra_passes"] == 1 and man["passes"] == 4
    examples = [d["text"] for d in once if d["doc_kind"] == "example"]
    assert examples == [d["text"] for d in full if d["doc_kind"] == "example"]
    extras = [d["text"] for d in once if d["doc_kind"] == "explanation"]
    assert len(extras) == len(set(extras)) == 2 * 3 * PARAPHRASES
    assert Counter(extras) == Counter(d["text"] for d in full if d["doc_kind"] == "explanation") - Counter(
        {t: 3 for t in extras})
    # spread over the stream, not bunched: extras sit in every quarter of it, about equally
    where = [4 * i // len(once) for i, d in enumerate(once) if d["doc_kind"] == "explanation"]
    assert all(abs(n - len(extras) / 4) <= len(extras) / 8 for n in Counter(where).values())
    assert set(where) == {0, 1, 2, 3}
