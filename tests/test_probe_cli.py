"""`metaex probe` end to end on tiny models: base + adapter paired rows, reuse on re-run, ad-hoc use, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from probe_tiny import build_lora_run, build_model, write_grammars

from metaex.core import records
from metaex.core.grammar.pairs import minimal_pairs
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.sample import sample_split

pytestmark = pytest.mark.slow

DESIGN_METRICS = {"validity", "novel_valid", "novelty", "distinct", "length_tv", "pair_acc", "pair_margin",
                  "heldout_lp", "heldout_lpw", "ll_auroc", "judge_bacc", "judge_auroc", "judge_format_fail", "verbal_acc", "consistency"}
MIX = {"condition": "explained", "dose": 6, "seed": 4, "grammars": [
    {"name": "vemo", "hash": "-", "template": "reber", "explained": True},
    {"name": "dura", "hash": "-", "template": "anbn", "explained": False}]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    import torch

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("probe")
    grammars = write_grammars(tmp / "grammars")
    files: dict[str, list[dict]] = {"tests": [], "train": [], "pairs": [], "expl": []}
    for name, path in grammars.items():
        g = load_grammar(path)
        train, test = sample_split(g, 6, 5, 0, max_len=8)
        prov = {"grammar": name, "grammar_hash": g.hash, "seed": 0}
        files["train"] += [records.make("example", text=s, split="train", **prov) for s in train]
        files["tests"] += [records.make("example", text=s, split="test", **prov) for s in test]
        files["pairs"] += minimal_pairs(g, test, 0)
        files["expl"] += [records.make("explanation", text=f"In {name} , each sentence begins with {g.terminals[0]} .",
                                       style=style, paraphrase=0, **prov) for style in ("prose", "rules")]
    paths = {k: tmp / f"{k}.jsonl" for k in files}
    for k, recs in files.items():
        records.write(paths[k], recs)
    base = build_model(tmp / "base")
    return {"tmp": tmp, "grammars": grammars, "base": base, "run": build_lora_run(tmp / "run", base, mix=MIX),
            **paths}


def _args(s: dict, out: Path, *extra) -> list:
    return ["probe", "--grammar", s["grammars"]["vemo"], "--grammar", s["grammars"]["dura"], "--tests", s["tests"],
            "--pairs", s["pairs"], "--train", s["train"], "--explanations", s["expl"], "--samples", 12,
            "--out", out, *extra]


def test_base_and_adapter_paired_rows_and_reuse(setup, run_cli, monkeypatch):
    out = setup["tmp"] / "out"
    result = run_cli(*_args(setup, out, "--adapter", setup["run"]))
    assert result.exit_code == 0, result.output
    summary = records.read_all(out / "summary.jsonl", "probe_summary")
    items = records.read_all(out / "items.jsonl", "probe_item")
    config = json.loads((out / "config.json").read_text())
    assert DESIGN_METRICS <= {r["metric"] for r in summary}
    assert {(r["grammar"], r["variant"]) for r in summary} == {(g, v) for g in ("vemo", "dura")
                                                                for v in ("base", "adapter")}
    keys = {}
    for r in items:
        keys.setdefault((r["metric"], r["grammar"], r["item"]), set()).add(r["variant"])
    assert all(v == {"base", "adapter"} for v in keys.values())
    vemo = next(r for r in summary if r["grammar"] == "vemo")
    assert (vemo["template"], vemo["explained"], vemo["condition"], vemo["dose"], vemo["seed"], vemo["run"]) == \
        ("reber", True, "explained", 6, 4, "run")
    assert config["adapter_hash"] and config["model_hash"] and config["mix"] == MIX and config["seed"] == 0
    assert {r["metric"]: r["n"] for r in summary if r["grammar"] == "dura"}["pair_acc"] == 5
    assert "probe summary" in result.output

    # a re-run reuses every part: it loads no model and writes the same files
    before = {p: p.stat().st_mtime_ns for p in (out / "parts").iterdir()}
    first = (out / "summary.jsonl").read_bytes()

    def no_load(target):
        raise AssertionError("model loaded although every part was done")

    monkeypatch.setattr("metaex.core.probe.run._load", no_load)
    assert run_cli(*_args(setup, out, "--adapter", setup["run"])).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "parts").iterdir()} == before
    assert (out / "summary.jsonl").read_bytes() == first


def test_adhoc_adapter_and_full_run(setup, run_cli):
    out = setup["tmp"] / "adhoc"
    result = run_cli("probe", "--adapter", setup["run"], "--grammar", setup["grammars"]["vemo"], "--samples", 8,
                     "--limit", 4, "--out", out)
    assert result.exit_code == 0, result.output
    summary = records.read_all(out / "summary.jsonl", "probe_summary")
    assert {r["metric"] for r in summary} >= DESIGN_METRICS - {"verbal_acc"}
    assert {r["n"] for r in summary if r["metric"] == "pair_acc"} == {4}
    one_cut = setup["tmp"] / "adhoc-cut1"
    result = run_cli("probe", "--adapter", setup["run"], "--grammar", setup["grammars"]["vemo"], "--samples", 8,
                     "--limit", 4, "--cuts", "1", "--out", one_cut)
    assert result.exit_code == 0, result.output
    greedy_n = {o.name: next(r["n"] for r in records.read_all(o / "summary.jsonl", "probe_summary")
                             if r["metric"] == "greedy_validity") for o in (out, one_cut)}
    assert 0 < greedy_n["adhoc-cut1"] <= 4 < greedy_n["adhoc"]      # one greedy prompt per test string, not three

    full = setup["tmp"] / "full"
    shutil.copytree(setup["base"], full / "final")
    (full / "config.json").write_text(json.dumps({"schema": "metaex/run@1", "method": "full",
                                                  "base_model": str(setup["base"]), "mix": None}))
    out = setup["tmp"] / "full-probe"
    result = run_cli("probe", "--model", full, "--grammar", setup["grammars"]["dura"], "--samples", 4,
                     "--limit", 3, "--out", out)
    assert result.exit_code == 0, result.output
    rows = records.read_all(out / "summary.jsonl", "probe_summary")
    assert {r["variant"] for r in rows} == {"model"} and {r["condition"] for r in rows} == {None}


def _fails(run_cli, out: Path, *args) -> str:
    result = run_cli(*args, "--out", out)
    assert result.exit_code == 2, result.output
    assert not out.exists()
    lines = [x for x in result.output.splitlines() if x.startswith("metaex: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_bad_input(setup, run_cli, tmp_path):
    s, g = setup, setup["grammars"]["vemo"]
    other = build_model(tmp_path / "other", seed=7)
    assert "another base model" in _fails(run_cli, tmp_path / "o1", "probe", "--model", other, "--adapter", s["run"],
                                          "--grammar", g)
    assert "no such run" in _fails(run_cli, tmp_path / "o2", "probe", "--adapter", tmp_path / "nope", "--grammar", g)
    assert "kind 'pair'" in _fails(run_cli, tmp_path / "o3", "probe", "--model", s["base"], "--grammar", g,
                                   "--tests", s["pairs"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "empty" in _fails(run_cli, tmp_path / "o4", "probe", "--model", s["base"], "--grammar", g,
                             "--tests", empty)
    assert "--cuts" in _fails(run_cli, tmp_path / "o6", "probe", "--model", s["base"], "--grammar", g, "--cuts", "0,x")
    odd = tmp_path / "odd.pcfg"
    odd.write_text("# name: vemo\nS -> 'ka' 'zzyzx' [1.0]\n")
    assert "zzyzx" in _fails(run_cli, tmp_path / "o5", "probe", "--model", s["base"], "--grammar", odd,
                             "--samples", 2)


def test_run_probe_in_process_with_a_loaded_model(setup, tmp_path):
    from metaex.core.models import load_model
    from metaex.core.probe import ProbeOptions, run_probe

    summary = run_probe(str(setup["base"]), None, [setup["grammars"]["vemo"]], out_dir=tmp_path / "p",
                        tests=setup["tests"], pairs=setup["pairs"], options=ProbeOptions(samples=6, limit=3),
                        model_obj=load_model(setup["base"]))
    assert {r["variant"] for r in summary} == {"base"}
    assert {r["metric"]: r["n"] for r in summary}["pair_acc"] == 3
    assert (tmp_path / "p" / "items.jsonl").is_file()


def test_a_report_from_another_folder_finds_the_runs(setup, run_cli, monkeypatch, tmp_path):
    """Probes record absolute paths: a report made from another working folder still draws the loss curves."""
    records.write(setup["run"] / "metrics.jsonl", [records.make("train_metric", step=i, loss=1.0 / i)
                                                   for i in (1, 2, 3)])
    monkeypatch.chdir(setup["run"].parent)
    result = run_cli("probe", "--adapter", setup["run"].name, "--grammar", setup["grammars"]["vemo"], "--samples", 4,
                     "--limit", 3, "--out", "relative-probe")
    assert result.exit_code == 0, result.output
    assert json.loads((setup["run"].parent / "relative-probe" / "config.json").read_text())["run"] == str(
        setup["run"].resolve())
    monkeypatch.chdir(tmp_path)
    result = run_cli("report", setup["run"].parent / "relative-probe", "--no-contrasts", "--bootstrap", 20,
                     "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "loss_curves.png").is_file()


def test_in_context_ceiling_rows(setup, run_cli, tmp_path):
    """--in-context: samples and held-out fit after the grammar's own explanation and after a sibling's (the
    control, name swapped); a held-out item equals its likelihood scored alone; the other metrics do not move."""
    import numpy as np

    from metaex.core.models import load_model
    from metaex.core.probe import scoring

    plain = tmp_path / "plain"
    assert run_cli(*_args(setup, plain, "--model", setup["base"])).exit_code == 0
    out = tmp_path / "icl"
    result = run_cli(*_args(setup, out, "--model", setup["base"], "--in-context"))
    assert result.exit_code == 0, result.output
    items = list(records.read_all(out / "items.jsonl", "probe_item"))
    by = {}
    for r in items:
        by.setdefault((r["grammar"], r["metric"]), []).append(r)
    n_pairs = {g: len(by[(g, "pair_acc")]) for g in ("vemo", "dura")}
    for g in ("vemo", "dura"):
        for prefix in ("icl_", "icl_control_"):
            assert len(by[(g, prefix + "validity")]) == len(by[(g, prefix + "novel_valid")]) == 12
            assert len(by[(g, prefix + "heldout_lp")]) == n_pairs[g]
        own = by[(g, "icl_validity")][0]["prompt"]
        other = by[(g, "icl_control_validity")][0]["prompt"]
        assert own.endswith(f"\n{g}:") and other.endswith(f"\n{g}:") and own != other
        assert own.startswith(f"In {g} ,") and other.startswith(f"In {g} ,")   # the sibling's words, this name
    row = by[("vemo", "icl_heldout_lp")][0]
    net, tok = load_model(setup["base"])
    prompt = by[("vemo", "icl_validity")][0]["prompt"]
    [alone] = scoring.naive_loglikelihoods(net, scoring.encode_many(tok, [(prompt, " " + row["text"])], eos=True))
    np.testing.assert_allclose(row["value"], float(alone.mean()), atol=1e-4)
    before = {(r["grammar"], r["metric"]): r["value"] for r in records.read_all(plain / "summary.jsonl", "probe_summary")}
    after = {(r["grammar"], r["metric"]): r["value"] for r in records.read_all(out / "summary.jsonl", "probe_summary")}
    kept = {k: v for k, v in after.items() if not k[1].startswith("icl_")}
    assert kept.keys() == before.keys()   # scores batched with longer prompts: equal up to float noise
    assert all(kept[k] == pytest.approx(v, abs=1e-5) for k, v in before.items() if v is not None)


def test_in_context_for_the_base_only_shares_the_base_part(setup, run_cli, tmp_path, monkeypatch):
    """--in-context-base-only on an adapter: the base model is probed in context, the adapter not; the base part
    is the one a probe with the adapter in context makes, so probes of one seed share it whatever their setting."""
    from metaex.core.probe import tasks

    calls = []
    real = tasks.probe_grammars

    def counted(model, tokenizer, many, options):
        calls.append(options.in_context)
        return real(model, tokenizer, many, options)

    monkeypatch.setattr("metaex.core.probe.run.probe_grammars", counted)
    parts = ("--parts", tmp_path / "parts")
    only = tmp_path / "base-only"
    result = run_cli(*_args(setup, only, "--adapter", setup["run"], "--in-context", "--in-context-base-only", *parts))
    assert result.exit_code == 0, result.output
    assert calls == [True, False]                      # the base in context, then the adapter without
    icl = {r["variant"] for r in records.read_all(only / "items.jsonl", "probe_item") if r["metric"].startswith("icl_")}
    assert icl == {"base"}
    assert json.loads((only / "config.json").read_text())["options"]["in_context_base_only"] is True
    full = tmp_path / "full"
    assert run_cli(*_args(setup, full, "--adapter", setup["run"], "--in-context", *parts)).exit_code == 0
    assert calls == [True, False, True]                # only the adapter part is new: the base part is reused
    rows = {v: [r for r in records.read_all(p / "items.jsonl", "probe_item") if r["variant"] == "base"]
            for v, p in (("only", only), ("full", full))}
    assert rows["only"] == rows["full"] and any(r["metric"] == "icl_heldout_lp" for r in rows["full"])
    adapter = {r["metric"] for r in records.read_all(full / "items.jsonl", "probe_item") if r["variant"] == "adapter"}
    assert "icl_heldout_lp" in adapter
    # without --in-context-base-only the options (and every part's key) are what they were before it existed
    assert "in_context_base_only" not in json.loads((full / "config.json").read_text())["options"]


def test_bf16_decodes_under_autocast_and_scores_in_float32(setup, run_cli, tmp_path, monkeypatch):
    """--bf16: sampling and greedy decoding run under bfloat16 autocast (it reaches the decoder), every
    log-likelihood metric is the float32 probe's to the bit; the option is recorded and keys its own parts,
    and a float32 probe records no bf16 key (earlier parts keep their keys)."""
    import torch

    from metaex.core.probe import generate

    entered = []
    real = generate.precision

    def spy(model, bf16):
        entered.append(bf16)
        return real(model, bf16)

    from metaex.core.models import precision

    monkeypatch.setattr(generate, "precision", spy)
    monkeypatch.setattr(precision, "cpu_bf16", lambda: False)    # and on a CPU without native bf16, a warning
    outs, seen = {}, {}
    for name, extra in (("f32", ()), ("b16", ("--bf16",))):
        outs[name], entered[:] = tmp_path / name, []
        result = run_cli(*_args(setup, outs[name], "--adapter", setup["run"], "--limit", 4, *extra))
        assert result.exit_code == 0, result.output
        assert ("no native bfloat16" in result.output) is (name == "b16")
        seen[name] = set(entered)
    assert seen == {"f32": {False}, "b16": {True}}    # sampling and greedy, base and adapter
    with real(torch.nn.Linear(2, 2), True):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    f32, b16 = (json.loads((outs[n] / "config.json").read_text())["options"] for n in ("f32", "b16"))
    assert "bf16" not in f32 and b16 == {**f32, "bf16": True}
    assert not {p.name for p in (outs["f32"] / "parts").iterdir()} & {p.name for p in (outs["b16"] / "parts").iterdir()}
    scored = {"heldout_lp", "pair_acc", "pair_margin", "ll_auroc", "judge_bacc", "judge_auroc", "verbal_acc"}

    def rows(name):
        return {(r["metric"], r["grammar"], r["variant"], r["item"]): r["value"]
                for r in records.read_all(outs[name] / "items.jsonl", "probe_item") if r["metric"] in scored}

    assert rows("f32") and rows("f32") == rows("b16")
    sampled = [r for r in records.read_all(outs["b16"] / "items.jsonl", "probe_item") if r["metric"] == "validity"]
    assert len(sampled) == 2 * 2 * 4      # 2 grammars × base and adapter × --limit samples


def test_heldout_fit_per_word_is_the_strings_summed_log_prob_over_its_words(setup, run_cli, tmp_path):
    """Regression (issue 29, defect 4): held-out fit was per token only, so a word-level model and a BPE model at 2-3
    tokens a word were on different scales. heldout_lpw is a held-out string's summed token log-probs (EOS
    included) after `{name}:` ÷ its words, recomputed here one string at a time."""
    from metaex.core import formats
    from metaex.core.models import load_model
    from metaex.core.probe import scoring

    out = tmp_path / "p"
    assert run_cli(*_args(setup, out, "--model", setup["base"])).exit_code == 0
    items = [r for r in records.read_all(out / "items.jsonl", "probe_item") if r["metric"] in ("heldout_lp",
                                                                                                 "heldout_lpw")]
    per = {(r["metric"], r["grammar"], r["item"]): r for r in items}
    net, tok = load_model(setup["base"])
    checked = 0
    for (metric, grammar, item), r in per.items():
        if metric != "heldout_lpw":
            continue
        [lp] = scoring.naive_loglikelihoods(net, scoring.encode_many(
            tok, [(formats.example_prompt(grammar), " " + r["text"])], eos=True))
        assert r["value"] == pytest.approx(float(lp.sum()) / len(r["text"].split()), abs=1e-4)
        assert per[("heldout_lp", grammar, item)]["value"] == pytest.approx(float(lp.mean()), abs=1e-4)
        checked += 1
    assert checked >= 4
