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
    assert "novel_valid" in result.output and "report written to" in result.output
    assert {p.name for p in out.iterdir()} == {"report.md", "report.html", "report.json", "levels.png",
                                               "effect_vs_dose.png", "effect_by_arm.png", "effect_vs_dose_heldout_lp.png",
                                               "loss_curves.png", "metaex_folder.json"}
    data = json.loads((out / "report.json").read_text())
    ctl = data["controls"]
    assert ctl["worked"]["all"] and len(ctl["worked"]["cells"]) == 4          # 2 arms × 2 doses, CI above 0
    assert ctl["worked"]["reference"] == "filler" and ctl["worked"]["versus_examples"]["all"]
    assert ctl["filler"]["all"] and not ctl["mismatched"]["present"]
    fit = data["controls_fit"]   # the same verdicts on held-out fit
    assert fit["metric"] == "heldout_lp" and fit["worked"]["all"] and fit["filler"]["all"]
    assert data["headline_metric"] == "novel_valid"
    assert set(data["metrics"]) == {"novel_valid", "validity", "pair_margin", "heldout_lp"}
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
    assert page.count('src="data:image/png;base64,') == 5 and 'src="levels.png"' not in page
    md = (out / "report.md").read_text()
    assert "## Controls" in md and "![" in md and "| arm | dose | condition |" in md
    assert "`worked` detected (Δ > 0, CI excluding 0) against `filler` in every arm × dose: **yes**" in md
    assert "`worked` against `examples` (extra documents of any kind" in md
    assert "On held-out fit, `heldout_lp`" in md


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
                "condition": cond, "estimate": (low + high) / 2, "ci_low": low, "ci_high": high}

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
    assert "`mismatched` CI covers 0 against `examples` in every arm × dose: **no**" in text
    assert "the unbridged arm does not: **yes**" in text
    # worked is judged against filler where the study has it, and shown against examples beside it
    rows += [row("tiny-bridged", "worked", -0.1, 0.5), {**row("tiny-bridged", "worked", 0.1, 0.4), "reference": "filler"}]
    ctl = controls(rows, "novel_valid")
    assert ctl["worked"]["reference"] == "filler" and ctl["worked"]["all"]
    assert not ctl["worked"]["versus_examples"]["all"]


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
    cap = [c for c in data["capability"] if c["metric"] == "novel_valid"][0]
    assert [a["arm"] for a in cap["arms"]] == sizes and cap["slope_per_decade"]["n_seeds"] == 6
    slope = cap["slope_per_decade"]
    assert (slope["ci_low"] > 0) == (planted[-1] > 0)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Does the effect grow with capability?" in md
    line = next(x for x in md.splitlines() if x.startswith("- `novel_valid`, dose 16"))
    assert verdict in line and line.index("`zeta-small` (160k)") < line.index("`mid` (4M)") < line.index(
        "`alpha-large` (135M)")


def test_exchange_rates_in_the_report(tmp_path, run_cli):
    """With an `examples` ladder the report reads every condition's gain as extra examples (recovery itself is
    tested on planted worths in test_exchange.py); `worked` is set against the planted count its mixes record."""
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(2), arms={"tiny": 1.6e5}, doses=(4, 8, 16, 32, 64),
                            conditions=("examples", "filler", "worked"), effects={("tiny", "worked"): 0.6},
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
    assert md.index("## Headline: novel_valid") < md.index("## Headline: what the extra") < md.index("## Controls")
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
