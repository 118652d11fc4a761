"""`metaex study power`: the minimal detectable effect (MDE) of each arm's primary contrast, from a finished study's
(or a pilot's) own variance components, and how it moves with seeds, grammars per run and samples per grammar.

Per arm × design × dose (the report's answer entries), the primary contrast's cells give the components
(`stats.power.components`); studies of other shapes are simulated from them (`stats.power.mde_table`, 80 % power,
5 % two-sided), and each MDE is read in the design's example units on the arm's own dose-response where it has
one. `seeds_needed` is the fewest seeds (complementary pairs) at which the blocked MDE falls to the margin (a
quarter of the dose unless the config says otherwise): what a GPU ladder must pay to detect such an effect.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from metaex.core.errors import InputError
from metaex.core.report.analysis import analyse
from metaex.core.report.load import load_study
from metaex.core.report.options import ReportOptions
from metaex.core.report.verdicts import (
    CONTESTED,
    HALVES,
    contrast_cells,
    curve_of,
    design_contrasts,
    designs_of,
    in_examples,
)
from metaex.core.stats.power import components, mde, mde_table, null_draws

MAX_SEEDS = 64


def probe_dirs(folder: Path) -> list[Path]:
    """The finished probe folders of a study (or pilot) folder: every FOLDER/probes/…/ whose config.json, the
    probe's commit, is written."""
    found = sorted(p.parent for p in (Path(folder) / "probes").rglob("config.json")
                   if (p.parent / "items.jsonl").is_file())
    if not found:
        raise InputError("no finished probes under this folder (expected probes/…/config.json): run the study "
                         "or a pilot first", str(folder))
    return found


def study_power(folder: Path, opts: ReportOptions, *, arms: list[str] | None = None, n_sims: int = 2000,
                seed: int = 0) -> list[dict[str, Any]]:
    """One entry per arm × design × dose: its shape, components, margin, the MDE table and the seeds needed."""
    wanted = [opts.primary, opts.contest_primary]
    study = load_study(probe_dirs(folder))
    present = [m for m in wanted if m in study.metrics]
    if not present:
        raise InputError(f"the probes hold neither primary metric ({', '.join(wanted)})", str(folder))
    rows = analyse(study.only(present), n_resamples=50, seed=seed, contrasts=True)
    rng = np.random.default_rng(seed)
    out = []
    for kind in designs_of(study):
        metric = opts.primary if kind == "explained" else opts.contest_primary
        for arm in (a for a in study.arms if arms is None or a in arms):
            for dose in study.doses:
                design = study.designs.get((metric, arm, dose))
                if design is None or not set(design.conditions) & set(HALVES if kind == "explained" else CONTESTED):
                    continue
                primary = next((c for c in design_contrasts(kind, set(design.conditions)) if c.role == "primary"),
                               None)
                if primary is None or primary.condition not in design.conditions \
                        or primary.reference not in design.conditions:
                    continue
                out.append(_entry(study, rows, kind, metric, arm, dose, design, primary, opts, n_sims, rng))
    return out


def _entry(study, rows, kind, metric, arm, dose, design, primary, opts, n_sims, rng) -> dict[str, Any]:
    y, expl, item_var = contrast_cells(design, primary)
    items = int(round(float(np.nanmean(design.counts)))) or 1
    comp = components(y, expl, item_var, items)
    curve = curve_of(study, rows, kind, metric, arm, dose)
    seeds, grammars = y.shape
    shapes = list(dict.fromkeys([(seeds, grammars, items), (2 * seeds, grammars, items), (4 * seeds, grammars, items),
                                 (seeds, 2 * grammars, items), (seeds, grammars, 4 * items),
                                 (2 * seeds, 2 * grammars, 4 * items)]))
    table = mde_table(comp, shapes, n_sims=n_sims, rng=rng)
    for row in table:
        row["mde_examples"] = in_examples(curve, row["mde_blocked"])
    extra = opts.margin if opts.margin is not None else dose / 4
    from metaex.core.stats.exchange import metric_margin

    margin = metric_margin(curve["x"], curve["levels"], curve["at"], extra) if curve else math.nan
    need = {g: _seeds_needed(comp, g, items, margin, n_sims, rng) for g in (grammars, 2 * grammars)}
    return {"arm": arm, "design": kind, "metric": metric, "dose": dose,
            "contrast": f"{primary.condition} − {primary.reference}", "components": comp.__dict__,
            "margin": {"examples": extra, "metric": margin}, "table": table,
            "seeds_needed": {str(g): n for g, n in need.items()}}


def _seeds_needed(comp, grammars: int, items: int, margin: float, n_sims: int, rng) -> int | None:
    """The fewest seeds (even) whose blocked MDE is at most `margin`; None when even MAX_SEEDS is not enough."""
    if not math.isfinite(margin) or margin <= 0:
        return None

    def enough(seeds: int) -> bool:
        draws = null_draws(comp, seeds=seeds, grammars=grammars, items=items, n_sims=max(500, n_sims // 2), rng=rng)
        return mde(draws, "blocked") <= margin

    if not enough(MAX_SEEDS):
        return None
    low, high = 2, MAX_SEEDS // 2            # in pairs: `low` pairs are not enough (or untested), `high` are
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(2 * mid) else (mid, high)
    return 2 * high
