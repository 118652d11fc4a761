"""`metaex report` end to end on synthetic probe dirs (metaex.core.stats.write_probe_dirs), and its bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metaex.core.stats import write_probe_dirs

ARMS = {"tiny-unbridged": 2.0e6, "tiny-bridged": 2.1e6}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> list[Path]:
    """2 arms × 3 conditions × 2 doses × 4 seeds (complementary pairs); `worked` planted, `filler` without."""
    root = tmp_path_factory.mktemp("study")
    effects = {(arm, "worked"): 3.0 for arm in ARMS}   # strong: 4 seeds give t_3 intervals
    return write_probe_dirs(root, np.random.default_rng(11), arms=ARMS, doses=(64, 256),
                            conditions=("examples", "filler", "worked"), effects=effects, seeds=4)


@pytest.fixture(scope="module")
def report(study, tmp_path_factory):
    """One real CLI run; returns (report dir, CLI result)."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    out = tmp_path_factory.mktemp("reports") / "report"
    result = CliRunner().invoke(app, ["report", *map(str, study), "--out", str(out), "--bootstrap", "400",
                                      "--seed", "3"], catch_exceptions=False)
    return out, result


def test_report_files_and_controls(report):
    out, result = report
    assert result.exit_code == 0, result.output
    assert "heldout_lpw" in result.output and "report written to" in result.output
    assert "Planted control `worked` − `filler`" in result.output      # the answer, in words
    assert {p.name for p in out.iterdir()} == {"report.md", "report.html", "report.json", "answer.png", "levels.png",
                                               "effect_vs_dose.png", "effect_by_arm.png",
                                               "effect_vs_dose_novel_valid.png", "loss_curves.png",
                                               "metaex_folder.json"}
    data = json.loads((out / "report.json").read_text())
    ctl = data["controls"]
    assert data["headline_metric"] == "heldout_lpw"        # the halves design's primary metric
    assert ctl["worked"]["all"] and len(ctl["worked"]["cells"]) == 4          # 2 arms × 2 doses, CI above 0
    assert ctl["worked"]["reference"] == "filler" and ctl["worked"]["versus_examples"]["all"]
    assert not ctl["mismatched"]["present"]
    # no `examples` ladder of ≥ 3 doses: no margin in example units, so no null control can pass
    assert not ctl["filler"]["all"] and {c["null_verdict"] for c in ctl["filler"]["cells"]} == {"undetermined"}
    fit = data["controls_fit"]   # the same verdicts on the exploratory headline
    assert fit["metric"] == "novel_valid" and fit["worked"]["all"]
    assert set(data["metrics"]) == {"novel_valid", "validity", "pair_margin", "heldout_lp", "heldout_lpw"}
    answer = data["answer"]
    assert answer["estimator"] == "blocked" and len(answer["entries"]) == 4 and answer["holm"] == 0
    for entry in answer["entries"]:
        assert entry["planted"]["verdict"] == "detected" and "primary" not in entry
        assert entry["planted"]["blocked"]["ci_low"] > 0 and entry["planted"]["seed"]["ci_low"] > 0
    assert data["arms"]["tiny-bridged"] == {"variant": "model", "model_params": 2.1e6, "bridged": None}
    did = [r for r in data["results"] if r["stat"] == "did" and r["condition"] == "worked"]
    assert all(r["n_seeds"] == 4 and r["ci_low"] > 0 for r in did if r["metric"] in ("novel_valid", "validity"))


def test_report_documents_are_readable(report):
    import matplotlib.image

    out, _ = report
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(png).shape[0] > 200
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 6 and 'src="levels.png"' not in page
    figures = json.loads((out / "report.json").read_text())["figures"]
    assert figures[0]["file"] == "answer.png" and "planted control" in figures[0]["caption"]   # README's figure
    md = (out / "report.md").read_text()
    assert "## Controls" in md and "![" in md and "| arm | dose | condition |" in md
    assert "`worked` detected (Δ > 0, CI excluding 0) against `filler` in every arm × dose: **yes**" in md
    assert "`worked` against `examples` (extra documents of any kind" in md
    assert "On `novel_valid` (exploratory)" in md
    # the report opens with its answer, before any table
    assert md.index("## The answer") < md.index("|") and "Planted control `worked` − `filler`" in md


def _copy(study: list[Path], tmp_path: Path, keep=lambda p: True) -> list[Path]:
    """Copy probe dirs (not their run folders) so that a test may break them."""
    dirs = []
    for probe in (p for p in study if keep(p)):
        dirs.append(Path(shutil.copytree(probe, tmp_path / probe.name)))
    return dirs


@pytest.mark.parametrize("breakage", ["no_summary", "wrong_kind", "no_examples"])
def test_bad_input_is_one_line_and_leaves_no_report(study, tmp_path, run_cli, breakage):
    keep = (lambda p: "_examples_" not in p.name) if breakage == "no_examples" else (lambda p: True)
    dirs = _copy(study[:12], tmp_path, keep)
    if breakage == "no_summary":
        (dirs[0] / "summary.jsonl").unlink()
        expect = "probe dir has no summary.jsonl"
    elif breakage == "wrong_kind":
        (dirs[1] / "items.jsonl").write_text('{"schema":"metaex/train_metric@1","kind":"train_metric","step":1}\n')
        expect = "items.jsonl:1: record of kind 'train_metric'"
    else:
        expect = "need an `examples` condition"
    out = tmp_path / "out"
    result = run_cli("report", *dirs, "--out", out, "--bootstrap", "50")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metaex: error:") and expect in lines[0], result.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_failed_report_keeps_the_previous_one(report, study, tmp_path, run_cli):
    out = tmp_path / "report"
    shutil.copytree(report[0], out)
    before = (out / "report.json").read_bytes()
    broken = _copy(study[:2], tmp_path)
    (broken[0] / "summary.jsonl").unlink()
    assert run_cli("report", *broken, "--out", out).exit_code == 2
    assert (out / "report.json").read_bytes() == before


def test_levels_only_without_examples(study, tmp_path, run_cli):
    dirs = _copy(study[:12], tmp_path, lambda p: "_examples_" not in p.name)
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--no-contrasts", "--metric", "validity",
                     "--bootstrap", "50", "--resample-items")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["settings"]["resample_items"] and "controls" not in data and {r["stat"] for r in data["results"]} <= {
        "level", "level_explained", "level_unexplained", "delta"}
    assert [f["file"] for f in data["figures"]] == ["levels.png", "loss_curves.png"]


def test_cli_module_imports_no_heavy_libraries():
    code = ("import sys, metaex.cli.report; "
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_controls_compare_bridged_and_unbridged_arms():
    from metaex.core.report.analysis import control_sentences, controls

    def row(arm, cond, low, high):
        return {"metric": "novel_valid", "stat": "did", "reference": "examples", "arm": arm, "dose": 64,
                "condition": cond, "estimate": (low + high) / 2, "ci_low": low, "ci_high": high,
                "se": (high - low) / 2 / 2.571, "n_seeds": 6}

    rows = [row("tiny-bridged", "explained", 0.02, 0.3), row("tiny-unbridged", "explained", -0.1, 0.2),
            row("tiny-bridged", "mismatched", 0.01, 0.2), row("tiny-unbridged", "mismatched", -0.1, 0.1)]
    arms = {"tiny-bridged": True, "tiny-unbridged": False}
    ctl = controls(rows, "novel_valid", arms)
    assert ctl["bridged_only"] is True and not ctl["mismatched"]["all"] and not ctl["worked"]["present"]
    # which arm is bridged comes from the probes' lineage, never from the arm's name
    assert controls(rows, "novel_valid", {"tiny-bridged": False, "tiny-unbridged": True})["bridged_only"] is False
    assert "bridged_only" not in controls(rows, "novel_valid")
    text = "\n".join(control_sentences(ctl))
    assert "arm `tiny-bridged` at doses: 64" in text and "arm `tiny-unbridged` at doses: none" in text
    # against mismatched too, where the study has it: the same words bound to the wrong names
    binding = [{**row("tiny-bridged", "explained", -0.05, 0.2), "reference": "mismatched"},
               {**row("tiny-unbridged", "explained", -0.1, 0.1), "reference": "mismatched"}]
    strict = controls(rows + binding, "novel_valid", arms)
    assert strict["explanation_effect"]["tiny-bridged"]["doses_with_effect"] == [] and not strict["bridged_only"]
    assert "against `examples` and `mismatched`) in arm `tiny-bridged` at doses: none" in "\n".join(
        control_sentences(strict))
    binding[0] = {**binding[0], "ci_low": 0.01}
    assert controls(rows + binding, "novel_valid")["explanation_effect"]["tiny-bridged"]["doses_with_effect"] == [64]
    assert "`mismatched` equivalent to 0 within the margin" in text and "**no**" in text
    assert "the unbridged arm does not: **yes**" in text
    # worked is judged against filler where the study has it, and shown against examples beside it
    rows += [row("tiny-bridged", "worked", -0.1, 0.5), {**row("tiny-bridged", "worked", 0.1, 0.4), "reference": "filler"}]
    ctl = controls(rows, "novel_valid")
    assert ctl["worked"]["reference"] == "filler" and ctl["worked"]["all"]
    assert not ctl["worked"]["versus_examples"]["all"]


def test_a_null_control_passes_only_when_shown_equivalent():
    """Regression (issue 29, defect 2): a null control whose interval merely covers 0 used to "pass"; now it passes
    only when its 90 % interval lies inside ± the margin, and reads *undetermined* otherwise."""
    from metaex.core.report.analysis import controls

    def row(cond, low, high):
        return {"metric": "heldout_lpw", "stat": "did", "reference": "examples", "arm": "a", "dose": 8,
                "condition": cond, "estimate": (low + high) / 2, "ci_low": low, "ci_high": high,
                "se": (high - low) / 2 / 2.571, "n_seeds": 6}

    margins = {("heldout_lpw", "a", 8): 0.2}
    wide = controls([row("filler", -0.9, 1.0)], "heldout_lpw", margins=margins)["filler"]
    assert not wide["all"] and wide["cells"][0]["null_verdict"] == "undetermined"
    tight = controls([row("filler", -0.05, 0.06)], "heldout_lpw", margins=margins)["filler"]
    assert tight["all"] and tight["cells"][0]["null_verdict"] == "equivalent"
    off = controls([row("filler", 0.3, 0.5)], "heldout_lpw", margins=margins)["filler"]
    assert off["cells"][0]["null_verdict"] == "nonzero"
    assert not controls([row("filler", -0.05, 0.06)], "heldout_lpw")["filler"]["all"]   # no margin: no pass


@pytest.mark.parametrize("planted, verdict", [((0.0, 0.6, 2.5), "it grows with capability"),
                                              ((0.0, 0.0, 0.0), "no evidence that it grows")])
def test_capability_ladder_in_size_order_and_in_words(tmp_path, run_cli, planted, verdict):
    """Arms listed smallest first whatever their names; the trend of the explanation effect said in words."""
    arms = {"zeta-small": 1.6e5, "alpha-large": 1.35e8, "mid": 4e6}
    sizes = sorted(arms, key=arms.get)
    effects = {(arm, "explained"): planted[sizes.index(arm)] for arm in arms}
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(5), arms=arms, doses=(16,),
                            conditions=("examples", "explained"), effects=effects, seeds=6)
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--bootstrap", "300")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["arm_order"] == sizes and [row[0] for row in data["headline_table"]["rows"][::2]] == sizes
    cap = [c for c in data["capability"] if c["metric"] == "heldout_lpw"][0]
    assert [a["arm"] for a in cap["arms"]] == sizes and cap["slope_per_decade"]["n_seeds"] == 6
    slope = cap["slope_per_decade"]
    assert (slope["ci_low"] > 0) == (planted[-1] > 0)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Does the effect grow with capability?" in md
    line = next(x for x in md.splitlines() if x.startswith("- `heldout_lpw`, dose 16"))
    assert verdict in line and line.index("`zeta-small` (160k)") < line.index("`mid` (4M)") < line.index(
        "`alpha-large` (135M)")


def test_capability_reads_the_sham_contrast_per_word_and_leaves_bridged_arms_out(tmp_path, run_cli):
    """Regression (issue 29, defect 3): the slope read `explained` against `examples`, so documents that help by
    their words alone (as much as `mismatched` does) looked like a capability trend, and both tiny arms sat at one
    x. It now reads `explained` against `mismatched` on held-out fit per word, without the bridged arm."""
    arms = {"tiny-unbridged": 1.6e5, "tiny-bridged": 1.6e5, "mid": 4e6, "large": 1.35e8}
    grows = {"tiny-unbridged": 0.0, "tiny-bridged": 3.0, "mid": 1.5, "large": 3.0}
    effects = {(arm, c): grows[arm] for arm in arms for c in ("explained", "mismatched")}   # the words, not the rule
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(8), arms=arms, doses=(16,),
                            conditions=("examples", "explained", "mismatched"), effects=effects, seeds=6,
                            bridged={"tiny-bridged": True, "tiny-unbridged": False, "mid": False, "large": False})
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    [cap] = [c for c in data["capability"] if c["metric"] == "heldout_lpw"]
    assert cap["reference"] == "mismatched" and cap["left_out"] == ["tiny-bridged"]
    assert [a["arm"] for a in cap["arms"]] == ["tiny-unbridged", "mid", "large"]
    slope = cap["slope_per_decade"]
    assert slope["ci_low"] <= 0 <= slope["ci_high"]          # against the sham, no trend
    against_examples = [r for r in data["results"] if r["metric"] == "heldout_lpw" and r["condition"] == "explained"
                        and r["stat"] == "did" and r["reference"] == "examples"]
    by_arm = {r["arm"]: r["estimate"] for r in against_examples}
    assert by_arm["large"] > by_arm["tiny-unbridged"] + 1     # what the old slope read as growth


def test_exchange_rates_in_the_report(tmp_path, run_cli):
    """With an `examples` ladder the report reads every condition's gain as extra examples (recovery itself is
    tested on planted worths in test_exchange.py); `worked` is set against the planted count its mixes record."""
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(2), arms={"tiny": 1.6e5}, doses=(4, 8, 16, 32, 64),
                            conditions=("examples", "filler", "worked"), effects={("tiny", "worked"): 1.0},
                            seeds=6, worked_strings=4, grammar_sd=0.1)
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--bootstrap", "400")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    mine = [r for r in data["exchange"] if r["metric"] == "novel_valid"]
    rates = {(r["condition"], r["dose"]): r for r in mine if r["half"] == "explained"}
    other = {(r["condition"], r["dose"]): r for r in mine if r["half"] == "unexplained"}
    assert set(rates) == set(other) == {(c, d) for c in ("filler", "worked") for d in (4, 8, 16, 32, 64)}
    worked, filler = rates[("worked", 8)], rates[("filler", 8)]
    assert worked["planted"] == 32 and filler["planted"] is None and worked["ladder"] == [4, 8, 16, 32, 64]
    assert worked["ci_low"] > 0 and worked["ci_low"] <= worked["extra"] <= worked["ci_high"]
    # the planted effect is on the explained half only: the other half's worth is small, its interval covers 0
    spill = other[("worked", 8)]
    assert spill["planted"] is None and spill["ci_low"] <= 0 <= spill["ci_high"] and spill["extra"] < worked["extra"]
    assert worked["extra"] == worked["equivalent_dose"] - 8 and worked["ratio"] == pytest.approx(worked["extra"] / 8)
    top = [r for r in rates.values() if r["censored"] == "above"]
    assert all(r["equivalent_dose"] == 64 for r in top)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Headline: what the extra documents are worth (exchange rate)" in md
    assert "| extra examples per grammar, explained half [95 % CI] | × dose | planted | unexplained half [95 % CI] |" in md
    assert md.index("## Headline: heldout_lpw") < md.index("## Headline: what the extra") < md.index("## Controls")
    assert "`novel_valid`, `tiny` dose 8: `worked` is worth" in md and "planted strings" in md
    figure = next(f for f in data["figures"] if f["file"] == "exchange_novel_valid.png")
    assert (tmp_path / "r" / figure["file"]).stat().st_size > 10_000 and "equivalent" in figure["caption"]
    # an arm with fewer than three `examples` doses has no curve to read
    few = [p for p in dirs if "_d4_" in p.name or "_d8_" in p.name]
    assert run_cli("report", *few, "--out", tmp_path / "r2", "--bootstrap", "50").exit_code == 0
    assert json.loads((tmp_path / "r2" / "report.json").read_text())["exchange"] == []


def test_in_context_ceiling_in_the_report(tmp_path, run_cli):
    """icl_* against icl_control_* per arm × dose × condition, and in words per arm."""
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(4), arms={"tiny": 1.6e5}, doses=(8,),
                            conditions=("examples", "explained"), seeds=6, in_context=1.5, grammar_sd=0.3)
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    rows = {(r["metric"], r["condition"]): r for r in data["in_context"]}
    assert set(rows) == {("novel_valid", "examples"), ("novel_valid", "explained")}
    ex = rows[("novel_valid", "examples")]
    assert ex["ci_low"] > 0 and ex["gain"] == pytest.approx(ex["with_explanation"] - ex["with_control"], abs=1e-9)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## The in-context ceiling" in md and "`tiny` **can** use an explanation in context" in md
    flat = write_probe_dirs(tmp_path / "f", np.random.default_rng(4), arms={"tiny": 1.6e5}, doses=(8,),
                            conditions=("examples", "explained"), seeds=6, in_context=0.0, grammar_sd=0.3)
    assert run_cli("report", *flat, "--out", tmp_path / "r2", "--bootstrap", "200").exit_code == 0
    assert "`tiny` **cannot** be shown to use" in (tmp_path / "r2" / "report.md").read_text()


def test_in_context_verdict_reads_the_design_doses_and_the_base_model():
    """A ladder dose's lone interval above 0 does not make an arm "can"; a pre-trained arm's base model does."""
    from metaex.core.report.in_context import BASE, in_context_sentences

    def row(arm, dose, cond, low):
        return {"arm": arm, "dose": dose, "condition": cond, "metric": "heldout_lp", "gain": low + 0.1,
                "ci_low": low, "ci_high": low + 0.2}

    rows = [row("a", 8, "examples", -0.1), row("a", 8, "explained", -0.1), row("a", 48, "examples", 0.05),
            row("b", 8, "examples", -0.1), row("b", 8, "explained", -0.1), row("b", None, BASE, 0.3)]
    a, b = in_context_sentences(rows, None, ["a", "b"])
    assert "`a` **cannot** be shown to use" in a and "dose 48" not in a
    assert "`b` **can** use" in b and "its base model before fine-tuning: heldout_lp: +0.400" in b


def test_study_power_from_a_finished_study(tmp_path, run_subprocess):
    """`metaex study power CONFIG --from DIR`: the MDE table of each arm's primary contrast from the study's own
    variance components, with more seeds lowering it, and the seeds a margin would take."""
    write_probe_dirs(tmp_path / "s", np.random.default_rng(3), arms={"tiny": 1.6e5}, doses=(4, 8, 16, 32),
                     conditions=("examples", "explained", "mismatched"), seeds=6, grammar_sd=0.2)
    config = Path(__file__).resolve().parent.parent / "configs" / "study.toml"
    done = run_subprocess("study", "power", config, "--from", tmp_path / "s", "--sims", "400", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert {e["dose"] for e in entries} == {4, 8, 16, 32} and all(e["design"] == "explained" for e in entries)
    e = next(e for e in entries if e["dose"] == 8)
    assert e["contrast"] == "explained − mismatched" and e["metric"] == "heldout_lpw" and e["margin"]["examples"] == 2
    rows = {(r["seeds"], r["grammars"], r["items"]): r for r in e["table"]}
    assert rows[(12, 4, 40)]["mde_blocked"] < rows[(6, 4, 40)]["mde_blocked"] <= rows[(6, 4, 40)]["mde_seed"] * 1.05
    assert rows[(6, 4, 40)]["mde_seed_one"] is None          # infinite: the seed-level ceiling at 6 seeds
    table = run_subprocess("study", "power", config, "--from", tmp_path / "s", "--sims", "200")
    assert table.returncode == 0 and "| seeds | grammars |" in table.stdout and "Seeds needed" in table.stdout
    # an arm without a dose-response has no margin: no seed count is said to reach it (not "more than 64")
    from metaex.cli.power import render

    text = render([{**e, "margin": {**e["margin"], "metric": float("nan")}}])
    assert "no margin in the metric's units" in text and "more than 64" not in text
    bad = run_subprocess("study", "power", config, "--from", tmp_path / "nothing")
    assert bad.returncode == 2 and "no finished probes" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
