"""The report's figures (matplotlib, Agg backend, imported inside the functions): one PNG each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from metaex.core.report.analysis import find
from metaex.core.report.load import LossCurve

CI_LABEL = "error bars: 95 % cluster-bootstrap CI (seeds)"
DID = "Δ − Δ(examples)"


def unit(metric: str) -> str:
    """The metric's unit from the registry (`metaex.core.probe.metrics.METRICS`)."""
    from metaex.core.probe.metrics import METRICS

    return METRICS[metric].unit if metric in METRICS else "metric value"


def _grid(n_rows: int, n_cols: int, title: str, width: float = 4.2, height: float = 3.4, sharey: bool = True
          ) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols + 1, height * n_rows + 0.8), squeeze=False,
                             sharey=sharey)
    fig.suptitle(title)
    return fig, axes


def _save(fig: Any, path: Path, *, ci: bool = True) -> None:
    import matplotlib.pyplot as plt

    if ci:
        fig.text(0.01, 0.005, CI_LABEL, fontsize=8, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax: Any, xs: list[float], rows: list[dict], label: str, **style: Any) -> None:
    """Points with asymmetric CI error bars, skipping missing rows."""
    pts = [(x, r) for x, r in zip(xs, rows, strict=True) if r is not None]
    if not pts:
        return
    est = [r["estimate"] for _, r in pts]
    err = [[r["estimate"] - r["ci_low"] for _, r in pts], [r["ci_high"] - r["estimate"] for _, r in pts]]
    ax.errorbar([x for x, _ in pts], est, yerr=err, label=label, capsize=3, marker="o", **style)


def _one(rows: list[dict], **match: Any) -> dict | None:
    got = find(rows, **match)
    return got[0] if got else None


def levels_figure(rows: list[dict], metric: str, arms: list[str], doses: list[int], conditions: list[str],
                  path: Path) -> None:
    """Metric per condition, explained and unexplained grammars side by side; rows = doses, columns = arms."""
    fig, axes = _grid(len(doses), len(arms), f"{metric} per condition: explained vs unexplained grammars")
    for i, dose in enumerate(doses):
        for j, arm in enumerate(arms):
            ax = axes[i][j]
            for offset, (stat, label) in ((-0.12, ("level_explained", "explained grammars")),
                                          (0.12, ("level_unexplained", "unexplained grammars"))):
                picked = [_one(rows, metric=metric, arm=arm, dose=dose, condition=c, stat=stat) for c in conditions]
                _bars(ax, [k + offset for k in range(len(conditions))], picked, label, linestyle="none")
            ax.set_xticks(range(len(conditions)), conditions, rotation=30, ha="right")
            ax.set_title(f"{arm}, dose {dose} examples/grammar", fontsize=9)
            ax.set_xlabel("condition")
            ax.set_ylabel(f"{metric} ({unit(metric)})")
            ax.grid(axis="y", alpha=0.3)
    _legend(axes[0][-1], fontsize=8)
    _save(fig, path)


def _did_series(ax: Any, rows: list[dict], metric: str, conditions: list[str], points: list[dict],
                xs: Callable[[int], list[float]]) -> None:
    """One Δ − Δ(examples) series per condition at `points` (arm, dose), the k-th series at xs(k); a 0 line."""
    for k, cond in enumerate(c for c in conditions if c != "examples"):
        picked = [_one(rows, metric=metric, condition=cond, stat="did", reference="examples", **pt) for pt in points]
        _bars(ax, xs(k), picked, cond)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_ylabel(f"{DID} ({unit(metric)})")
    ax.grid(alpha=0.3)


def did_vs_dose_figure(rows: list[dict], metric: str, arms: list[str], doses: list[int], conditions: list[str],
                       path: Path) -> None:
    """Δ − Δ(examples) against dose (log scale), one line per condition, one panel per arm."""
    fig, axes = _grid(1, len(arms), f"Explanation effect on {metric} vs dose")
    for j, arm in enumerate(arms):
        ax = axes[0][j]
        _did_series(ax, rows, metric, conditions, [{"arm": arm, "dose": d} for d in doses],
                    lambda k: [d * 1.04 ** (k - 1) for d in doses])
        ax.set_xscale("log", base=2)
        ax.set_xticks(doses, [str(d) for d in doses])
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("dose (training examples per grammar, log scale)")
    _legend(axes[0][-1], fontsize=8, title="condition")
    _save(fig, path)


def did_by_arm_figure(rows: list[dict], metric: str, arms: list[str], doses: list[int], conditions: list[str],
                      model_params: dict[str, float | None], path: Path) -> None:
    """Δ − Δ(examples) per arm (or against model size when every arm has a parameter count); a panel per dose."""
    sized = all(model_params.get(a) for a in arms) and len(arms) > 1
    order = sorted(arms, key=lambda a: model_params[a]) if sized else arms
    xs = [float(model_params[a]) for a in order] if sized else list(range(len(order)))
    fig, axes = _grid(1, len(doses), f"Explanation effect on {metric} by {'model size' if sized else 'arm'}")
    for j, dose in enumerate(doses):
        ax = axes[0][j]
        _did_series(ax, rows, metric, conditions, [{"arm": a, "dose": dose} for a in order],
                    lambda k: [x * 1.05 ** (k - 1) if sized else x + 0.08 * (k - 1) for x in xs])
        if sized:
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xlabel("model size (parameters, log scale)")
        else:
            ax.set_xlabel("arm (model)")
        names = [f"{a}\n{size_label(model_params[a])}" if sized else a for a in order]
        ax.set_xticks(xs, names, rotation=20, ha="right", fontsize=8)
        ax.set_title(f"dose {dose} examples/grammar", fontsize=9)
    _legend(axes[0][-1], fontsize=8, title="condition")
    _save(fig, path)


def size_label(n: float | None) -> str:
    """A parameter count for people: 494M, 1.5B."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n and n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.0f}" if n else "?"


def loss_figure(curves: list[LossCurve], arms: list[str], conditions: list[str], path: Path) -> None:
    """Training loss against step for every run, coloured by condition; one panel per arm."""
    import matplotlib

    matplotlib.use("Agg")
    colours = matplotlib.colormaps["tab10"]
    fig, axes = _grid(1, len(arms), "Training loss curves (one line per run)")
    for j, arm in enumerate(arms):
        ax = axes[0][j]
        seen = set()
        for curve in (c for c in curves if c.arm == arm):
            k = conditions.index(curve.condition) if curve.condition in conditions else len(conditions)
            label = None if curve.condition in seen else curve.condition
            seen.add(curve.condition)
            ax.plot(curve.steps, curve.loss, color=colours(k % 10), alpha=0.6, lw=1, label=label)
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (nats per token)")
        ax.grid(alpha=0.3)
        if seen:
            _legend(ax, fontsize=8, title="condition")
    _save(fig, path, ci=False)


def exchange_figure(rows: list[dict], rates: list[dict], metric: str, arms: list[str], conditions: list[str],
                    path: Path) -> None:
    """Per arm: the `examples` dose-response on the explained half's grammars (levels with CIs, the isotonic fit)
    and each condition placed at its equivalent dose (horizontal bars: the CI of its extra examples; "dN": its own
    dose N, joined to it by a dotted line; a triangle: censored at the ladder's end)."""
    import matplotlib
    import numpy as np

    from metaex.core.stats.exchange import curve_at, fit_curve

    colours = matplotlib.colormaps["tab10"]
    rates = [r for r in rates if r["half"] == "explained" and " − " not in r["condition"]]   # not sham contrasts
    shown = [a for a in arms if any(r["arm"] == a and r["metric"] == metric for r in rates)]
    fig, axes = _grid(1, len(shown), f"{metric}: each condition at its equivalent `examples` dose", width=5.2)
    for j, arm in enumerate(shown):
        ax = axes[0][j]
        mine = [r for r in rates if r["arm"] == arm and r["metric"] == metric]
        ladder = [_one(rows, metric=metric, arm=arm, dose=d, condition="examples", stat="level_explained")
                  for d in mine[0]["ladder"]]
        doses = np.array(mine[0]["ladder"], dtype=float)
        fitted = fit_curve(doses, np.array([r["estimate"] for r in ladder], dtype=float))
        _bars(ax, list(doses), ladder, "`examples` (ladder), explained half", color="black", linestyle="none")
        ax.plot(doses, fitted, color="black", lw=1, alpha=0.6, label="isotonic fit")
        labelled = set()
        for r in mine:
            k = conditions.index(r["condition"]) if r["condition"] in conditions else 9
            label = None if r["condition"] in labelled else r["condition"]
            labelled.add(r["condition"])
            y = curve_at(doses, fitted, r["equivalent_dose"])
            low = max(r["dose"] + r["ci_low"], doses[0] / 2)
            high = max(r["dose"] + r["ci_high"], low)
            marker = {"above": ">", "below": "<"}.get(r["censored"], "o")
            ax.plot([r["dose"], r["equivalent_dose"]], [curve_at(doses, fitted, r["dose"]), y], ":",
                    color=colours(k % 10), lw=1)
            ax.errorbar([r["equivalent_dose"]], [y], xerr=[[r["equivalent_dose"] - low],
                                                           [max(high - r["equivalent_dose"], 0)]],
                        marker=marker, color=colours(k % 10), capsize=3, linestyle="none", label=label)
            ax.annotate(f"d{r['dose']}", (r["equivalent_dose"], y), textcoords="offset points", xytext=(4, 4),
                        fontsize=6, color=colours(k % 10))
        ax.set_xscale("log", base=2)
        ax.set_xticks(doses, [f"{d:g}" for d in doses])
        ax.minorticks_off()
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("examples per grammar (log scale)")
        ax.set_ylabel(f"{metric} ({unit(metric)})")
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7)
    _save(fig, path)


ANSWER_READINGS = (("primary", "", "black"), ("planted", "plant ", "tab:green"))


def answer_figure(answer: dict, path: Path) -> None:
    """The report's answer as a forest plot, one panel per design: per arm, the primary contrast and the planted
    control (the estimator the verdicts read, 95 % intervals) and each in-context DAE, with the equivalence margin
    shaded and the smallest detectable effect dotted."""
    import math

    entries = answer["entries"]
    designs = list(dict.fromkeys(e["design"] for e in entries))
    rows_of = {d: [(e, _answer_readings(e)) for e in entries if e["design"] == d] for d in designs}
    tallest = max(sum(len(r) for _, r in rows) for rows in rows_of.values())
    fig, axes = _grid(1, len(designs), "The answer: each arm's contrasts (0 = no effect)", width=5.6,
                      height=0.6 + 0.32 * tallest, sharey=False)
    for j, design in enumerate(designs):
        ax, y, ticks = axes[0][j], 0.0, []
        for e, readings in rows_of[design]:
            top, y_end = y, y - len(readings) + 1
            margin, mde = (e.get("margin") or {}).get("metric"), (e.get("primary") or {}).get("mde", {}).get("metric")
            if margin is not None and math.isfinite(margin):
                ax.fill_betweenx([y_end - 0.4, top + 0.4], -margin, margin, color="0.88", lw=0,
                                 label="equivalence margin" if not ticks else None)
            if mde is not None and math.isfinite(mde):
                ax.plot([mde, mde], [top - 0.4, top + 0.4], ":", color="tab:red", lw=1.2,
                        label="smallest detectable effect" if not ticks else None)
            for r, label, colour in readings:
                ax.errorbar([r["estimate"]], [y], xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                            marker="o", color=colour, capsize=3, linestyle="none", ms=4)
                ticks.append((y, label if label.startswith(" ") else f"{e['arm']}: {label}"))
                y -= 1
            ax.axhline(y + 0.5, color="0.7", lw=0.5)
            y -= 0.5
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=7)
        metric = rows_of[design][0][0]["metric"]
        ax.set_title(f"{design} design: {metric}", fontsize=9)
        ax.set_xlabel(unit(metric), fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        _legend(ax, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    fig.text(0.01, 0.005, "error bars: 95 % intervals of the estimator the verdicts read", fontsize=8, color="0.35")
    _save(fig, path, ci=False)


def _answer_readings(entry: dict) -> list[tuple[dict, str, str]]:
    """(interval, label, colour) of an answer entry's rows: the primary contrast, the plant, each in-context DAE."""
    out = []
    for key, prefix, colour in ANSWER_READINGS:
        c = entry.get(key)
        if c:
            name = c["condition"] + (f" − {c['reference']}" if c.get("reference") else "")
            out.append((c["chosen"], ("  " if prefix else "") + prefix + name, colour))
    for kind, r in (entry.get("in_context") or {}).items():
        if r and r.get("estimate") is not None:
            out.append((r, f"  in context, {'base model' if kind == 'base' else kind + ' models'}", "tab:blue"))
    return out


def _legend(ax: Any, **kwargs: Any) -> None:
    """A legend where the axes has labelled artists (a one-dose study's panel may have none)."""
    if ax.get_legend_handles_labels()[1]:
        ax.legend(**kwargs)
