"""The report's "which grammars carry each effect" section: Δ − Δ(reference) split into one term per grammar."""

from __future__ import annotations

import math
from typing import Any

from metaex.core.report.analysis import find, number, reference_of
from metaex.core.report.load import Study
from metaex.core.stats.by_grammar import grammar_terms, largest_share, least_seeds_one_grammar, one_grammar_t

# a grammar "carries" an effect when its term is at least this share of the terms' absolute sum
CARRIES = 2 / 3


def grammar_rows(study: Study, metrics: list[str]) -> list[dict[str, Any]]:
    """One row per metric × arm × dose × condition (against its reference), with each grammar's term."""
    rows = []
    for (metric, arm, dose), design in study.designs.items():
        if metric not in metrics or "examples" not in design.conditions:
            continue
        for cond in design.conditions:
            ref = reference_of(cond, design.conditions)
            if cond in ("examples", ref):
                continue
            terms = grammar_terms(design, cond, ref)
            top, share = largest_share(terms)
            rows.append({"metric": metric, "arm": arm, "dose": dose, "condition": cond, "reference": ref,
                         "sum_of_terms": math.fsum(t.contribution for t in terms), "largest": top,
                         "largest_share": share, "n_seeds": len(design.seeds),
                         "grammars": [{"grammar": t.grammar, "change_explained": t.change_explained,
                                       "change_unexplained": t.change_unexplained, "contribution": t.contribution,
                                       "n_explained": t.n_explained, "n_unexplained": t.n_unexplained}
                                      for t in terms]})
    return rows


def grammar_table(rows: list[dict], metric: str) -> dict[str, list]:
    """{"header", "rows"}: per arm × dose × condition, each grammar's change where explained / unexplained."""
    mine = [r for r in rows if r["metric"] == metric]
    names = sorted({g["grammar"] for r in mine for g in r["grammars"]})
    header = ["arm", "dose", "condition", "vs", "Δ − Δ(vs)", *(f"{n}: E / U change" for n in names),
              "largest share"]
    out = []
    for r in mine:
        by = {g["grammar"]: g for g in r["grammars"]}
        cells = [f"{number(by[n]['change_explained'])} / {number(by[n]['change_unexplained'])}" if n in by else "–"
                 for n in names]
        share = "–" if math.isnan(r["largest_share"]) else f"{r['largest']} {100 * r['largest_share']:.0f} %"
        out.append([r["arm"], str(r["dose"]), f"`{r['condition']}`", f"`{r['reference']}`", number(r["sum_of_terms"]),
                    *cells, share])
    return {"header": header, "rows": out}


def grammar_sentences(rows: list[dict], results: list[dict], metric: str) -> list[str]:
    """The detection bound at this study's seed count, and every effect one grammar carries that was not detected."""
    mine = [r for r in rows if r["metric"] == metric]
    if not mine:
        return []
    from scipy import stats

    n = max(r["n_seeds"] for r in mine)
    crit = float(stats.t.ppf(0.975, n - 1)) if n >= 2 else math.nan
    least = least_seeds_one_grammar()
    can = one_grammar_t(n) > crit
    lines = [f"An effect that one grammar alone carries (moving it where explained, not where unexplained) puts "
             f"the per-seed values at two levels, by which half holds that grammar, and its t statistic is then at "
             f"most √(n − 1) however large the effect: {one_grammar_t(n):.2f} at this study's {n} seeds against "
             f"t({n - 1})'s {crit:.2f}. " + ("So it can be detected here." if can else
                                             f"So it cannot be detected here; that takes ≥ {least} seeds, "
                                             "or grammars that all leave the model room to respond.")]
    for r in mine:
        if not (r["largest_share"] >= CARRIES):
            continue
        got = find(results, metric=metric, arm=r["arm"], dose=r["dose"], condition=r["condition"], stat="did",
                   reference=r["reference"])
        if not got or got[0]["ci_low"] > 0 or got[0]["ci_high"] < 0:
            continue
        g = got[0]
        lines.append(f"`{r['condition']}` against `{r['reference']}`, arm `{r['arm']}` dose {r['dose']}: "
                     f"{number(g['estimate'])} [{number(g['ci_low'])}, {number(g['ci_high'])}], not detected, and "
                     f"{r['largest']} carries {100 * r['largest_share']:.0f} % of it.")
    return lines


def grammar_blocks(report: dict, metric: str) -> list[tuple[str, Any]]:
    """The section's blocks for one metric (none when the report has no such rows)."""
    rows = [r for r in report.get("by_grammar", []) if r["metric"] == metric]
    if not rows:
        return []
    return [("h2", f"Which grammars carry each effect ({metric})"),
            ("p", "Each condition against its reference (`worked` against `filler`, the others against "
                  "`examples`), split by grammar: its mean change against the reference over the seeds that "
                  "explain it (E) and over those that do not (U). With complementary seed pairs Δ − Δ(vs) is the "
                  "mean over grammars of E − U, so each grammar's (E − U) / (number of grammars) is its share of "
                  "the estimate; the last column names the largest and its share of the terms' absolute sum."),
            ("table", grammar_table(rows, metric)),
            ("list", grammar_sentences(rows, report["results"], metric))]
