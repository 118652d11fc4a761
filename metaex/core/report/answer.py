"""The report's opening section in words: per arm and design, the verdict first, then its numbers, one sentence
each for the primary contrast, the planted control and the null controls (`verdicts.py` computes them)."""

from __future__ import annotations

import math
from typing import Any

from metaex.core.report.analysis import number
from metaex.core.stats import equivalence

WORDS = {
    "explained": ("the explanation effect", "explanations used across documents"),
    "contested": ("the direction-adjusted effect (DAE)", "explanations used across documents"),
}


def _examples(x: float, units: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return f"{'beyond' if x > 0 else 'below'} the ladder"
    return f"{x:+.1f} {units}"


def _interval(c: dict, which: str = "chosen") -> str:
    e = c[which]
    return f"{number(e['estimate'])} [{number(e['ci_low'])}, {number(e['ci_high'])}]"


def _name(c: dict) -> str:
    return f"`{c['condition']}`" + (f" − `{c['reference']}`" if c["reference"] else " (its level)")


def primary_sentence(entry: dict, estimator: str) -> str:
    c, margin = entry["primary"], entry["margin"]
    units = margin["units"]
    used = c.get("estimator", estimator)
    other = "seed" if used == "blocked" else "blocked"
    label = {"blocked": "grammar-blocked", "seed": "seed-level"}
    fallback = ", as the blocked model has no residual df at this shape" if used != estimator else ""
    verdict = c.get("verdict", equivalence.UNDETERMINED)
    mde = c.get("mde", {})
    mde_text = f"smallest detectable effect {number(mde.get('metric', math.nan), signed=False)}" + (
        f" (≈ {_examples(mde.get('examples'), units)})" if mde.get("examples") is not None
        and not math.isnan(mde["examples"]) else "")
    if verdict == equivalence.DETECTED:
        head = f"**detected** ({'positive' if c['chosen']['estimate'] > 0 else 'negative'})"
    elif verdict == equivalence.EXCLUDED:
        head = (f"**not used: excluded above {_examples(c['bound_examples'], units)}** (margin "
                f"{margin['examples']:g} {units})")
    else:
        could_not = (math.isfinite(margin.get("metric") or math.nan) and mde.get("metric", math.nan) > margin["metric"])
        why = ("the design could not have seen an effect of the margin's size" if could_not else
               "no margin in example units: the arm has no dose-response" if not math.isfinite(margin.get("metric")
                                                                                      or math.nan)
               else "neither detected nor excluded at this margin")
        head = f"**undetermined** ({why})"
    return (f"{_first_up(WORDS[entry['design']][0])}, {_name(c)} = {_interval(c)} ({label[used]}{fallback}; "
            f"{label[other]} {_interval(c, other)}), Holm p = {_p(c.get('p_holm'))}, {mde_text}: {head}.")


def control_sentence(entry: dict, c: dict, role: str) -> str:
    margin = entry["margin"]
    verdict = c["verdict"]
    if role == "planted":
        return f"Planted control {_name(c)} = {_interval(c)}: **{verdict}**."
    has_margin = math.isfinite(margin.get("metric") or math.nan)
    bound = f"±{number(margin['metric'], signed=False)} ({margin['examples']:g} {margin['units']})"
    ninety = f"90 % interval [{number(c['tost']['low90'])}, {number(c['tost']['high90'])}]"
    said = {equivalence.EQUIVALENT: f"**equivalent to 0** ({ninety} inside {bound})",
            equivalence.NONZERO: "**not 0: the control failed** (95 % interval excludes 0)",
            equivalence.UNDETERMINED: f"**undetermined** ({ninety} not inside {bound})" if has_margin else
            f"**undetermined** (no margin in example units: the arm has no dose-response; {ninety})"}[verdict]
    return f"Null control {_name(c)} = {_interval(c)}: {said}."


def exposure_sentence(entry: dict) -> str | None:
    """The contested design's exposure curve (exploratory): each told condition's DAE against `examples`, by its
    paraphrases per style, with the explanation documents a grammar's told variant had in the stream."""
    points = ([entry["primary"]] if entry.get("primary") else []) + entry.get("exposure", [])
    if not entry.get("exposure"):
        return None
    docs = entry.get("told_documents") or {}

    def told(c: dict) -> str:
        d = docs.get(c["condition"])
        return "" if not d else f" ({d['paraphrases']} paraphrase(s) per style, {d['documents']:g} documents a grammar)"

    points.sort(key=lambda c: (docs.get(c["condition"]) or {}).get("paraphrases", math.inf))
    return ("Exposure curve (exploratory; each against `examples`): "
            + "; ".join(f"`{c['condition']}`{told(c)} {_interval(c)}" for c in points) + ".")


def in_context_sentence(entry: dict) -> str | None:
    """The arm's in-context DAE (the screen): can it read the contested rule when the explanation is in its
    context? Read beside the out-of-context DAE."""
    got = entry.get("in_context") or {}
    said = [f"{label} {number(got[k]['estimate'])} [{number(got[k]['ci_low'])}, {number(got[k]['ci_high'])}]"
            for k, label in (("base", "base model"), ("examples", "`examples` models")) if k in got]
    if not said:
        return None
    reads = any(math.isfinite(got[k]["ci_low"]) and got[k]["ci_low"] > 0 for k in got)
    return ("In context (the screen: the told variant's explanation before the prompt against the other's, "
            f"`icl_contest_pref`): {'; '.join(said)}: the arm "
            + ("**reads** the contested rule in context." if reads else
               "**cannot be shown to read** the contested rule in context."))


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _p(p: float | None) -> str:
    return "–" if p is None or math.isnan(p) else f"{p:.3g}"


def answer_lines(ans: dict[str, Any]) -> list[str]:
    """One paragraph per arm × design × dose: the primary's sentence, then the controls'."""
    lines = []
    for e in ans["entries"]:
        parts = [f"**`{e['arm']}`**, {e['design']} design, dose {e['dose']}, `{e['metric']}`:"]
        parts += [primary_sentence(e, ans["estimator"])] if e.get("primary") else []
        if e.get("planted"):
            parts.append(control_sentence(e, e["planted"], "planted"))
        parts += [control_sentence(e, n, "null") for n in e["nulls"]]
        parts += [s for s in (exposure_sentence(e), in_context_sentence(e)) if s]
        lines.append(" ".join(parts))
    return lines


def answer_preamble(ans: dict[str, Any]) -> list[str]:
    """What the verdicts mean, the correction and the seed check, in two or three sentences."""
    out = [f"Verdicts read the {'grammar-blocked' if ans['estimator'] == 'blocked' else 'seed-level'} estimator; "
           f"the {ans['holm']} primary contrast(s) are Holm-corrected together (*detected*: adjusted p < 0.05; "
           "*excluded above X*: the 90 % interval lies inside ± the margin, X its upper end in example units; "
           "*undetermined*: neither). Every other metric of this report is exploratory."]
    if ans["pilot_overlap"]:
        out.append(f"**Warning: seeds {', '.join(map(str, ans['pilot_overlap']))} were also pilot seeds** (the config "
                   "names its pilots' seeds): a pilot that chose this design's settings on them biases its verdicts.")
    return out


def answer_table(ans: dict[str, Any]) -> dict[str, list]:
    header = ["arm", "design", "dose", "metric", "primary contrast [95 % CI]", "seed-level [95 % CI]", "MDE",
              "verdict", "planted", "null controls", "in-context DAE"]
    body = []
    for e in ans["entries"]:
        c = e.get("primary")
        if not c:
            continue
        body.append([e["arm"], e["design"], str(e["dose"]), e["metric"], _interval(c, "blocked"), _interval(c, "seed"),
                     number(c.get("mde", {}).get("metric", math.nan), signed=False), c.get("verdict", "–"),
                     e["planted"]["verdict"] if e.get("planted") else "–",
                     "; ".join(f"{n['condition']}: {n['verdict']}" for n in e["nulls"]) or "–", _screen(e)])
    return {"header": header, "rows": body}


def _screen(entry: dict) -> str:
    """The table's in-context DAE: the base model's where the arm has one, else its `examples` models'."""
    got = entry.get("in_context") or {}
    r = got.get("base") or got.get("examples")
    return "–" if r is None else f"{number(r['estimate'])} [{number(r['ci_low'])}, {number(r['ci_high'])}]"
