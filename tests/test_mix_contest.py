"""`metaex mix`'s contested design (issue 31): `told` tells every grammar on the `examples` stream, `told-worked`
carries the told variant's contested strings, the ladder `contested-N` nests, contested pairs given as --tests keep
their forms out of training, bad input is one line. Inputs are built by the real CLI, as a study builds them:
`grammar instantiate`, `grammar contest`, `grammar sample --shared`, `explain` of the told variant's file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from metaex.core import formats, records
from metaex.core.conditions import CONDITIONS, order
from metaex.core.grammar.contest import other_variant
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.recognize import recognizer
from tests.conftest import GRAMMARS

STUDY = ("reber", "agreement", "counting", "arith")
STRINGS = 12        # contested strings per grammar in each contest folder
PARAPHRASES = 2
STYLES = 3


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Seed 0 of a 4-grammar contested study: each instance contested (told a, b, a, b), the told variant's file
    the grammar every later step uses."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    d = tmp_path_factory.mktemp("contest")
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    files: dict = {k: [] for k in ("examples", "explanations", "tests", "contested")}
    files["told"], made = {}, []
    for i, template in enumerate(STUDY):
        inst = d / f"{template}.pcfg"
        run("grammar", "instantiate", GRAMMARS / f"{template}.pcfg", "--seed", 0, "-o", inst,
            *(a for p in made for a in ("--avoid", p)))
        made.append(inst)
        told = "ab"[i % 2]
        folder = d / f"{template}.contest"
        run("grammar", "contest", inst, "--seed", 0, "--out", folder, "--told", told, "--pairs", 10,
            "--strings", STRINGS)
        g = folder / f"{told}.pcfg"
        run("grammar", "sample", g, "--shared", "-n", 16, "--seed", 1, "--split", "train", "--test", 10,
            "--test-out", d / f"{template}.test.jsonl", "-o", d / f"{template}.train.jsonl")
        run("explain", g, "--paraphrases", PARAPHRASES, "-o", d / f"{template}.expl.jsonl")
        files["examples"].append(d / f"{template}.train.jsonl")
        files["explanations"].append(d / f"{template}.expl.jsonl")
        files["tests"] += [d / f"{template}.test.jsonl", folder / "pairs.jsonl"]
        files["contested"].append(folder / "strings.jsonl")
        files["told"][load_grammar(g).name] = g
    files["dir"] = d
    return files


def _args(study, skip=(), **over):
    opts = {"condition": "told", "dose": 8, "seed": 0, "paraphrases": PARAPHRASES, **over}
    args = [a for k, v in opts.items() for a in (f"--{k}", str(v))]
    for key in ("examples", "explanations", "tests", "contested"):
        if key not in skip:
            args += [a for p in study[key] for a in (f"--{key}", str(p))]
    return args


def _mix(run_cli, study, out: Path, **over):
    result = run_cli("mix", *_args(study, **over), "-o", out)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    return docs, json.loads(out.with_name(out.name.replace(".jsonl", ".manifest.json")).read_text())


def _plain(docs):
    """The texts of the stream's `examples` documents (not a ladder's contested ones), in stream order."""
    return [d["text"] for d in docs if d["doc_kind"] == "example" and not d.get("contested")]


def _contested(study) -> dict[str, set[str]]:
    return {name: {r["text"] for r in records.read_all(p, "example")}
            for p in study["contested"] for name in {r["grammar"] for r in records.read_all(p, "example")}}


def test_told_tells_every_grammar_on_the_examples_stream(run_cli, study, tmp_path):
    ex, ex_man = _mix(run_cli, study, tmp_path / "examples.jsonl", condition="examples", passes=2)
    docs, man = _mix(run_cli, study, tmp_path / "told.jsonl", condition="told", passes=2)
    assert _plain(docs) == _plain(ex) and len(_plain(ex)) == 2 * 4 * 8
    expl = [d for d in docs if d["doc_kind"] == "explanation"]
    per_grammar = Counter(d["grammar"] for d in expl)
    assert per_grammar == dict.fromkeys(study["told"], 2 * STYLES * PARAPHRASES)   # every grammar, every pass
    written = {r["text"] for p in study["explanations"] for r in records.read_all(p, "explanation")}
    assert {d["text"] for d in expl} == written
    assert man["condition"] == "told" and man["told"] is True and ex_man["told"] is False
    # the seed's halves labels stay: a report requires them to agree across the seed's conditions
    labels = {g["name"]: g["explained"] for g in man["grammars"]}
    assert labels == {g["name"]: g["explained"] for g in ex_man["grammars"]} and sum(labels.values()) == 2
    _, explained = _mix(run_cli, study, tmp_path / "explained.jsonl", condition="explained", passes=2)
    assert man["documents"]["explanation"] == 2 * explained["documents"]["explanation"]


def test_told_worked_carries_the_told_variants_contested_strings(run_cli, study, tmp_path):
    docs, man = _mix(run_cli, study, tmp_path / "tw.jsonl", condition="told-worked", **{"worked-strings": 6})
    told, _ = _mix(run_cli, study, tmp_path / "t.jsonl", condition="told")
    assert _plain(docs) == _plain(told)
    offered = _contested(study)
    for name, path in study["told"].items():
        g = load_grammar(path)
        told_ok, other_ok = recognizer(g).accepts, recognizer(other_variant(g)).accepts
        carried = [s for d in docs if d["doc_kind"] == "worked" and d["grammar"] == name
                   for s in formats.document_strings("worked", name, d["text"])]
        assert len(carried) == len(set(carried)) == 6 and set(carried) <= offered[name]
        assert all(told_ok(s) and not other_ok(s) for s in carried), name
    assert Counter(d["grammar"] for d in docs if d["doc_kind"] == "worked") == \
        Counter(d["grammar"] for d in told if d["doc_kind"] == "explanation")
    assert man["told"] is True and man["contested"]["strings"] == dict.fromkeys(study["told"], 6)
    assert man["worked"]["strings_per_grammar"] == 6 and man["inputs"]["contested"] == list(map(str,
                                                                                              study["contested"]))


def test_the_ladder_nests_and_adds_example_documents_once_per_pass(run_cli, study, tmp_path):
    ex, _ = _mix(run_cli, study, tmp_path / "examples.jsonl", condition="examples", passes=2)
    got, mans = {}, {}
    for n in (2, 8):
        docs, mans[n] = _mix(run_cli, study, tmp_path / f"c{n}.jsonl", condition=f"contested-{n}", passes=2,
                             **{"extra-passes": 1})
        assert _plain(docs) == _plain(ex)
        added = [d for d in docs if d.get("contested")]
        assert all(d["doc_kind"] == "example" and d["condition"] == f"contested-{n}" for d in added)
        copies = Counter((d["grammar"], d["text"]) for d in added)
        assert set(copies.values()) == {2}              # example documents: once per pass, not --extra-passes
        got[n] = {name: {formats.document_strings("example", name, t)[0] for g, t in copies if g == name}
                  for name in study["told"]}
        assert mans[n]["condition"] == f"contested-{n}" and mans[n]["told"] is False
        assert mans[n]["contested"]["strings"] == dict.fromkeys(study["told"], n)
    offered = _contested(study)
    for name in study["told"]:
        assert len(got[2][name]) == 2 and len(got[8][name]) == 8
        assert got[2][name] < got[8][name] <= offered[name]
    # told-worked with W strings per grammar carries exactly contested-W's
    tw, _ = _mix(run_cli, study, tmp_path / "tw.jsonl", condition="told-worked", **{"worked-strings": 8})
    for name in study["told"]:
        assert {s for d in tw if d["doc_kind"] == "worked" and d["grammar"] == name
                for s in formats.document_strings("worked", name, d["text"])} == got[8][name]


def test_the_exposure_ladder_tells_k_paraphrases_per_style(run_cli, study, tmp_path):
    """`told-pK` is `told` with K paraphrases per style of each told explanation (whatever --paraphrases says): the
    same examples, K × styles explanation documents a grammar per pass, paraphrases 0..K-1, nested in K."""
    told, _ = _mix(run_cli, study, tmp_path / "told.jsonl", condition="told", passes=2)
    texts = {}
    for k in (1, PARAPHRASES):
        docs, man = _mix(run_cli, study, tmp_path / f"p{k}.jsonl", condition=f"told-p{k}", passes=2, paraphrases=5)
        assert _plain(docs) == _plain(told)
        expl = [d for d in docs if d["doc_kind"] == "explanation"]
        assert Counter(d["grammar"] for d in expl) == dict.fromkeys(study["told"], 2 * STYLES * k)
        assert man["paraphrases"] == k and man["told"] is True and man["condition"] == f"told-p{k}"
        texts[k] = {d["text"] for d in expl}
    assert texts[1] < texts[PARAPHRASES] == {d["text"] for d in told if d["doc_kind"] == "explanation"}


@pytest.mark.parametrize("side", ["a", "b"])
def test_a_contested_string_that_is_a_test_pair_form_is_refused(run_cli, study, tmp_path, side):
    """Contest pairs given as --tests are test strings: a contested string equal to either form is refused."""
    leaky = tmp_path / "pairs.jsonl"
    pair = records.read_all(study["tests"][1], "contest_pair")[0]
    strings = records.read_all(study["contested"][0], "example")
    records.write(leaky, [{**pair, side: s["text"], "item": i} for i, s in enumerate(strings)])
    for condition in ("told-worked", "contested-1"):
        out = tmp_path / f"{condition}.jsonl"
        result = run_cli("mix", *_args(study, condition=condition), "--worked-strings", 4, "--tests", leaky,
                         "-o", out)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "is a test string" in result.output, result.output
        assert str(study["contested"][0]) in result.output and str(leaky) in result.output
        assert not out.exists() and not out.with_name(f"{condition}.manifest.json").exists()


def _other_side(study, tmp_path) -> Path:
    """Contested strings of the first grammar's OTHER variant (its hash is not the told grammar's)."""
    folder = tmp_path / "other"
    from typer.testing import CliRunner

    from metaex.cli.main import app
    r = CliRunner().invoke(app, ["grammar", "contest", str(study["dir"] / f"{STUDY[0]}.pcfg"), "--seed", "0",
                                 "--out", str(folder), "--told", "b", "--pairs", "10", "--strings", "4"])
    assert r.exit_code == 0, r.output
    return folder / "strings.jsonl"


BAD = [
    ("told-worked", (), (), "condition 'told-worked' needs --contested files"),
    ("contested-3", (), ("contested",), "condition 'contested-3' needs --contested files"),
    ("told", (), ("explanations",), "condition 'told' needs --explanations files"),
    ("contested-0", (), (), "the ladder's number must be an integer ≥ 1"),
    ("contested-08", (), (), "the ladder's number must be an integer ≥ 1"),
    ("told-p0", (), (), r"the ladder's number must be an integer ≥ 1 .*\(told-p1"),
    ("told-p3", (), (), f"has {PARAPHRASES} of the 3 .* paraphrases asked for .*told-pK"),
    ("told-p1", (), ("explanations",), "condition 'told-p1' needs --explanations files"),
    ("contested-x", (), (), "--condition must be one of examples, explained"),
    ("contested-13", (), (), f"needs 13 contested strings of .* the --contested files hold {STRINGS}"),
    ("told-worked", ("--worked-strings", "20"), (), "needs 20 contested strings of .*--worked-strings"),
    ("contested-1", ("--contested", "TRAIN"), (), "is not a contested string"),
    ("contested-1", ("--contested", "OTHER"), (), "not among the example grammars"),
]


@pytest.mark.parametrize("condition,extra,skip,message", BAD, ids=[f"{c}-{m[:18]}" for c, _, _, m in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run_cli, study, tmp_path, condition, extra, skip,
                                                         message):
    import re

    files = {"TRAIN": str(study["examples"][0]), "OTHER": str(_other_side(study, tmp_path)) if "OTHER" in extra
             else ""}
    extra = [files.get(a, a) for a in extra]
    out = tmp_path / "m.jsonl"
    args = _args(study, skip={*skip, "contested"} if condition == "told-worked" and not extra else skip,
                 condition=condition)
    result = run_cli("mix", *args, *extra, "-o", out)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("metaex: error: ") and result.output.count("\n") == 1, result.output
    assert re.search(message, result.output), result.output
    assert not out.exists() and not (tmp_path / "m.manifest.json").exists()


def test_one_condition_set_for_the_cli_the_study_and_the_report():
    from metaex.cli.options import help_text
    from metaex.core import options
    from metaex.core.errors import InputError
    from metaex.core.mix import MixOptions
    from metaex.core.study.config import Design

    assert "told | told-worked | contested-N (N ≥ 1) | told-pK (K ≥ 1)" in help_text(options.opt(MixOptions,
                                                                                                 "condition"))
    assert "contested-8" in CONDITIONS and "contested-0" not in CONDITIONS and "contested-x" not in CONDITIONS
    assert "told-p64" in CONDITIONS and "told-p0" not in CONDITIONS and "told-p" not in CONDITIONS
    options.check_value(options.opt(Design, "conditions"), ("examples", "told", "told-worked", "contested-4"), "c")
    with pytest.raises(InputError, match="contested-N"):
        options.check_value(options.opt(Design, "conditions"), ("examples", "contested-0"), "c")
    names = ["contested-16", "told", "contested-2", "examples", "told-worked", "worked", "explained", "contested-4",
             "told-p16", "told-p2"]
    assert order(names) == ["examples", "explained", "worked", "told", "told-worked", "told-p2", "told-p16",
                            "contested-2", "contested-4", "contested-16"]
