"""Does the explanation effect grow with capability? The effect by arm, ordered by parameter count, and its trend.

The effect is each design's sham contrast on its primary metric, in a unit that does not depend on the tokenizer:
`explained` Δ − Δ(`mismatched`) (the same words bound to the wrong names; `examples` where the study has no
`mismatched`) on held-out fit per word, or a contested design's direction-adjusted effect of `told` against
`examples` (per word: its sham is the other variant's explanation, built into the direction). Per seed, the slope
of that effect against log10(parameters) across the arms (every arm of a study shares its seeds and each seed's
grammar halves, so the arms pair by seed), summarised over seeds like every other statistic: mean, t-interval,
exact sign-flip p. Bridged arms stand out of the ladder (they test the bridging prediction, not capability, and
share the unbridged arm's size); arms of one size (one base model fine-tuned two ways) are averaged into one point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metaex.core.report.analysis import find, number
from metaex.core.report.figures import size_label
from metaex.core.report.load import Study
from metaex.core.stats.bootstrap import seed_summary


def sham_contrast(design: str, conditions: list[str]) -> tuple[str, str, str]:
    """(condition, stat, reference) of a design's sham contrast."""
    if design == "contested":
        return "told", "change", "examples"
    return "explained", "did", "mismatched" if "mismatched" in conditions else "examples"


def capability_rows(study: Study, rows: list[dict], metric: str, rng: np.random.Generator,
                    design: str = "explained") -> list[dict[str, Any]]:
    """Per dose: each sized, unbridged arm's sham contrast (in size order) and the per-decade slope over seeds;
    [] when fewer than two parameter counts are known."""
    condition, stat, reference = sham_contrast(design, study.conditions)
    sized = [a for a in study.arms if study.model_params.get(a) and study.bridged.get(a) is not True]
    if len({study.model_params[a] for a in sized}) < 2:
        return []
    out = []
    for dose in study.doses:
        arms, per_seed = [], {}
        for arm in sized:
            got = find(rows, metric=metric, arm=arm, dose=dose, condition=condition, stat=stat, reference=reference)
            design_ = study.designs.get((metric, arm, dose))
            if not got or design_ is None:
                continue
            arms.append({"arm": arm, "model_params": study.model_params[arm], "estimate": got[0]["estimate"],
                         "ci": [got[0]["ci_low"], got[0]["ci_high"]]})
            per_seed[arm] = dict(zip(design_.seeds, got[0]["per_seed"], strict=True))
        sizes = sorted({a["model_params"] for a in arms})
        if len(sizes) < 2:
            continue
        x = np.log10(sizes)
        seeds = sorted(set.intersection(*(set(v) for v in per_seed.values())))
        slopes = []
        for s in seeds:
            with np.errstate(invalid="ignore"):
                y = np.array([np.nanmean([per_seed[a["arm"]][s] for a in arms if a["model_params"] == size])
                              for size in sizes], dtype=float)
            ok = np.isfinite(y)
            if len(set(x[ok])) >= 2:
                slopes.append(float(np.polyfit(x[ok], y[ok], 1)[0]))
        out.append({"metric": metric, "dose": dose, "design": design, "condition": condition, "stat": stat,
                    "reference": reference, "arms": arms,
                    "left_out": [a for a in study.arms if study.bridged.get(a) is True],
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
        what = ("Δ − Δ(" + c["reference"] + ")") if c["stat"] == "did" else f"against `{c['reference']}`"
        lines.append(f"`{c['metric']}`, dose {c['dose']}: the explanation effect (`{c['condition']}`, {what}) "
                     f"by arm, smallest first: {by_arm}. Per tenfold increase in parameters it changes by "
                     f"{number(s['estimate'])} [{number(s['ci_low'])}, {number(s['ci_high'])}] (p = {p}, "
                     f"{s['n_seeds']} seeds): **{verdict}**.")
    return lines
