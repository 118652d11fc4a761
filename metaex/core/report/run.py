"""`metaex report`: statistics, tables and figures of a study's probe dirs, written as one report directory.

`make_report(probe_dirs, out)` is the whole command; the CLI only parses options and prints the headline table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metaex.core import options, records
from metaex.core.errors import InputError
from metaex.core.files import atomic_dir, guard_outputs
from metaex.core.markers import write_marker
from metaex.core.options import check_value, opt
from metaex.core.report import figures
from metaex.core.report.analysis import FIT, HEADLINE, METHOD, analyse, control_sentences, controls
from metaex.core.report.answer import answer_lines, answer_preamble, answer_table
from metaex.core.report.by_grammar import grammar_blocks, grammar_rows
from metaex.core.report.capability import capability_rows, capability_sentences
from metaex.core.report.document import (
    FILLER_COLUMNS,
    HEADLINE_COLUMNS,
    METRIC_COLUMNS,
    render,
    table,
    write_texts,
)
from metaex.core.report.exchange import exchange_rows, exchange_sentences, exchange_table
from metaex.core.report.in_context import in_context_rows, in_context_sentences, in_context_table
from metaex.core.report.load import Study, load_study
from metaex.core.report.noise import noise_rows, noise_sentence, noise_table, pooled
from metaex.core.report.options import ReportOptions
from metaex.core.report.verdicts import answer, curve_margins, designs_of

SCHEMA = "metaex/report@1"


def make_report(probe_dirs: list[Path], out: Path, *, metrics: list[str] | None = None,
                n_resamples: int = ReportOptions.bootstrap, seed: int = 0, contrasts: bool = True,
                resample_items: bool = False, analysis: ReportOptions | None = None) -> dict[str, Any]:
    """Read, analyse and write REPORT_DIR (report.md, report.html, report.json, *.png); returns report.json's dict.

    metrics: which to analyse (default: all present); the headline is the primary metric of the halves design
    (`analysis.primary`) when analysed, else `novel_valid`, else the first. contrasts: compare every condition
    with `examples` (required then), and with `filler` and `mismatched` when present; the answer section
    (`verdicts.answer`: primary, planted and null verdicts per arm and design) needs them.
    resample_items: the two-level bootstrap (seeds, then items within), wider than calibrated (see stats).
    Everything is validated and computed before the directory appears; the directory is replaced atomically.
    """
    check_value(opt(ReportOptions, "bootstrap"), n_resamples, "--bootstrap")
    guard_outputs(probe_dirs, [(out, "folder", "report")])
    study = load_study(probe_dirs, metrics)
    if contrasts:
        lacking = sorted({(a, d) for (_, a, d), des in study.designs.items() if "examples" not in des.conditions})
        if lacking:
            arm, dose = lacking[0]
            raise InputError(f"condition contrasts need an `examples` condition; arm {arm!r} dose {dose} has none "
                             "(pass --no-contrasts to report levels and Δ only)", str(probe_dirs[0]))
    opts = analysis or ReportOptions()
    rows = analyse(study, n_resamples=n_resamples, seed=seed, contrasts=contrasts, resample_items=resample_items)
    names = metrics or study.metrics
    headline = next(m for m in (opts.primary, HEADLINE, names[0]) if m in names)
    keys = [(a, d, c) for a in study.arms for d in study.doses for c in study.conditions]
    tables = {m: table(rows, m, HEADLINE_COLUMNS if m == headline else METRIC_COLUMNS, keys) for m in names}
    report: dict[str, Any] = {
        "schema": SCHEMA, "producer": records.producer("report"), "headline_metric": headline,
        "settings": {"bootstrap": n_resamples, "seed": seed, "level": 0.95, "method": METHOD,
                     "contrasts": contrasts, "resample_items": resample_items,
                     "analysis": options.record(opts)},
        "inputs": [str(p) for p in probe_dirs],
        "arms": {a: {"variant": study.variants[a], "model_params": study.model_params.get(a),
                     "bridged": study.bridged.get(a)} for a in study.arms},
        "arm_order": study.arms,   # smallest model first (report.json sorts the keys of "arms")
        "doses": study.doses, "conditions": study.conditions, "metrics": names,
        "headline_table": tables[headline], "results": rows,
    }
    report["noise"] = noise_rows(study, names)
    report["noise_pooled"] = pooled(report["noise"])
    fit = next((m for m in (FIT, HEADLINE) if m in names and m != headline), None)
    if contrasts:
        cap_rng = np.random.default_rng(seed)
        report["answer"] = answer(study, rows, opts, np.random.default_rng(seed))
        report["capability"] = [c for kind in designs_of(study)
                                for c in capability_rows(study, rows, opts.primary if kind == "explained"
                                                         else opts.contest_primary, cap_rng, kind)]
        ex_rng = np.random.default_rng(seed)        # its own stream: other sections do not move its draws
        report["exchange"] = [r for m in (headline, fit) if m
                              for r in exchange_rows(study, rows, m, n_resamples=n_resamples, rng=ex_rng)]
        margins = curve_margins(study, rows, opts)
        report["controls"] = controls(rows, headline, study.bridged, margins)
        report["by_grammar"] = grammar_rows(study, [m for m in (headline, fit) if m])
        if fit:
            report["controls_fit"] = controls(rows, fit, study.bridged, margins)
    report["in_context"] = in_context_rows(study, np.random.default_rng(seed))
    with atomic_dir(out) as folder:
        report["figures"] = _figures(study, rows, headline, folder, contrasts, fit=fit,
                                     rates=report.get("exchange", []), answer=report.get("answer"))
        blocks = _blocks(report, tables, rows, keys, study)
        write_texts(folder, *render(blocks, folder), report)
        write_marker(folder, "report")
    return report


ANSWER_FIGURE = "answer.png"     # the report's first figure, the one README shows (`metaex results`)


def _figures(study: Study, rows: list[dict], metric: str, folder: Path, contrasts: bool,
             fit: str | None = None, rates: list[dict] | None = None, answer: dict | None = None
             ) -> list[dict[str, str]]:
    arms, doses, conds = study.arms, study.doses, study.conditions
    made = [(ANSWER_FIGURE, "The answer: each arm's primary contrast, planted control and in-context DAE (95 % "
             "intervals; shaded: the equivalence margin; dotted: the smallest detectable effect)",
             lambda p: figures.answer_figure(answer, p))] if answer and answer.get("entries") else []
    made += [("levels.png", f"{metric} per condition, explained and unexplained grammars separately",
              lambda p: figures.levels_figure(rows, metric, arms, doses, conds, p))]
    if contrasts:
        made += [("effect_vs_dose.png", f"Explanation effect Δ − Δ(examples) on {metric} against dose",
                  lambda p: figures.did_vs_dose_figure(rows, metric, arms, doses, conds, p)),
                 ("effect_by_arm.png", f"Explanation effect Δ − Δ(examples) on {metric} by arm / model size",
                  lambda p: figures.did_by_arm_figure(rows, metric, arms, doses, conds, study.model_params, p))]
        if fit:
            made.append((f"effect_vs_dose_{fit}.png", f"Explanation effect Δ − Δ(examples) on {fit} against dose",
                         lambda p: figures.did_vs_dose_figure(rows, fit, arms, doses, conds, p)))
    for m in (metric, fit):
        if m and any(r["metric"] == m for r in rates or ()):
            made.append((f"exchange_{m}.png", f"The `examples` dose-response on {m}, each condition at its equivalent "
                         "dose", lambda p, m=m: figures.exchange_figure(rows, rates, m, arms, conds, p)))
    if study.curves:
        made.append(("loss_curves.png", "Training loss of every run",
                     lambda p: figures.loss_figure(study.curves, arms, conds, p)))
    for name, _, draw in made:
        draw(folder / name)
    return [{"file": name, "caption": caption} for name, caption, _ in made]


def _blocks(report: dict, tables: dict, rows: list[dict], keys: list, study: Study) -> list[tuple[str, Any]]:
    metric = report["headline_metric"]
    max_seeds = max(r["n_seeds"] for r in rows)
    blocks: list[tuple[str, Any]] = [("h1", "metaex report")]
    if report.get("answer", {}).get("entries"):
        summary = answer_table(report["answer"])
        blocks += [("h2", "The answer"), ("list", answer_lines(report["answer"])),
                   ("p", " ".join(answer_preamble(report["answer"])))] + ([("table", summary)] if summary["rows"] else [])
    blocks += [
        ("p", f"{len(report['inputs'])} probe dirs; arms: {', '.join(f'`{a}`' for a in study.arms)}; doses: "
              f"{', '.join(map(str, study.doses))}; conditions: {', '.join(f'`{c}`' for c in study.conditions)}."),
        ("p", f"Statistics: {METHOD}{'; items resampled within seeds too' if report['settings']['resample_items'] else ''}; "
              f"{report['settings']['bootstrap']} bootstrap resamples, seed {report['settings']['seed']}. Δ = metric of the explained grammars − metric of the unexplained "
              "grammars in the same run; Δ − Δ(examples) pairs each run with the `examples` run of the same arm, "
              "dose and seed, so grammar difficulty cancels. E/U change: how the explained/unexplained grammars "
              "moved against `examples`."),
        ("p", f"Read Δ − Δ(examples) (and Δ − Δ(filler)) as the effect of a condition's extra documents, and an "
              "explanation effect as `explained` above both `examples` and `mismatched` (the same words bound to the "
              "wrong names). The CI of the plain Δ is wide "
              "when grammars differ in difficulty: complementary seed pairs cancel that difference in the mean but "
              f"not in the spread between seeds. With {max_seeds} seeds the smallest attainable sign-flip p is "
              f"{2 / 2 ** max_seeds:.3g}."),
        ("h2", f"Headline: {metric}"),
        ("table", tables[metric]),
    ]
    if report.get("exchange"):
        blocks += [("h2", "Headline: what the extra documents are worth (exchange rate)"),
                   ("p", "The level each condition reached on the grammars it explains (the seed's explained "
                         "half), read on the arm's `examples` dose-response on the same grammars (isotonic in dose, "
                         "linear in log dose between the ladder's doses): the extra example strings per grammar "
                         "that `examples` would need to reach it, with seed-cluster bootstrap t-intervals (the "
                         "curve refitted in every resample). The last column reads the other half the same way: "
                         "what the documents did to grammars they do not mention. `filler`'s worth is that of "
                         "extra documents as such; a condition's worth beyond it is its information."),
                   ("table", exchange_table(report["exchange"])), ("list", exchange_sentences(report["exchange"]))]
    if "controls" in report:
        blocks += [("h2", "Controls"), ("p", f"On the headline metric, `{metric}` (seed-level intervals; the answer "
                                             "above reads the primary metric with both estimators):"),
                   ("list", control_sentences(report["controls"]))]
    if "controls_fit" in report:
        blocks += [("p", f"On `{report['controls_fit']['metric']}` (exploratory):"),
                   ("list", control_sentences(report["controls_fit"]))]
    for m in (metric, report.get("controls_fit", {}).get("metric")):
        if m:
            blocks += grammar_blocks(report, m)
    if report.get("in_context"):
        blocks += [("h2", "The in-context ceiling"),
                   ("p", "The fine-tuned models sampled and scored again with one of the grammar's explanations before "
                         "the prompt, against its same-alphabet sham (the other variant's explanation worded alike, "
                         "or the explanation with its terminals permuted: the same words, other rules): can the model "
                         "read an explanation's rules when it is in its context window?"),
                   ("list", in_context_sentences(report["in_context"], report.get("controls"), study.arms)),
                   ("table", in_context_table(report["in_context"]))]
    if report.get("capability"):
        blocks += [("h2", "Does the effect grow with capability?"),
                   ("p", "Arms in order of parameter count; the trend is the per-seed slope of the effect against "
                         "log10(parameters), summarised over seeds (t-interval, sign-flip p):"),
                   ("list", capability_sentences(report["capability"]))]
    noise = [r for r in report["noise"] if r["metric"] == metric]
    if noise:
        blocks += [("h2", f"Sampling noise against seed noise ({metric})"),
                   ("p", noise_sentence(noise, metric)), ("table", noise_table(noise))]
    if report["settings"]["contrasts"] and "filler" in study.conditions:
        blocks += [("h2", f"{metric} against `filler` (same extra tokens, no explanation)"),
                   ("table", table(rows, metric, FILLER_COLUMNS, keys))]
    blocks += [("h2", "Figures")] + [("figure", (f["file"], f["caption"])) for f in report["figures"]]
    for name, tab in tables.items():
        if name != metric:
            blocks += [("h2", f"Metric: {name}"), ("table", tab)]
    return blocks
