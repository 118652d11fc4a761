"""The in-context ceiling in the report: per arm, dose and condition, the gain of the true explanation in the prompt
over the control explanation (its same-alphabet sham: the other variant's, or its terminals permuted), beside the out-of-context explanation effect.

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


BASE = "base model"      # the condition label of a pre-trained arm's base model (no fine-tuning)


def in_context_rows(study: Study, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Per arm, dose and condition (and a pre-trained arm's base model), the in-context gain over seeds."""
    rows = _rows(study.designs, rng)
    base: dict[tuple[str, str], dict] = {}      # the base model is the same at every dose: read once per arm
    for r in _rows(study.base_designs, rng, only="examples"):   # every condition's probe holds the same base
        base.setdefault((r["arm"], r["metric"]), {**r, "condition": BASE, "dose": None})
    return list(base.values()) + rows


def _rows(designs: dict, rng: np.random.Generator, only: str | None = None) -> list[dict[str, Any]]:
    out = []
    for (metric, arm, dose), true in sorted(designs.items()):
        base = metric.removeprefix("icl_")
        control = designs.get((f"icl_control_{base}", arm, dose))
        if not metric.startswith("icl_") or metric.startswith("icl_control_") or base not in BASES or control is None:
            continue
        if control.seeds != true.seeds or control.conditions != true.conditions:
            continue
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN cells (a grammar without rows)
            t, c = np.nanmean(true.cell_values(), axis=-1), np.nanmean(control.cell_values(), axis=-1)   # (C, S)
        for k, cond in enumerate(true.conditions):
            if only is not None and cond != only:
                continue
            out.append({"metric": base, "arm": arm, "dose": dose, "condition": cond,
                        "with_explanation": float(np.nanmean(t[k])), "with_control": float(np.nanmean(c[k])),
                        **_gain(seed_summary(t[k] - c[k], rng))})
    return out


def _gain(summary: dict) -> dict:
    return {"gain": summary.pop("estimate"), **summary}


def in_context_table(rows: list[dict]) -> dict[str, list]:
    header = ["arm", "dose", "condition", "metric", "with explanation", "with control", "gain [95 % CI]", "p"]
    body = [[r["arm"], "–" if r["dose"] is None else str(r["dose"]), r["condition"], r["metric"],
             number(r["with_explanation"], signed=False), number(r["with_control"], signed=False), f"{number(r['gain'])} [{number(r['ci_low'])}, "
             f"{number(r['ci_high'])}]", "–" if math.isnan(r["p_value"]) else f"{r['p_value']:.3f}"] for r in rows]
    return {"header": header, "rows": body}


def in_context_sentences(rows: list[dict], controls: dict[str, Any] | None, arms: list[str]) -> list[str]:
    """Per arm: can it use an explanation in its context (the `examples` models at the design's doses, which saw
    no explanation document, and a pre-trained arm's base), and does it show an explanation effect across
    documents (the report's controls)?"""
    lines = []
    effects = (controls or {}).get("explanation_effect", {})
    for arm in arms:
        # read at the design's doses (where the out-of-context effect is read), not at every ladder dose: one
        # interval of 3 metrics × 6 doses excluding 0 by chance is no evidence
        design = {r["dose"] for r in rows if r["arm"] == arm and r["condition"] not in ("examples", BASE)}
        mine = [r for r in rows if r["arm"] == arm and r["condition"] == "examples"
                and (not design or r["dose"] in design)]
        base = [r for r in rows if r["arm"] == arm and r["condition"] == BASE]
        if not mine and not base:
            continue
        uses = [r for r in mine + base if r["ci_low"] > 0]
        said = [f"its `examples` models, true explanation against its same-alphabet sham: {_listing(mine)}"] if mine else []
        said += [f"its base model before fine-tuning: {_listing(base)}"] if base else []
        across = effects.get(arm, {}).get("effect")
        lines.append(f"`{arm}` {'**can**' if uses else '**cannot** be shown to'} use an explanation in context "
                     f"({'; '.join(said)}); across documents "
                     + ("it shows an explanation effect" if across else "it shows no explanation effect"
                        if across is not None else "no explanation effect was tested") + ".")
    return lines


def _listing(rows: list[dict]) -> str:
    def where(r: dict) -> str:
        return "" if r["dose"] is None else f" dose {r['dose']}"

    return "; ".join(f"{r['metric']}{where(r)}: {number(r['gain'])} [{number(r['ci_low'])}, {number(r['ci_high'])}]"
                     for r in rows)
