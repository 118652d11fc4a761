"""The in-context ceiling in the report: per arm, dose and condition, the gain of the true explanation in the prompt
over the control explanation (a sibling's, name swapped), beside the out-of-context explanation effect.

Per seed the gain is the mean over grammars of icl_X − icl_control_X (the same items, two prompts); it is
summarised over seeds like every statistic of the report (mean, t-interval, exact sign-flip p).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from metaex.core.report.analysis import number
from metaex.core.report.load import Study
from metaex.core.stats.bootstrap import seed_summary

BASES = ("novel_valid", "validity", "heldout_lp")


def in_context_rows(study: Study, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for (metric, arm, dose), true in sorted(study.designs.items()):
        base = metric.removeprefix("icl_")
        control = study.designs.get((f"icl_control_{base}", arm, dose))
        if not metric.startswith("icl_") or metric.startswith("icl_control_") or base not in BASES or control is None:
            continue
        if control.seeds != true.seeds or control.conditions != true.conditions:
            continue
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN cells (a grammar without rows)
            t, c = np.nanmean(true.cell_values(), axis=-1), np.nanmean(control.cell_values(), axis=-1)   # (C, S)
        for k, cond in enumerate(true.conditions):
            out.append({"metric": base, "arm": arm, "dose": dose, "condition": cond,
                        "with_explanation": float(np.nanmean(t[k])), "with_control": float(np.nanmean(c[k])),
                        **_gain(seed_summary(t[k] - c[k], rng))})
    return out


def _gain(summary: dict) -> dict:
    return {"gain": summary.pop("estimate"), **summary}


def in_context_table(rows: list[dict]) -> dict[str, list]:
    header = ["arm", "dose", "condition", "metric", "with explanation", "with control", "gain [95 % CI]", "p"]
    body = [[r["arm"], str(r["dose"]), r["condition"], r["metric"], number(r["with_explanation"], signed=False),
             number(r["with_control"], signed=False), f"{number(r['gain'])} [{number(r['ci_low'])}, "
             f"{number(r['ci_high'])}]", "–" if math.isnan(r["p_value"]) else f"{r['p_value']:.3f}"] for r in rows]
    return {"header": header, "rows": body}


def in_context_sentences(rows: list[dict], controls: dict[str, Any] | None, arms: list[str]) -> list[str]:
    """Per arm: can it use an explanation in its context (the `examples` models, which saw no explanation
    document), and does it show an explanation effect across documents (the report's controls)?"""
    lines = []
    effects = (controls or {}).get("explanation_effect", {})
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm and r["condition"] == "examples"]
        if not mine:
            continue
        uses = [r for r in mine if r["ci_low"] > 0]
        listing = "; ".join(f"{r['metric']} dose {r['dose']}: {number(r['gain'])} [{number(r['ci_low'])}, "
                            f"{number(r['ci_high'])}]" for r in mine)
        across = effects.get(arm, {}).get("effect")
        lines.append(f"`{arm}` {'**can**' if uses else '**cannot** be shown to'} use an explanation in context "
                     f"(its `examples` models, true explanation against a sibling's: {listing}); across documents "
                     + ("it shows an explanation effect" if across else "it shows no explanation effect"
                        if across is not None else "no explanation effect was tested") + ".")
    return lines
