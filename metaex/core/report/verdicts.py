"""The report's answer: per arm and design, the primary contrast's verdict, the planted control's and the nulls'.

A design is a set of conditions the report recognises and reads with one primary metric (`ReportOptions`):
- `explained` (halves: a seed explains half its grammars): primary `explained` Δ − Δ(`mismatched`) (the explanation
  beyond its words; against `examples` where there is no `mismatched`), planted control `worked` against `filler`
  (or `examples`), null controls `filler` and `mismatched` against `examples`; its dose-response is the `examples`
  ladder over doses (the margin and the MDE read in extra example strings per grammar);
- `contested` (every grammar told one of two variants of one rule): primary `told` against `examples` on the
  direction-adjusted metric (every grammar, `change`), planted control `told-worked` against `examples`, null
  control `examples` itself (the direction-adjusted effect against would-be-told labels, whose expectation is 0);
  its dose-response is the ladder of contested strings added to `examples` (`contested-N`, N from 0); its exposure
  curve (exploratory) is each `told-pK` against `examples` beside `told`, and its in-context DAE (the screen) is
  `icl_contest_pref` of the `examples` models and of a pre-trained arm's base model.
Each contrast is estimated by both estimators (seed-level bootstrap, `effects.py`; grammar-blocked, `blocked.py`);
the verdicts read the one `ReportOptions.estimator` names. Equivalence margins are in the design's own example
units, converted to the metric through the arm's dose-response at the design's dose (`exchange.metric_margin`);
an arm without one has no margin in example units and its verdicts cannot be *excluded* / *equivalent*. The MDE
is the blocked estimator's at 80 % power from the study's own variance components (`power.py`). The primary
verdicts are Holm-corrected across every arm, design and dose of the report.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaex.core.conditions import exposure_k, ladder_n, order
from metaex.core.report.load import Study
from metaex.core.report.options import ReportOptions
from metaex.core.stats import equivalence
from metaex.core.stats.blocked import blocked_fit
from metaex.core.stats.bootstrap import seed_summary
from metaex.core.stats.effects import Design
from metaex.core.stats.exchange import equivalent_dose, fit_curve, metric_margin, scale_of
from metaex.core.stats.noise import cell_sampling_var
from metaex.core.stats.power import components, mde, null_draws


@dataclass(frozen=True)
class Contrast:
    role: str                 # primary | planted | null | exposure
    condition: str
    reference: str | None     # None: the condition's own level (a contested `examples` null)
    stat: str                 # did | change | level


def design_contrasts(kind: str, conditions: set[str]) -> list[Contrast]:
    """The contrasts one design reads, given the conditions the study has."""
    if kind == "contested":
        out = [Contrast("primary", "told", "examples", "change")]
        if "told-worked" in conditions:
            out.append(Contrast("planted", "told-worked", "examples", "change"))
        out += [Contrast("exposure", c, "examples", "change") for c in order(conditions) if exposure_k(c)]
        return out + [Contrast("null", "examples", None, "level")]
    sham = "mismatched" if "mismatched" in conditions else "examples"
    out = [Contrast("primary", "explained", sham, "did")]
    if "worked" in conditions:
        out.append(Contrast("planted", "worked", "filler" if "filler" in conditions else "examples", "did"))
    return out + [Contrast("null", c, "examples", "did") for c in ("filler", "mismatched") if c in conditions]


HALVES = ("explained", "mismatched", "filler", "worked")
CONTESTED = ("told", "told-worked")
IN_CONTEXT = "icl_contest_pref"     # the contested design's in-context DAE: the screen of `metaex screen`, per arm


def designs_of(study: Study) -> list[str]:
    """The designs a study's conditions hold: `explained` (any halves condition), `contested` (a told condition)."""
    conds = set(study.conditions)
    return [k for k, need in (("explained", HALVES), ("contested", CONTESTED)) if conds & set(need)]


def answer(study: Study, rows: list[dict], opts: ReportOptions, rng: np.random.Generator) -> dict[str, Any]:
    """{"entries": one per arm × design × dose with its contrasts and verdicts, "holm": …, "pilot_overlap": …}."""
    entries = []
    for kind in designs_of(study):
        metric = opts.primary if kind == "explained" else opts.contest_primary
        for arm in study.arms:
            for dose in study.doses:
                design = study.designs.get((metric, arm, dose))
                if design is None or not any(c in HALVES if kind == "explained" else c in CONTESTED or exposure_k(c)
                                             for c in design.conditions):
                    continue
                entries.append(_entry(study, rows, kind, metric, arm, dose, design, opts, rng))
    primaries = [e["primary"] for e in entries if e.get("primary")]
    for c, p_adj in zip(primaries, equivalence.holm([c["chosen"]["p_value"] for c in primaries]), strict=True):
        c["p_holm"] = p_adj
        c["verdict"] = equivalence.primary_verdict(p_adj, _tost_of(c))
    seeds = sorted({s for d in study.designs.values() for s in d.seeds})
    overlap = sorted(set(seeds) & set(opts.pilot_seeds))
    return {"entries": entries, "estimator": opts.estimator, "holm": len(primaries),
            "pilot_seeds": list(opts.pilot_seeds), "pilot_overlap": overlap}


def _tost_of(c: dict) -> equivalence.Tost:
    t = c["tost"]
    return equivalence.Tost(t["low90"], t["high90"], t["p_value"], t["equivalent"])


def _entry(study: Study, rows: list[dict], kind: str, metric: str, arm: str, dose: int, design: Design,
           opts: ReportOptions, rng: np.random.Generator) -> dict[str, Any]:
    curve = curve_of(study, rows, kind, metric, arm, dose)
    extra = opts.margin if opts.margin is not None else dose / 4
    delta = metric_margin(curve["x"], curve["levels"], curve["at"], extra) if curve else math.nan
    entry: dict[str, Any] = {"arm": arm, "design": kind, "metric": metric, "dose": dose,
                             "margin": {"examples": extra, "metric": delta,
                                        "units": "contested strings per grammar" if kind == "contested"
                                        else "example strings per grammar",
                                        "default": opts.margin is None},
                             "curve": curve, "nulls": []}
    if kind == "contested":
        entry["in_context"] = in_context_dae(study, rows, arm, dose, rng)
        entry["told_documents"] = {c: study.told_documents.get((arm, c, dose)) for c in design.conditions
                                   if (arm, c, dose) in study.told_documents}
    if curve:
        entry["curve"] = {"x": curve["x"].tolist(), "levels": curve["levels"].tolist(), "at": curve["at"]}
    for con in design_contrasts(kind, set(design.conditions)):
        if con.condition not in design.conditions or (con.reference and con.reference not in design.conditions):
            continue
        got = _contrast(rows, design, metric, arm, dose, con, opts, delta, curve, rng)
        if con.role in ("null", "exposure"):
            entry.setdefault("exposure" if con.role == "exposure" else "nulls", []).append(got)
        else:
            entry[con.role] = got
    return entry


def curve_margins(study: Study, rows: list[dict], opts: ReportOptions) -> dict[tuple[str, str, int], float]:
    """(metric, arm, dose) -> the margin in the metric's units on the arm's `examples` dose-response (halves
    design), for every metric analysed: what the controls' equivalence tests of every metric use."""
    out = {}
    for metric, arm, dose in study.designs:
        curve = curve_of(study, rows, "explained", metric, arm, dose)
        extra = opts.margin if opts.margin is not None else dose / 4
        out[(metric, arm, dose)] = metric_margin(curve["x"], curve["levels"], dose, extra) if curve else math.nan
    return out


def curve_of(study: Study, rows: list[dict], kind: str, metric: str, arm: str, dose: int) -> dict | None:
    """The arm's dose-response on `metric` (per-dose means of `level`), and where the design sits on it."""
    from metaex.core.report.analysis import find

    if kind == "explained":
        got = {d: find(rows, metric=metric, arm=arm, dose=d, condition="examples", stat="level") for d in study.doses}
        points = {d: r[0]["estimate"] for d, r in got.items() if r}
        at = dose
    else:
        points = {}
        for r in find(rows, metric=metric, arm=arm, dose=dose, stat="level"):
            n = 0 if r["condition"] == "examples" else ladder_n(r["condition"])
            if n is not None:
                points[n] = r["estimate"]
        at = 0
    if len(points) < 3 or at not in points:
        return None
    x = sorted(points)
    return {"x": np.array(x, dtype=float), "levels": np.array([points[d] for d in x]), "at": at}


def _contrast(rows: list[dict], design: Design, metric: str, arm: str, dose: int, con: Contrast,
              opts: ReportOptions, delta: float, curve: dict | None, rng: np.random.Generator) -> dict[str, Any]:
    from metaex.core.report.analysis import find

    seed_row = find(rows, metric=metric, arm=arm, dose=dose, condition=con.condition, stat=con.stat,
                    reference=con.reference)
    seed = {k: seed_row[0][k] for k in ("estimate", "ci_low", "ci_high", "se", "p_value", "n_seeds")} if seed_row \
        else {k: math.nan for k in ("estimate", "ci_low", "ci_high", "se", "p_value", "n_seeds")}
    if seed_row:
        seed["df"] = seed["n_seeds"] - 1
        seed["p_value"] = _t_p(seed["estimate"], seed["se"], seed["df"])
    y, expl, item_var = contrast_cells(design, con)
    fit = blocked_fit(y, expl)
    blocked = {"estimate": float(fit.estimate), "se": float(fit.se), "df": float(fit.df),
               "ci_low": float(fit.ci_low), "ci_high": float(fit.ci_high), "p_value": float(fit.p_value)}
    # the blocked model needs residual df (at 2 seeds a halves design has none): then the seed level, said so
    used = opts.estimator if opts.estimator == "seed" or (math.isfinite(fit.se) and fit.df >= 1) else "seed"
    chosen = blocked if used == "blocked" else seed
    tost = equivalence.tost(chosen["estimate"], chosen["se"], chosen["df"], delta)
    out: dict[str, Any] = {"condition": con.condition, "reference": con.reference, "stat": con.stat,
                           "seed": seed, "blocked": blocked, "chosen": chosen, "estimator": used,
                           "tost": {"low90": tost.low90, "high90": tost.high90, "p_value": tost.p_value,
                                    "equivalent": tost.equivalent},
                           "bound_examples": in_examples(curve, tost.high90), "estimate_examples":
                           in_examples(curve, chosen["estimate"])}
    if con.role == "primary":
        comp = components(y, expl, item_var, int(np.nanmean(design.counts)) or 1)
        draws = null_draws(comp, seeds=y.shape[0], grammars=y.shape[1], items=comp.items, n_sims=opts.power_sims,
                           rng=rng)
        m = mde(draws, used)
        out["mde"] = {"metric": m, "examples": in_examples(curve, m), "seed_level": mde(draws, "seed"),
                      "components": comp.__dict__}
    elif con.role in ("planted", "exposure"):
        out["verdict"] = equivalence.planted_verdict(chosen["ci_low"])
    else:
        out["verdict"] = equivalence.null_verdict(chosen["ci_low"], chosen["ci_high"], tost)
    return out


def in_context_dae(study: Study, rows: list[dict], arm: str, dose: int, rng: np.random.Generator) -> dict[str, dict]:
    """The arm's in-context DAE (`IN_CONTEXT`: the told variant's explanation before the prompt against the other
    variant's) over seeds: {"examples": its `examples` models at `dose`, "base": a pre-trained arm's base model};
    each {estimate, ci_low, ci_high, p_value, n_seeds}; a reading the study has not is left out."""
    from metaex.core.report.analysis import find

    out: dict[str, dict] = {}
    got = find(rows, metric=IN_CONTEXT, arm=arm, dose=dose, condition="examples", stat="level")
    if got:
        out["examples"] = {k: got[0][k] for k in ("estimate", "ci_low", "ci_high", "p_value", "n_seeds")}
    base = study.base_designs.get((IN_CONTEXT, arm, dose))
    if base is not None and "examples" in base.conditions:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # a seed without rows: NaN, dropped
            per_seed = np.nanmean(base.cell_values()[base.conditions.index("examples")], axis=-1)
        out["base"] = seed_summary(per_seed, rng)
    return out


def _t_p(estimate: float, se: float, df: float) -> float:
    from scipy import stats

    if not (math.isfinite(estimate) and math.isfinite(se) and df >= 1):
        return math.nan
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * stats.t.sf(abs(estimate / se), df))


def contrast_cells(design: Design, con: Contrast) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y (S, G), labels (S, G), item noise s²/n (S, G)) of one contrast's cells."""
    values = design.cell_values()
    var, _ = cell_sampling_var(design)
    c = design.conditions.index(con.condition)
    if con.reference is None:
        y, v = values[c], var[c]
    else:
        r = design.conditions.index(con.reference)
        y, v = values[c] - values[r], var[c] + var[r]
    expl = design.explained if con.stat == "did" else np.ones_like(design.explained, dtype=bool)
    return y, expl, v


def in_examples(curve: dict | None, effect: float) -> float:
    """An effect in the metric's units as extra examples on the arm's curve at its dose (NaN: no curve)."""
    if curve is None or not math.isfinite(effect):
        return math.nan
    x, fitted = curve["x"], fit_curve(curve["x"], curve["levels"])
    from metaex.core.stats.exchange import curve_at

    scale = scale_of(x)
    here = curve_at(x, fitted, curve["at"], scale)
    d_star, censored = equivalent_dose(x, fitted, here + effect, at=curve["at"], scale=scale)
    return (d_star - curve["at"]) if censored is None else (math.inf if censored == "above" else -math.inf)
