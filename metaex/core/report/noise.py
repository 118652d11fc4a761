"""The report's sampling-noise section: what share of the seed-to-seed variance of Δ the items' own noise explains."""

from __future__ import annotations

import math
from typing import Any

from metaex.core.report.load import Study
from metaex.core.stats.noise import noise_shares


def noise_rows(study: Study, metrics: list[str]) -> list[dict[str, Any]]:
    """One row per metric × arm × dose × condition × statistic (Δ, and Δ − Δ(examples)) of a mean metric."""
    rows = []
    for (metric, arm, dose), design in study.designs.items():
        if metric not in metrics:
            continue
        refs = ("examples",) if "examples" in design.conditions else ()
        for n in noise_shares(design, refs):
            rows.append({"metric": metric, "arm": arm, "dose": dose, "condition": n.condition, "stat": n.stat,
                         "reference": n.reference, "sampling_var": n.sampling_var, "seed_var": n.seed_var,
                         "share": n.share, "items": n.items})
    return rows


def _pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.0f} %"


def pooled(rows: list[dict]) -> list[dict[str, Any]]:
    """Per arm × dose and statistic: Σ sampling variance / Σ seed-to-seed variance over the conditions (a steadier
    reading than one condition's six-seed variance), with the range of the per-condition shares."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if not math.isnan(r["share"]):
            groups.setdefault((r["metric"], r["arm"], r["dose"], r["stat"]), []).append(r)
    out = []
    for (metric, arm, dose, stat), rs in sorted(groups.items()):
        seed = sum(r["seed_var"] for r in rs)
        out.append({"metric": metric, "arm": arm, "dose": dose, "stat": stat, "items": rs[0]["items"],
                    "share": sum(r["sampling_var"] for r in rs) / seed if seed > 0 else math.nan,
                    "lowest": min(r["share"] for r in rs), "highest": max(r["share"] for r in rs)})
    return out


def noise_table(rows: list[dict]) -> dict[str, list]:
    """Per arm × dose: items per grammar, the pooled share of Var(Δ) and of Var(Δ − Δ(examples)), with ranges."""
    header = ["arm", "dose", "items per grammar", "share of Var(Δ)", "(conditions)", "share of Var(Δ − Δ(examples))",
              "(conditions)"]
    by = {(r["arm"], r["dose"], r["stat"]): r for r in pooled(rows)}
    body = []
    for arm, dose in dict.fromkeys((r["arm"], r["dose"]) for r in rows):
        line = [arm, str(dose)]
        first = by.get((arm, dose, "delta")) or by.get((arm, dose, "did"))
        line.append(f"{first['items']:.0f}" if first else "–")
        for stat in ("delta", "did"):
            r = by.get((arm, dose, stat))
            line += [_pct(r["share"]), f"{_pct(r['lowest'])}–{_pct(r['highest'])}"] if r else ["–", "–"]
        body.append(line)
    return {"header": header, "rows": body}


def noise_sentence(rows: list[dict], metric: str) -> str:
    """The largest pooled share in words."""
    got = [r for r in pooled(rows) if not math.isnan(r["share"])]
    worst = max(got, key=lambda r: r["share"]) if got else None
    head = (f"Share of the seed-to-seed variance of each per-seed effect that the items' own sampling noise explains "
            f"on `{metric}` (s²/n per grammar cell, pooled over conditions: `metaex.core.stats.noise`; report.json "
            "`noise` has every condition).")
    if worst is None:
        return head
    label = "Δ" if worst["stat"] == "delta" else "Δ − Δ(examples)"
    return (head + f" At most {_pct(worst['share'])} (of {label} in `{worst['arm']}` at dose {worst['dose']}). Where "
            "it is large, more samples per grammar narrow the intervals; where it is small, only more seeds do.")
