"""`metaex probe --contest`: the contested-rule design's metrics on a tiny model and real contest files (`grammar
instantiate` + `grammar contest`): one item per pair, told a against told b negates every pair's reading, the
contest_gen samples classified by both variants' recognizers, and bad contest files refused before anything is
written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaex.core import records
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.recognize import recognizer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PAIRS, SAMPLES = 6, 3
# a grammar whose contested point is one word before the end, so that even an untrained model completes some
# prompts in exactly one variant's language (contest_gen has items to classify); A stays reachable in variant B
# (`S -> A 'po'`), so that b.pcfg can declare the contest from its side
SMALL = """# name: vemo
# contest: S -> P 'ka' A | replace:3=B
S -> P 'ka' A [0.4] | P 'po' B [0.4] | A 'po' [0.2]
P -> 'dura' P [0.4] | 'mek' [0.6]
A -> 'glims' [0.5] | 'zun' [0.5]
B -> 'tov' [0.5] | 'blick' [0.5]
"""
MANIFEST = {"condition": "told", "dose": 8, "seed": 3, "grammars": []}


def _cli(*args) -> object:
    from typer.testing import CliRunner

    from metaex.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _ok(*args) -> None:
    result = _cli(*args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    import torch

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("contest")
    _ok("grammar", "instantiate", ROOT / "grammars" / "agreement.pcfg", "--seed", 1, "-o", tmp / "agr.pcfg")
    (tmp / "small.pcfg").write_text(SMALL)
    for g, n in (("agr", PAIRS), ("small", 8)):
        for told in "ab":
            _ok("grammar", "contest", tmp / f"{g}.pcfg", "--seed", 2, "--told", told, "--pairs", n, "--max-len", 10,
                "--out", tmp / f"{g}-{told}")
    _ok("explain", tmp / "agr-a" / "a.pcfg", "--styles", "prose,bnf", "--paraphrases", 2, "--seed", 0,
        "-o", tmp / "expl.jsonl")
    _ok("model", "tiny", "--vocab-from", tmp / "agr.pcfg", "--vocab-from", tmp / "expl.jsonl", "-o", tmp / "agr-model")
    # the small grammar's model knows its words only (an untrained model then ends strings often)
    _ok("model", "tiny", "--vocab-from", tmp / "small.pcfg", "--no-builtin", "-o", tmp / "small-model")
    (tmp / "manifest.json").write_text(json.dumps(MANIFEST))
    return {"tmp": tmp}


def _probe(s: dict, g: str, told: str, out: str, *extra, samples: int = SAMPLES) -> tuple[list[dict], list[dict]]:
    tmp = s["tmp"]
    _ok("probe", "--model", tmp / f"{g}-model", "--grammar", tmp / f"{g}-{told}" / f"{told}.pcfg", "--contest",
        tmp / f"{g}-{told}" / "pairs.jsonl", "--samples", 2, "--items", 3, "--contest-samples", samples,
        "--manifest", tmp / "manifest.json", "--out", tmp / out, *extra)
    return (records.read_all(tmp / out / "items.jsonl", "probe_item"),
            records.read_all(tmp / out / "summary.jsonl", "probe_summary"))


def _by(items: list[dict], metric: str) -> list[dict]:
    return sorted((r for r in items if r["metric"] == metric), key=lambda r: r["item"])


def test_told_a_against_told_b_negates_every_pair(setup):
    items_a, summary_a = _probe(setup, "agr", "a", "pa")
    items_b, summary_b = _probe(setup, "agr", "b", "pb")
    pairs = records.read_all(setup["tmp"] / "agr-a" / "pairs.jsonl", "contest_pair")
    for items, summary in ((items_a, summary_a), (items_b, summary_b)):
        counts = {m: len(_by(items, m)) for m in ("contest_pref", "contest_acc", "contest_judge", "contest_gen")}
        assert counts == {"contest_pref": PAIRS, "contest_acc": PAIRS, "contest_judge": PAIRS,
                          "contest_gen": PAIRS * SAMPLES}
        for r in _by(items, "contest_pref"):   # per word, and the told form wins exactly when it is preferred
            assert r["value"] == pytest.approx((r["lp_told"] - r["lp_other"]) / len(r["told"].split()))
        for pref, acc in zip(_by(items, "contest_pref"), _by(items, "contest_acc"), strict=True):
            assert acc["value"] == (pref["value"] > 0)
        row = {r["metric"]: r for r in summary}
        values = [r["value"] for r in _by(items, "contest_pref")]
        assert row["contest_pref"]["value"] == pytest.approx(sum(values) / len(values))
        assert (row["contest_pref"]["condition"], row["contest_pref"]["dose"], row["contest_pref"]["seed"],
                row["contest_pref"]["arm"]) == ("told", 8, 3, "agr-model")
    # the forms of pair i are the record's, told as the file says
    assert [(r["told"], r["other"]) for r in _by(items_a, "contest_pref")] == [(p["a"], p["b"]) for p in pairs]
    assert [(r["told"], r["other"]) for r in _by(items_b, "contest_pref")] == [(p["b"], p["a"]) for p in pairs]
    for metric in ("contest_pref", "contest_judge"):
        a, b = [r["value"] for r in _by(items_a, metric)], [r["value"] for r in _by(items_b, metric)]
        assert any(abs(x) > 1e-6 for x in a)
        assert b == pytest.approx([-x for x in a], abs=1e-5)
    acc_a = [r["value"] for r in _by(items_a, "contest_acc")]
    assert [r["value"] for r in _by(items_b, "contest_acc")] == [not x for x in acc_a]
    assert not _by(items_a, "icl_contest_pref")          # in context only with --in-context
    # a probe without --contest writes no contest rows
    plain = records.read_all(_probe_plain(setup), "probe_item")
    assert not {r["metric"] for r in plain} & {"contest_pref", "contest_acc", "contest_judge", "contest_gen"}


def _probe_plain(s: dict) -> Path:
    tmp = s["tmp"]
    _ok("probe", "--model", tmp / "agr-model", "--grammar", tmp / "agr-a" / "a.pcfg", "--samples", 2, "--items", 3,
        "--out", tmp / "plain")
    return tmp / "plain" / "items.jsonl"


def test_contest_gen_is_classified_by_both_variants(setup):
    tmp = setup["tmp"]
    a, b = load_grammar(tmp / "small-a" / "a.pcfg"), load_grammar(tmp / "small-b" / "b.pcfg")
    in_a, in_b = recognizer(a).accepts, recognizer(b).accepts
    items_a, summary_a = _probe(setup, "small", "a", "ga", samples=16)
    items_b, _ = _probe(setup, "small", "b", "gb", samples=16)
    gen_a, gen_b = _by(items_a, "contest_gen"), _by(items_b, "contest_gen")
    assert len(gen_a) == 8 * 16
    for r in gen_a:
        told, other = r["ended"] and in_a(r["text"]), r["ended"] and in_b(r["text"])
        assert r["value"] == (1 if told and not other else 0 if other and not told else None)
        assert r["prompt"].startswith("vemo: ") and r["text"].startswith(r["prompt"][len("vemo: "):])
    classified = [r["value"] for r in gen_a if r["value"] is not None]
    assert classified, "no sample of the tiny model completed a contested prompt in one variant"
    row = next(r for r in summary_a if r["metric"] == "contest_gen")
    assert (row["classified"], row["told"], row["other"]) == (len(classified), classified.count(1),
                                                               classified.count(0))
    assert row["value"] == pytest.approx(sum(classified) / len(classified))
    # the same samples (same prompts, same seeds) told the other way round read the other way round
    assert [r["text"] for r in gen_b] == [r["text"] for r in gen_a]
    assert [r["value"] for r in gen_b] == [None if r["value"] is None else 1 - r["value"] for r in gen_a]


def test_icl_contest_pref_reads_each_variants_explanation(setup):
    tmp = setup["tmp"]
    items, summary = _probe(setup, "agr", "a", "icl", "--in-context", "--explanations", tmp / "expl.jsonl",
                            "--in-context-samples", 2)
    rows = _by(items, "icl_contest_pref")
    assert len(rows) == PAIRS
    # the four explanations (2 paraphrases × prose, bnf), the styles first, cycled over the pairs
    assert [(r["style"], r["paraphrase"]) for r in rows] == [("bnf", 0), ("prose", 0), ("bnf", 1), ("prose", 1),
                                                            ("bnf", 0), ("prose", 0)]
    for r, pref in zip(rows, _by(items, "contest_pref"), strict=True):
        assert r["value"] == pytest.approx((r["pref_told_context"] - r["pref_other_context"]) / 2)
        assert (r["told"], r["other"]) == (pref["told"], pref["other"])
        assert r["pref_told_context"] != pytest.approx(pref["value"], abs=1e-9)   # scored after a context
    row = next(r for r in summary if r["metric"] == "icl_contest_pref")
    assert row["value"] == pytest.approx(sum(r["value"] for r in rows) / PAIRS)


def test_the_sham_is_the_other_variants_explanation_worded_alike(setup):
    from metaex.core.explain.parse import parse_bnf
    from metaex.core.explain.render import rules_of
    from metaex.core.probe.contest import sham

    tmp = setup["tmp"]
    a, b = load_grammar(tmp / "agr-a" / "a.pcfg"), load_grammar(tmp / "agr-b" / "b.pcfg")
    for rec in records.read_all(tmp / "expl.jsonl", "explanation"):
        other = sham(a, rec)
        assert other is not None and other != rec["text"]
        told_words, other_words = rec["text"].split(), other.split()
        if rec["style"] == "bnf":      # it states b's rules exactly, in the told text's words but for one rule
            assert parse_bnf(other, b.name) == (b.start, rules_of(b))
            assert parse_bnf(rec["text"], a.name) == (a.start, rules_of(a))
        assert len(other_words) == len(told_words)
        assert sum(x != y for x, y in zip(told_words, other_words, strict=True)) <= 2
    # a text the explainer does not make of the grammar has no sham (and no icl_contest_pref row)
    assert sham(a, {**rec, "text": rec["text"] + " Really."}) is None


def test_a_two_seed_report_reads_contest_pref(setup):
    """Seeds 0 and 1 tell opposite forms (a, b) of one contest; the same untrained model stands for every
    condition: the `examples` null's per-seed levels negate each other, and the report reads the contested design."""
    tmp = setup["tmp"]
    dirs = []
    for seed, told in ((0, "a"), (1, "b")):
        for condition in ("examples", "told"):
            manifest = tmp / f"m{seed}{condition}.json"
            manifest.write_text(json.dumps({"condition": condition, "dose": 8, "seed": seed, "grammars": [
                {"name": load_grammar(tmp / "agr.pcfg").name, "explained": True, "template": "agreement"}]}))
            dirs.append(tmp / f"r{seed}{condition}")
            _ok("probe", "--model", tmp / "agr-model", "--grammar", tmp / f"agr-{told}" / f"{told}.pcfg",
                "--contest", tmp / f"agr-{told}" / "pairs.jsonl", "--manifest", manifest, "--samples", 2, "--items",
                2, "--contest-samples", 1, "--arm", "tiny", "--out", dirs[-1])
    _ok("report", *dirs, "--out", tmp / "report", "--bootstrap", 50)
    data = json.loads((tmp / "report" / "report.json").read_text())
    [entry] = [e for e in data["answer"]["entries"] if e["design"] == "contested"]
    assert entry["metric"] == "contest_pref" and entry["primary"]["condition"] == "told"
    level = next(r for r in data["results"] if (r["metric"], r["condition"], r["stat"]) == ("contest_pref", "examples",
                                                                                             "level"))
    assert level["n_seeds"] == 2 and level["per_seed"][0] == pytest.approx(-level["per_seed"][1], abs=1e-6)
    assert abs(level["per_seed"][0]) > 1e-6


def _edited(src: Path, dst: Path, **change) -> Path:
    recs = records.read_all(src, "contest_pair")
    recs[1] = {**recs[1], **change}
    records.write(dst, recs)
    return dst


@pytest.mark.parametrize("case", ["hash", "words", "told", "flipped"])
def test_a_bad_contest_file_is_one_line_and_writes_nothing(setup, case):
    tmp = setup["tmp"]
    pairs = tmp / "agr-a" / "pairs.jsonl"
    rec = records.read_all(pairs, "contest_pair")[1]
    bad = {"hash": tmp / "agr-b" / "pairs.jsonl",     # told b's pairs: their hash is b.pcfg's, not a.pcfg's
           "words": _edited(pairs, tmp / "words.jsonl", b=rec["b"] + " " + rec["b"].split()[-1]),
           "told": _edited(pairs, tmp / "told.jsonl", told="c"),
           "flipped": _edited(pairs, tmp / "flipped.jsonl", told="b")}[case]
    out = tmp / f"bad-{case}"
    result = _cli("probe", "--model", tmp / "agr-model", "--grammar", tmp / "agr-a" / "a.pcfg", "--contest", bad,
                  "--out", out)
    assert result.exit_code == 2, result.output
    assert not out.exists()
    lines = [x for x in result.output.splitlines() if x.startswith("metaex: error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"metaex: error: {bad}:{1 if case == 'hash' else 2}: "), lines[0]
