"""Numbers of the report: every statistic per metric × arm × dose × condition, and the controls verdicts."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

from metaex.core.probe.metrics import FIT, HEADLINE
from metaex.core.report.load import Study
from metaex.core.stats import bootstrap_effects

__all__ = ["FIT", "HEADLINE", "METHOD", "analyse", "control_sentences", "controls", "find", "number",
           "reference_of"]
METHOD = ("mean over seeds of per-seed statistics; 95 % CI = estimate ± t(n_seeds − 1) × cluster-bootstrap SE "
          "(seeds resampled with replacement, SE × sqrt(n/(n − 1))); p = exact sign-flip permutation test over "
          "seeds (scipy.stats.permutation_test)")


def analyse(study: Study, *, n_resamples: int, seed: int, contrasts: bool,
            resample_items: bool = False) -> list[dict[str, Any]]:
    """One row per metric × arm × dose × condition × statistic (× reference for contrasts).

    resample_items: also resample items inside every drawn seed (conservative; metaex.core.stats.bootstrap).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for (metric, arm, dose), design in study.designs.items():
        refs: tuple[str, ...] = ()
        if contrasts:
            refs = tuple(r for r in ("examples", "filler", "mismatched") if r in design.conditions)
        for e in bootstrap_effects(design, refs, n_resamples=n_resamples, rng=rng, within=resample_items):
            rows.append({"metric": metric, "arm": arm, "variant": study.variants[arm], "dose": dose,
                         "model_params": study.model_params.get(arm), "condition": e.condition, "stat": e.stat,
                         "reference": e.reference, "estimate": e.estimate, "ci_low": e.ci_low,
                         "ci_high": e.ci_high, "se": e.se, "n_seeds": e.n_seeds, "p_value": e.p_value,
                         "excludes_zero": e.excludes_zero, "per_seed": list(e.per_seed)})
    return rows


def find(rows: list[dict], **match: Any) -> list[dict]:
    """Rows whose fields equal every given value."""
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def reference_of(condition: str, conditions: Collection[str]) -> str:
    """The reference a condition's control verdict is judged against: `worked` against `filler` where the study
    has it, every other condition against `examples`."""
    return "filler" if condition == "worked" and "filler" in conditions else "examples"


def controls(rows: list[dict], metric: str, bridged: dict[str, bool | None] | None = None,
             margins: dict[tuple[str, str, int], float] | None = None) -> dict[str, Any]:
    """Mechanical verdicts on one metric, statistic Δ − Δ(reference) ("did"), every arm × dose, seed-level
    intervals (the answer section reads the primary metric with both estimators; this reads any metric).

    worked: detected when the CI lies above 0, judged against `filler` where the study has it (STUDY.md: a
    condition that adds documents is compared with one that adds documents without the information; extra
    documents of any kind also move a memorising tiny model, and that cancels), else against `examples`; the
    comparison with `examples` is kept beside it. filler and mismatched: *equivalent* to 0 when their 90 %
    interval against `examples` lies inside ± the margin (`margins`: (metric, arm, dose) -> the margin in the
    metric's units, from the arm's dose-response), *nonzero* when the 95 % interval excludes 0, else
    *undetermined* — an interval that merely covers 0 passes nothing. Explanation effect per arm (condition
    `explained`): present at a dose when the CI lies above 0 against `examples` and, where the study has it,
    against `mismatched` (the same tokens bound to the wrong names: what is left is the binding, not the words).
    """
    from metaex.core.stats import equivalence

    def cells(condition: str, reference: str = "examples") -> list[dict]:
        out = []
        for r in find(rows, metric=metric, stat="did", reference=reference, condition=condition):
            margin = (margins or {}).get((metric, r["arm"], r["dose"]), math.nan)
            tost = equivalence.tost(r["estimate"], r["se"], r["n_seeds"] - 1, margin)
            out.append({"arm": r["arm"], "dose": r["dose"], "estimate": r["estimate"],
                        "ci": [r["ci_low"], r["ci_high"]], "ci90": [tost.low90, tost.high90], "margin": margin,
                        "above_zero": r["ci_low"] > 0,
                        "null_verdict": equivalence.null_verdict(r["ci_low"], r["ci_high"], tost),
                        "equivalent": tost.equivalent})
        return out

    def judged(got: list[dict], verdict: str) -> dict[str, Any]:
        return {"cells": got, "all": bool(got) and all(c[verdict] for c in got)}

    out: dict[str, Any] = {"metric": metric, "stat": "did", "reference": "examples"}
    present = {c for r in rows if r["metric"] == metric for c in (r["condition"], r.get("reference"))}
    for cond, verdict in (("worked", "above_zero"), ("filler", "equivalent"), ("mismatched", "equivalent")):
        ref = reference_of(cond, present)
        got = cells(cond, ref)
        out[cond] = {**judged(got, verdict), "present": bool(got), "verdict": verdict, "reference": ref}
        if ref != "examples":
            out[cond]["versus_examples"] = judged(cells(cond), verdict)
    versus_examples = cells("explained")
    versus_mismatched = {(c["arm"], c["dose"]): c for c in cells("explained", "mismatched")}
    by_arm: dict[str, list[int]] = {}
    for c in versus_examples:
        by_arm.setdefault(c["arm"], [])
        binding = versus_mismatched.get((c["arm"], c["dose"]))
        if c["above_zero"] and (binding is None or binding["above_zero"]):
            by_arm[c["arm"]].append(c["dose"])
    out["explanation_effect"] = {
        arm: {"doses_with_effect": doses, "effect": bool(doses),
              "versus_examples": [c for c in versus_examples if c["arm"] == arm],
              "versus_mismatched": [c for c in versus_mismatched.values() if c["arm"] == arm]}
        for arm, doses in by_arm.items()}
    # which arms were pre-trained on a bridging corpus: from the probes' model lineage, never from arm names
    yes = [a for a in by_arm if (bridged or {}).get(a) is True]
    no = [a for a in by_arm if (bridged or {}).get(a) is False]
    if yes and no:
        out["bridged_only"] = (any(by_arm[a] for a in yes) and not any(by_arm[a] for a in no))
    return out


def control_sentences(ctl: dict[str, Any]) -> list[str]:
    """The controls as plain sentences, numbers included, whatever they say."""
    def listing(cells: list[dict]) -> str:
        return "; ".join(f"{c['arm']} dose {c['dose']}: {number(c['estimate'])} [{number(c['ci'][0])}, {number(c['ci'][1])}]"
                         for c in cells)

    def nulls(cells: list[dict]) -> str:
        return "; ".join(f"{c['arm']} dose {c['dose']}: {number(c['estimate'])} [{number(c['ci'][0])}, "
                         f"{number(c['ci'][1])}], 90 % [{number(c['ci90'][0])}, {number(c['ci90'][1])}] against "
                         f"±{number(c['margin'], signed=False)}: **{c['null_verdict']}**" for c in cells)

    lines = []
    for cond, wish in (("worked", "detected (Δ > 0, CI excluding 0)"),
                       ("filler", "equivalent to 0 within the margin (TOST, 90 % interval inside ± margin)"),
                       ("mismatched", "equivalent to 0 within the margin (TOST, 90 % interval inside ± margin)")):
        c = ctl[cond]
        if not c["present"]:
            lines.append(f"`{cond}`: not in this study.")
            continue
        ref = c.get("reference", "examples")
        verdict = "yes" if c["all"] else "no"
        shown = listing(c["cells"]) if cond == "worked" else nulls(c["cells"])
        lines.append(f"`{cond}` {wish} against `{ref}` in every arm × dose: **{verdict}** — {shown}.")
        if "versus_examples" in c:
            v = c["versus_examples"]
            lines.append(f"`{cond}` against `examples` (extra documents of any kind move the unexplained grammars "
                         f"too): {'yes' if v['all'] else 'no'} — {listing(v['cells'])}.")
    for arm, eff in ctl["explanation_effect"].items():
        doses = ", ".join(map(str, eff["doses_with_effect"])) or "none"
        against = "`examples` and `mismatched`" if eff.get("versus_mismatched") else "`examples`"
        lines.append(f"`explained` shows an explanation effect (CI above 0 against {against}) in arm `{arm}` at "
                     f"doses: {doses} — against `examples`: {listing(eff.get('versus_examples', []))}"
                     + (f"; against `mismatched`: {listing(eff['versus_mismatched'])}"
                        if eff.get("versus_mismatched") else "") + ".")
    if "bridged_only" in ctl:
        lines.append("The bridged arm shows an explanation effect that the unbridged arm does not: "
                     f"**{'yes' if ctl['bridged_only'] else 'no'}**.")
    return lines


def number(x: float | None, signed: bool = True) -> str:
    """Three decimals ('+' shown for signed quantities); '–' for missing or NaN."""
    if x is None or math.isnan(x):
        return "–"
    return f"{x:+.3f}" if signed else f"{x:.3f}"
