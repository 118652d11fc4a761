"""Synthetic studies with a known answer: for calibrating the statistics and testing `metaex report`.

Data-generating process (per study, per arm × dose), on the logit scale of a 0/1 item (validity-like):

    logit p[c, s, g] = base + a[g] + u[s, g] + v[c, s, g] + effect[c] · explained[s, g]

a[g] ~ N(0, grammar_sd) is the template's difficulty (fixed across seeds), u[s, g] ~ N(0, seed_sd) the seed's
instantiation of that grammar (shared by all conditions of the seed), v[c, s, g] ~ N(0, run_sd) the run's own
training noise; items are Bernoulli(p) (or, with `binary=False`, Normal(logit, 1): a margin-like metric).
Seeds come in complementary pairs: seed 2k explains a random half of the grammars, seed 2k+1 the other half
(STUDY.md). With every effect 0 each statistic of `metaex.core.stats.effects` has true value 0 except the
levels; `effect[c]` plants an explanation effect for the explained grammars of condition c.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from metaex.core import records
from metaex.core.stats.effects import Design


def complementary_halves(rng: np.random.Generator, n_seeds: int, n_grammars: int,
                         batch: tuple[int, ...] = ()) -> np.ndarray:
    """(*batch, S, G) explained labels: seed 2k a random half, seed 2k+1 its complement (odd S: a last random half)."""
    keys = rng.random((*batch, (n_seeds + 1) // 2, n_grammars))
    ranks = keys.argsort(axis=-1).argsort(axis=-1)
    half = ranks < n_grammars // 2
    pairs = np.stack([half, ~half], axis=-2).reshape(*batch, -1, n_grammars)
    return pairs[..., :n_seeds, :]


def simulate_study(rng: np.random.Generator, *, n_studies: int = 1, seeds: int = 4, grammars: int = 4,
                   items: int = 32, conditions: Sequence[str] = ("examples", "filler", "worked"),
                   effects: Mapping[str, float | Sequence[float]] | None = None, base: float = 0.0, grammar_sd: float = 1.0,
                   seed_sd: float = 0.4, run_sd: float = 0.3, binary: bool = True,
                   explained: np.ndarray | None = None) -> Design:
    """`n_studies` independent studies of one arm × dose, stacked on a leading axis of every Design array.

    `effects`: condition → planted logit effect on its explained grammars, one number or one per grammar (an
    effect some grammars carry and others do not). `explained` (S, G) fixes the halves (default: fresh
    complementary halves per study). With
    n_studies == 1 the leading axis is dropped, so the result is an ordinary `Design`.
    """
    conds = tuple(conditions)
    batch = (n_studies,)
    shape = (*batch, len(conds), seeds, grammars)
    if explained is None:
        explained = complementary_halves(rng, seeds, grammars, batch)
    else:
        explained = np.broadcast_to(explained, (*batch, seeds, grammars))
    planted = np.stack([np.broadcast_to(np.asarray((effects or {}).get(c, 0.0), float), (grammars,))
                        for c in conds])[:, None, :]                  # (C, 1, G): a scalar, or one per grammar
    logit = (base + rng.normal(0, grammar_sd, (*batch, 1, 1, grammars))
             + rng.normal(0, seed_sd, (*batch, 1, seeds, grammars))
             + rng.normal(0, run_sd, shape) + planted * explained[:, None])
    if binary:
        values = (rng.random((*shape, items)) < 1 / (1 + np.exp(-logit[..., None]))).astype(float)
    else:
        values = logit[..., None] + rng.normal(0, 1, (*shape, items))
    design = Design(conds, tuple(range(seeds)), tuple(f"g{g}" for g in range(grammars)), values,
                    np.full(shape, items), explained)
    if n_studies == 1:
        design = Design(design.conditions, design.seeds, design.grammars, values[0], design.counts[0],
                        explained[0])
    return design


WORD_TOKENS = 1.25     # tokens per word of the simulated held-out fit per word


def write_probe_dirs(root: Path, rng: np.random.Generator, *, arms: Mapping[str, int | None],
                     doses: Sequence[int] = (64, 256), conditions: Sequence[str] = ("examples", "filler", "worked"),
                     effects: Mapping[tuple[str, str], float | Sequence[float]] | None = None, seeds: int = 4, grammars: int = 4,
                     items: int = 40, steps: int = 50, worked_strings: float | None = None,
                     grammar_sd: float = 1.0, in_context: float | None = None,
                     bridged: Mapping[str, bool] | None = None) -> list[Path]:
    """Write one probe dir per arm × condition × dose × seed (and its run folder with a loss curve) under `root`.

    arms: label → model_params (None: unknown size). effects: (arm, condition) → planted logit effect (one per
    grammar, or one for all).
    worked_strings: record in each `worked` probe's mix that it added this × dose strings per grammar.
    grammar_sd: the spread of grammar difficulty (drawn afresh per dose: small values keep a dose-response smooth).
    in_context: also write icl_novel_valid and icl_control_novel_valid, the first this logit above the second.
    bridged: arm -> whether its model was pre-trained on a bridging corpus (config.json's `bridged`).
    Metrics: novel_valid and validity (0/1 items), pair_margin and heldout_lp (real items), and heldout_lpw, held-out
    fit per word: heldout_lp × WORD_TOKENS (a BPE-like 1.25 tokens a word; derived, so it draws no random numbers);
    the fine-tuned variant is `model`, plus `base` rows for novel_valid. Returns the probe dirs in a stable order.
    """
    metrics = {"novel_valid": True, "validity": True, "pair_margin": False, "heldout_lp": False}
    if in_context is not None:
        metrics.update({"icl_novel_valid": True, "icl_control_novel_valid": True})
    dirs: list[Path] = []
    for arm, params in arms.items():
        for dose in doses:
            explained = complementary_halves(rng, seeds, grammars)
            per_metric = {
                m: simulate_study(rng, seeds=seeds, grammars=grammars, items=items, conditions=conditions,
                                  effects={c: (effects or {}).get((arm, c), 0.0) for c in conditions},
                                  base=-0.5 + 0.4 * math.log2(dose / doses[0])
                                  + (in_context if m == "icl_novel_valid" else 0.0), binary=binary,
                                  explained=explained, grammar_sd=grammar_sd)
                for m, binary in metrics.items()
            }
            for c, cond in enumerate(conditions):
                for s in range(seeds):
                    name = f"{arm}_{cond}_d{dose}_s{s}"
                    run = root / "runs" / name
                    _write_loss_curve(run, rng, steps)
                    rows = {"probe_item": [], "probe_summary": []}
                    for m, design in per_metric.items():
                        for g in range(grammars):
                            common = {"grammar": f"{arm}-{s}-g{g}", "template": f"g{g}",
                                      "explained": bool(explained[s, g]), "condition": cond, "dose": dose,
                                      "seed": s, "arm": arm, "run": name, "variant": "model", "metric": m}
                            vals = design.values[c, s, g]
                            for metric, scale in ((m, 1.0), *((("heldout_lpw", WORD_TOKENS),) if m == "heldout_lp"
                                                              else ())):
                                named = {**common, "metric": metric}
                                rows["probe_item"] += [records.make("probe_item", item=i, value=float(v) * scale,
                                                                    **named) for i, v in enumerate(vals)]
                                rows["probe_summary"].append(records.make(
                                    "probe_summary", value=float(vals.mean()) * scale, n=len(vals), **named))
                            if m == "novel_valid":
                                rows["probe_summary"].append(records.make(
                                    "probe_summary", value=0.0, n=len(vals), **{**common, "variant": "base"}))
                    probe = root / "probes" / name
                    records.write(probe / "items.jsonl", rows["probe_item"])
                    records.write(probe / "summary.jsonl", rows["probe_summary"])
                    config = {"arm": arm, "condition": cond, "dose": dose, "seed": s, "model": str(run),
                              "model_params": params}
                    if bridged is not None and arm in bridged:
                        config["bridged"] = bridged[arm]
                    if worked_strings is not None and cond == "worked":
                        config["mix"] = {"condition": cond, "dose": dose,
                                         "worked": {"strings_per_grammar": worked_strings * dose}}
                    records.write_json(probe / "config.json", config)
                    dirs.append(probe)
    return dirs


def _write_loss_curve(run: Path, rng: np.random.Generator, steps: int) -> None:
    """RUN_DIR/metrics.jsonl: a noisy decaying training loss, eval loss every tenth step."""
    rows = []
    for step in range(1, steps + 1):
        loss = 1.0 + 3.0 * math.exp(-step / (steps / 4)) + float(rng.normal(0, 0.05))
        extra = {"eval_loss": loss + 0.1} if step % 10 == 0 else {}
        rows.append(records.make("train_metric", step=step, loss=loss, lr=1e-3, **extra))
    records.write(run / "metrics.jsonl", rows)
