"""The report's exchange rates: the level each condition reached on a grammar half, read as extra example strings
per grammar on the `examples` dose-response of that half, per arm and dose (metaex.core.stats.exchange), with
`worked` against its planted count."""

from __future__ import annotations

from typing import Any

import numpy as np

from metaex.core.report.analysis import find, number
from metaex.core.report.load import Study
from metaex.core.stats.exchange import exchange_rates

CONDITIONS = ("explained", "mismatched", "filler", "worked")
SHAMS = (("explained", "mismatched"),)      # a condition's worth beyond its sham's: the explanation's own
MIN_DOSES = 3     # an `examples` curve needs this many doses before it is read


HALVES = {"explained": ("level_explained", "change_explained"),          # curve stat, gain stat (vs examples)
          "unexplained": ("level_unexplained", "change_unexplained")}


def exchange_rows(study: Study, rows: list[dict], metric: str, *, n_resamples: int,
                  rng: np.random.Generator) -> list[dict[str, Any]]:
    """One row per arm × dose × condition × grammar half with a gain, and per sham contrast ("explained −
    mismatched": the explanation's worth beyond its words, both read within every resample); [] for an arm whose
    `examples` has fewer than MIN_DOSES doses.

    Per half, the curve is `examples`' level on that half's grammars at each dose (a seed's explained half is the
    half its other conditions explain), and a condition's gain is how far its run moved those same grammars
    against the seed's `examples` run at its dose: the level it reached, read as examples per grammar. The
    explained half carries the documents' worth (`worked`'s planted strings are there); the unexplained half
    reads what the same documents did to grammars they do not mention.
    """
    out = []
    for arm in study.arms:
        for half, (level_stat, gain_stat) in HALVES.items():
            ladder = {}
            for dose in study.doses:
                got = find(rows, metric=metric, arm=arm, dose=dose, condition="examples", stat=level_stat)
                if got:
                    ladder[dose] = got[0]["per_seed"]
            if len(ladder) < MIN_DOSES or len({len(v) for v in ladder.values()}) != 1:
                continue
            gains = {}
            for dose in study.doses:
                for cond in CONDITIONS:
                    got = find(rows, metric=metric, arm=arm, dose=dose, condition=cond, stat=gain_stat,
                               reference="examples")
                    if got:
                        gains[(cond, dose)] = got[0]["per_seed"]
            shams = {(a, b, dose): (gains[(a, dose)], gains[(b, dose)]) for a, b in SHAMS for dose in study.doses
                     if (a, dose) in gains and (b, dose) in gains}
            for r in exchange_rates({d: np.array(v) for d, v in ladder.items()}, gains, n_resamples=n_resamples,
                                    rng=rng, contrasts=shams):
                truth = study.planted.get((arm, r.dose)) if r.condition == "worked" and half == "explained" else None
                out.append({"metric": metric, "arm": arm, "dose": r.dose, "condition": r.condition, "half": half,
                            "equivalent_dose": r.equivalent_dose, "extra": r.extra, "ratio": r.ratio,
                            "ci_low": r.ci_low, "ci_high": r.ci_high, "se": r.se, "censored": r.censored,
                            "n_seeds": r.n_seeds, "ladder": sorted(ladder), "planted": truth})
    return out


def _worth(r: dict | None) -> str:
    if r is None:
        return "–"
    note = {"above": " (≥: beyond the ladder)", "below": " (≤: below the ladder)"}.get(r["censored"], "")
    return f"{number(r['extra'])} [{number(r['ci_low'])}, {number(r['ci_high'])}]{note}"


def exchange_table(rates: list[dict]) -> dict[str, list]:
    """The explained half's worth (with × dose and the planted truth), the unexplained half's beside it."""
    header = ["metric", "arm", "dose", "condition", "extra examples per grammar, explained half [95 % CI]", "× dose",
              "planted", "unexplained half [95 % CI]"]
    other = {(r["metric"], r["arm"], r["dose"], r["condition"]): r for r in rates if r["half"] == "unexplained"}
    body = []
    for r in (r for r in rates if r["half"] == "explained"):
        body.append([r["metric"], r["arm"], str(r["dose"]), r["condition"], _worth(r), number(r["ratio"]),
                     "–" if r["planted"] is None else f"{r['planted']:g}",
                     _worth(other.get((r["metric"], r["arm"], r["dose"], r["condition"])))])
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
