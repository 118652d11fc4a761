"""The report's exchange rates: each condition's gain read as extra example strings per grammar, per arm and dose,
on the `examples` dose-response of that arm (metaex.core.stats.exchange), with `worked` against its planted count."""

from __future__ import annotations

from typing import Any

import numpy as np

from metaex.core.report.analysis import find, number
from metaex.core.report.load import Study
from metaex.core.stats.exchange import exchange_rates

CONDITIONS = ("explained", "mismatched", "filler", "worked")
MIN_DOSES = 3     # an `examples` curve needs this many doses before it is read


def exchange_rows(study: Study, rows: list[dict], metric: str, *, n_resamples: int,
                  rng: np.random.Generator) -> list[dict[str, Any]]:
    """One row per arm × dose × condition with a gain; [] for an arm whose `examples` has < MIN_DOSES doses."""
    out = []
    for arm in study.arms:
        ladder = {}
        for dose in study.doses:
            got = find(rows, metric=metric, arm=arm, dose=dose, condition="examples", stat="level")
            if got:
                ladder[dose] = got[0]["per_seed"]
        if len(ladder) < MIN_DOSES or len({len(v) for v in ladder.values()}) != 1:
            continue
        gains = {}
        for dose in study.doses:
            for cond in CONDITIONS:
                got = find(rows, metric=metric, arm=arm, dose=dose, condition=cond, stat="did", reference="examples")
                if got:
                    gains[(cond, dose)] = got[0]["per_seed"]
        for r in exchange_rates({d: np.array(v) for d, v in ladder.items()}, gains, n_resamples=n_resamples,
                                rng=rng):
            truth = study.planted.get((arm, r.dose)) if r.condition == "worked" else None
            out.append({"metric": metric, "arm": arm, "dose": r.dose, "condition": r.condition,
                        "equivalent_dose": r.equivalent_dose, "extra": r.extra, "ratio": r.ratio,
                        "ci_low": r.ci_low, "ci_high": r.ci_high, "se": r.se, "censored": r.censored,
                        "n_seeds": r.n_seeds, "ladder": sorted(ladder), "planted": truth})
    return out


def exchange_table(rates: list[dict]) -> dict[str, list]:
    header = ["metric", "arm", "dose", "condition", "extra examples per grammar [95 % CI]", "× dose", "planted"]
    body = []
    for r in rates:
        note = {"above": " (≥: beyond the ladder)", "below": " (≤: below the ladder)"}.get(r["censored"], "")
        body.append([r["metric"], r["arm"], str(r["dose"]), r["condition"],
                     f"{number(r['extra'])} [{number(r['ci_low'])}, {number(r['ci_high'])}]{note}",
                     number(r["ratio"]), "–" if r["planted"] is None else f"{r['planted']:g}"])
    return {"header": header, "rows": body}


def exchange_sentences(rates: list[dict]) -> list[str]:
    """The planted control's recovery, in words, whatever it says."""
    lines = []
    for r in (r for r in rates if r["condition"] == "worked" and r["planted"] is not None):
        recovered = r["ci_low"] > 0 and r["extra"] <= r["planted"]
        lines.append(f"`{r['metric']}`, `{r['arm']}` dose {r['dose']}: `worked` is worth {number(r['extra'])} "
                     f"[{number(r['ci_low'])}, {number(r['ci_high'])}] extra examples per grammar against "
                     f"{r['planted']:g} planted strings (each seen fewer times than an example): "
                     f"**{'recovered' if recovered else 'not recovered'}** (recovered: interval above 0 and "
                     "estimate at most the planted count).")
    return lines
