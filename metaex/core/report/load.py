"""Read probe dirs into dense per-metric designs, and the training-loss curves of the runs they name.

A probe dir holds `config.json`, `items.jsonl` (probe_item) and `summary.jsonl` (probe_summary). Items are
the unit of the statistics: each metric's cell value is its items aggregated as the registry says
(`metaex.core.probe.metrics.METRICS`: a mean, a balanced accuracy or an AUROC over the cell's items, with their
class labels), exactly as the probe's summary row was; a `summary` metric (distinct, length_tv) enters as its one
summary value per cell. Every check happens here, before the report writes anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metaex.core import records
from metaex.core.conditions import order as order_conditions  # the design order, the contested ladder by N
from metaex.core.errors import InputError
from metaex.core.probe.metrics import metric as metric_entry
from metaex.core.stats import Design

FIELDS = ("condition", "dose", "seed", "arm")


@dataclass
class LossCurve:
    """Training loss of one run folder."""

    run: str
    arm: str
    condition: str
    dose: int
    seed: int
    steps: list[int]
    loss: list[float]


@dataclass
class Study:
    """Everything the report needs from its probe dirs."""

    designs: dict[tuple[str, str, int], Design]            # (metric, arm, dose) -> Design
    variants: dict[str, str]                               # arm -> variant analysed
    model_params: dict[str, float | None]                  # arm -> parameter count, when known
    curves: list[LossCurve] = field(default_factory=list)
    bridged: dict[str, bool | None] = field(default_factory=dict)   # arm -> pre-trained on a bridging corpus
    planted: dict[tuple[str, int], float] = field(default_factory=dict)  # (arm, dose) -> worked strings per grammar
    base_designs: dict[tuple[str, str, int], Design] = field(default_factory=dict)  # in-context metrics of the base
    # (arm, told condition, dose) -> {"paraphrases": per style, "documents": explanation documents per grammar}
    told_documents: dict[tuple[str, str, int], dict[str, float]] = field(default_factory=dict)

    def only(self, metrics: list[str]) -> Study:
        """The same study restricted to some metrics."""
        keep = set(metrics)
        return Study({k: v for k, v in self.designs.items() if k[0] in keep}, self.variants, self.model_params,
                     self.curves, self.bridged, self.planted,
                     {k: v for k, v in self.base_designs.items() if k[0] in keep}, self.told_documents)

    @property
    def metrics(self) -> list[str]:
        return sorted({m for m, _, _ in self.designs})

    @property
    def arms(self) -> list[str]:
        """Smallest model first (arms of unknown size last), then by name."""
        return sorted({a for _, a, _ in self.designs},
                      key=lambda a: (self.model_params.get(a) is None, self.model_params.get(a) or 0.0, a))

    @property
    def doses(self) -> list[int]:
        return sorted({d for _, _, d in self.designs})

    @property
    def conditions(self) -> list[str]:
        return order_conditions({c for d in self.designs.values() for c in d.conditions})


def load_study(probe_dirs: list[Path], metrics: list[str] | None = None) -> Study:
    """Read and check every probe dir; InputError (file, and line where there is one) on bad input."""
    if not probe_dirs:
        raise InputError("no probe dirs given")
    # (metric, arm, variant, dose, cond, seed, tmpl) -> {item id: (value, class label or None)}
    cells: dict[tuple, dict[int, tuple[float, bool | None]]] = defaultdict(dict)
    labels: dict[tuple, bool] = {}                              # (arm, dose, seed, template) -> explained
    bare: dict[tuple, Path] = {}                                # summary rows of item metrics without items
    params: dict[str, float | None] = {}
    bridged: dict[str, bool] = {}
    planted: dict[tuple[str, int], float] = {}
    told: dict[tuple[str, str, int], dict[str, float]] = {}
    curves: dict[str, LossCurve] = {}
    for probe in probe_dirs:
        config = _read_config(probe)
        items = records.read_all(_need(probe, "items.jsonl"), "probe_item", allow_empty=True)
        summaries = records.read_all(_need(probe, "summary.jsonl"), "probe_summary")
        items_path, summary_path = probe / "items.jsonl", probe / "summary.jsonl"
        keyed = [(_key(r, config, items_path), r) for r in items]
        from_items = {key for key, _ in keyed}
        for key, rec in keyed:
            if metric_entry(rec["metric"], items_path).aggregate != "summary":
                _add(cells, labels, key, rec, items_path, int(rec["item"]))
        for rec in summaries:
            key = _key(rec, config, summary_path)
            if metric_entry(rec["metric"], summary_path).aggregate == "summary":
                _add(cells, labels, key, rec, summary_path, 0)
            elif key not in from_items:
                bare.setdefault(key, summary_path)
        arm = str(_lookup(summaries[0], config, "arm"))
        if isinstance(config.get("model_params"), (int, float)):
            params[arm] = float(config["model_params"])
        worked = ((config.get("mix") or {}).get("worked") or {}).get("strings_per_grammar")
        if isinstance(worked, (int, float)) and (config.get("mix") or {}).get("condition") == "worked":
            planted[(arm, int(config["mix"]["dose"]))] = float(worked)
        mix = config.get("mix") or {}
        if mix.get("told") is True and isinstance(mix.get("paraphrases"), int) and mix.get("grammars"):
            shown = (mix.get("documents") or {}).get("explanation", 0) + (mix.get("documents") or {}).get("worked", 0)
            told[(arm, str(mix["condition"]), int(mix["dose"]))] = {
                "paraphrases": mix["paraphrases"], "documents": shown / len(mix["grammars"])}
        if isinstance(config.get("bridged"), bool):
            if bridged.setdefault(arm, config["bridged"]) != config["bridged"]:
                raise InputError(f"arm {arm!r} has bridged and unbridged models (label them as two arms)",
                                 str(probe / "config.json"))
        curve = _loss_curve(probe, config, summaries[0])
        if curve is not None:
            curves.setdefault(curve.run, curve)
    variants = _pick_variants(cells)
    for key, path in bare.items():
        if variants.get(key[1]) == key[2]:
            raise InputError(f"summary rows of {key[0]!r} for grammar {key[-1]!r} but no items: the report "
                             f"recomputes every metric from its items ({metric_entry(key[0]).aggregate})", str(path))
    wanted = set(metrics) if metrics else None
    if wanted:
        missing = wanted - {k[0] for k in cells}
        if missing:
            raise InputError(f"no probe rows for metric(s) {', '.join(sorted(missing))}", str(probe_dirs[0]))
    designs = _designs(cells, labels, variants, wanted)
    # a pre-trained arm's base model, probed in context too: the ceiling before any fine-tuning
    icl = {m for m in (wanted or {k[0] for k in cells}) if m.startswith("icl_")}
    base = _designs(cells, labels, {a: "base" if v != "base" else None for a, v in variants.items()}, icl) \
        if icl else {}
    return Study(designs, variants, {a: params.get(a) for a in variants}, sorted(
        curves.values(), key=lambda c: (c.arm, c.dose, c.condition, c.seed)), {a: bridged.get(a) for a in variants},
        planted, base, told)


def _need(probe: Path, name: str) -> Path:
    if not probe.is_dir():
        raise InputError("not a probe dir (no such directory)", str(probe))
    path = probe / name
    if not path.is_file():
        raise InputError(f"probe dir has no {name}", str(probe))
    return path


def _read_config(probe: Path) -> dict[str, Any]:
    path = _need(probe, "config.json")
    config = records.load_json(path)
    if not isinstance(config, dict):
        raise InputError("expected a JSON object", str(path))
    return config


def _lookup(rec: dict, config: dict, name: str) -> Any:
    """A run field from the row, else the probe's mix manifest, else config.json itself (None when nowhere)."""
    for source in (rec, config.get("mix") or {}, config):
        if source.get(name) is not None:
            return source[name]
    return None


def _field(rec: dict, config: dict, name: str, path: Path) -> Any:
    value = _lookup(rec, config, name)
    if value is None:
        raise InputError(f"{rec['kind']} row of {rec['metric']!r} lacks {name!r} (not in the row or config.json)",
                         str(path))
    return value


def _key(rec: dict, config: dict, path: Path) -> tuple:
    """(metric, arm, variant, dose, condition, seed, template): one grammar cell of one run."""
    cond, dose, seed, arm = (_field(rec, config, f, path) for f in FIELDS)
    if not isinstance(dose, int) or not isinstance(seed, int):
        raise InputError(f"dose and seed must be integers, got {dose!r} and {seed!r}", str(path))
    return rec["metric"], str(arm), rec["variant"], dose, str(cond), seed, str(rec.get("template") or rec["grammar"])


def _add(cells: dict, labels: dict, key: tuple, rec: dict, path: Path, item: int) -> None:
    if item in cells[key]:
        raise InputError(f"{rec['metric']} item {item} of grammar {key[-1]!r} (run {key[1:-1]}) appears twice",
                         str(path))
    if rec["value"] is not None:
        label = rec.get("label")
        if metric_entry(rec["metric"]).needs_labels and not isinstance(label, bool):
            raise InputError(f"{rec['metric']} item {item} of grammar {key[-1]!r} has no boolean `label` (its "
                             f"aggregate, {metric_entry(rec['metric']).aggregate}, needs the item's class)", str(path))
        cells[key][item] = (float(rec["value"]), label)
    explained = rec.get("explained")
    if explained is not None:
        where = (key[1], key[3], key[5], key[6])
        if labels.setdefault(where, bool(explained)) != bool(explained):
            raise InputError(f"grammar {key[-1]!r} is both explained and not in seed {key[5]} of arm {key[1]}",
                             str(path))


def _pick_variants(cells: dict) -> dict[str, str]:
    """Per arm, the fine-tuned variant (`adapter` or `model`); `base` only when nothing else was probed."""
    seen: dict[str, set[str]] = defaultdict(set)
    for _metric, arm, variant, *_ in cells:
        seen[arm].add(variant)
    out = {}
    for arm, variants in seen.items():
        tuned = sorted(variants - {"base"})
        if len(tuned) > 1:
            raise InputError(f"arm {arm!r} has several fine-tuned variants ({', '.join(tuned)}); label them as arms")
        out[arm] = tuned[0] if tuned else "base"
    return out


def _designs(cells: dict, labels: dict, variants: dict[str, str | None], wanted: set[str] | None) -> dict:
    groups: dict[tuple[str, str, int], dict] = defaultdict(dict)
    for (metric, arm, variant, dose, cond, seed, tmpl), items in cells.items():
        if variant == variants[arm] and (wanted is None or metric in wanted):
            groups[(metric, arm, dose)][(cond, seed, tmpl)] = items
    designs = {}
    for (metric, arm, dose), group in sorted(groups.items()):
        conds = tuple(order_conditions({k[0] for k in group}))
        seeds = tuple(sorted({k[1] for k in group}))
        tmpls = tuple(sorted({k[2] for k in group}))
        explained = np.zeros((len(seeds), len(tmpls)), dtype=bool)
        for s, seed in enumerate(seeds):
            for g, tmpl in enumerate(tmpls):
                if (arm, dose, seed, tmpl) not in labels:
                    raise InputError(f"grammar {tmpl!r} has no explained/unexplained label in seed {seed} of arm "
                                     f"{arm!r}, dose {dose} (probe rows need `explained` from a mix)")
                explained[s, g] = labels[(arm, dose, seed, tmpl)]
        entry = metric_entry(metric)
        width = max(len(v) for v in group.values()) or 1
        values = np.full((len(conds), len(seeds), len(tmpls), width), np.nan)
        classes = np.zeros(values.shape, dtype=bool) if entry.needs_labels else None
        counts = np.zeros(values.shape[:3], dtype=int)
        for (cond, seed, tmpl), items in group.items():
            idx = (conds.index(cond), seeds.index(seed), tmpls.index(tmpl))
            ordered = [items[i] for i in sorted(items)]
            values[idx][:len(ordered)] = [v for v, _ in ordered]
            if classes is not None:
                classes[idx][:len(ordered)] = [bool(c) for _, c in ordered]
            counts[idx] = len(ordered)
        designs[(metric, arm, dose)] = Design(conds, seeds, tmpls, values, counts, explained,
                                              aggregate=entry.aggregate, labels=classes)
    return designs


def _loss_curve(probe: Path, config: dict, row: dict) -> LossCurve | None:
    """The run folder's train_metric loss, when config.json names a run folder that has metrics.jsonl."""
    named = config.get("run") or config.get("adapter") or config.get("model")
    if not isinstance(named, str):
        return None
    for base in (Path(named), probe / named):
        for folder in (base, base.parent):
            metrics = folder / "metrics.jsonl"
            if metrics.is_file():
                rows = [r for r in records.read(metrics, "train_metric") if isinstance(r.get("loss"), (int, float))]
                fields = {f: _lookup(row, config, f) for f in FIELDS}
                if any(v is None for v in fields.values()):
                    return None
                return LossCurve(str(folder.resolve()), str(fields["arm"]), str(fields["condition"]),
                                 int(fields["dose"]), int(fields["seed"]),
                                 [r["step"] for r in rows], [float(r["loss"]) for r in rows])
    return None
