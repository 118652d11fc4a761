"""Does the explanation effect grow with capability? The effect by arm, ordered by parameter count, and its trend.

Per seed, the slope of Δ − Δ(examples) of `explained` against log10(parameters) across the arms (every arm of a
study shares its seeds and each seed's grammar halves, so the arms pair by seed); the slope is summarised over
seeds like every other statistic: mean, t-interval, exact sign-flip p.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metaex.core.report.analysis import find, number
from metaex.core.report.figures import size_label
from metaex.core.report.load import Study
from metaex.core.stats.bootstrap import seed_summary

CONDITION = "explained"


def capability_rows(study: Study, rows: list[dict], metric: str, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Per dose: each sized arm's effect (in size order) and the per-decade slope over seeds; [] when fewer than
    two parameter counts are known."""
    sized = [a for a in study.arms if study.model_params.get(a)]
    if len({study.model_params[a] for a in sized}) < 2:
        return []
    out = []
    for dose in study.doses:
        arms, per_seed = [], {}
        for arm in sized:
            got = find(rows, metric=metric, arm=arm, dose=dose, condition=CONDITION, stat="did", reference="examples")
            design = study.designs.get((metric, arm, dose))
            if not got or design is None:
                continue
            arms.append({"arm": arm, "model_params": study.model_params[arm], "estimate": got[0]["estimate"],
                         "ci": [got[0]["ci_low"], got[0]["ci_high"]]})
            per_seed[arm] = dict(zip(design.seeds, got[0]["per_seed"], strict=True))
        if len({a["model_params"] for a in arms}) < 2:
            continue
        x = np.log10([a["model_params"] for a in arms])
        seeds = sorted(set.intersection(*(set(v) for v in per_seed.values())))
        slopes = []
        for s in seeds:
            y = np.array([per_seed[a["arm"]][s] for a in arms], dtype=float)
            ok = np.isfinite(y)
            if len(set(x[ok])) >= 2:
                slopes.append(float(np.polyfit(x[ok], y[ok], 1)[0]))
        out.append({"metric": metric, "dose": dose, "condition": CONDITION, "arms": arms,
                    "slope_per_decade": seed_summary(np.array(slopes), rng)})
    return out


def capability_sentences(cap: list[dict[str, Any]]) -> list[str]:
    """The answer in words, whatever it is: one sentence per metric and dose."""
    lines = []
    for c in cap:
        s = c["slope_per_decade"]
        if s["ci_low"] > 0:
            verdict = "it grows with capability"
        elif s["ci_high"] < 0:
            verdict = "it shrinks with capability"
        else:
            verdict = "no evidence that it grows with capability (nor that it shrinks)"
        by_arm = "; ".join(f"`{a['arm']}` ({size_label(a['model_params'])}) {number(a['estimate'])} "
                           f"[{number(a['ci'][0])}, {number(a['ci'][1])}]" for a in c["arms"])
        p = "–" if math.isnan(s["p_value"]) else f"{s['p_value']:.3f}"
        lines.append(f"`{c['metric']}`, dose {c['dose']}: the explanation effect (`{c['condition']}`, Δ − Δ(examples)) "
                     f"by arm, smallest first: {by_arm}. Per tenfold increase in parameters it changes by "
                     f"{number(s['estimate'])} [{number(s['ci_low'])}, {number(s['ci_high'])}] (p = {p}, "
                     f"{s['n_seeds']} seeds): **{verdict}**.")
    return lines
