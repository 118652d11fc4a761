"""What a study costs on a GPU before it runs (`metaex study plan --estimate`): GPU-hours and peak memory per arm.

A fine-tune costs its training tokens over the arm's fine-tuning rate. Its tokens come from its mix file where the
data stage has built it (`metaex study run CONFIG --stage data`: minutes on a CPU), each document's words ×
`TOKENS_PER_WORD`; else from the config: `example_steps` steps of `batch` example documents of a mean length, the
explanations, fillers and worked documents a mix adds left out (so an underestimate, and said so).

Rates: `RATES`, the table of docs/finetune.md that benchmarks/gpu_qlora.py measures on a lent GPU. For a model
without a measured rate, `ANCHORS`, three figures of other setups (metaex's earlier QLoRA on an H200, a public
torchtune figure on an RTX 4090), interpolated in log-parameters (beyond the largest, scaled down with the
parameters): at the study's 32 short documents a step, small models are bound by per-step overhead, not by their
arithmetic, so those figures barely move with size. Probes are counted (their samples) but not costed
until a decoding rate is measured. Peak memory: `train.memory`'s estimate of the arm's largest step, with gradient
checkpointing and the fused loss (what a consumer card gets) and with neither. Light: no torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from metaex.core.train import memory

CONFIGS = Path(__file__).resolve().parent.parent.parent / "data" / "configs"


@dataclass(frozen=True)
class Rate:
    """A measured rate of metaex's QLoRA at the study's batch (benchmarks/gpu_qlora.py)."""

    tokens_per_s: float                     # real training tokens per second
    decode_samples_per_s: float | None      # probe samples decoded per second (the study's 4 × 500 per call)
    card: str
    measured: str                           # date and where the figures are


# shipped config name (metaex/data/configs) -> its rate; the table of docs/finetune.md, "Measured rates". Empty until
# a lent GPU runs benchmarks/gpu_qlora.py (issue 34).
RATES: dict[str, Rate] = {}
# (parameters, rate) of setups other than the one estimated, for models without a measured rate
ANCHORS = (
    (134.5e6, Rate(2863.0, None, "H200", "metaex QLoRA of SmolLM2-135M, the earlier benchmark (float32 non-4-bit "
                                         "weights), 2026-12-04")),
    (1.1e9, Rate(2069.0, None, "H200", "metaex QLoRA of a random 1.1 B Llama, the earlier benchmark, 2026-12-04")),
    (8.03e9, Rate(2413.0, None, "RTX 4090", "torchtune README: Llama-3.1-8B QLoRA, packed 2,048 tokens, compiled")),
)
# BPE tokens per word of the study's text: 2.41 over the 18 mixes of seed 0 of configs/study-gpu.toml with SmolLM2's
# tokenizer (2.72 in example strings of nonce words, ~2.25 in mixes with explanations); an example string holds
# 0.6 × max_len words on average there (12.1 of 20)
TOKENS_PER_WORD = 2.4
EXAMPLE_WORDS = 0.6


@dataclass(frozen=True)
class Work:
    """One fine-tune of the plan: its arm, base model, method, batch and mix file."""

    arm: str
    model: str
    method: str
    batch: int
    mix: Path


@dataclass
class ArmCost:
    arm: str
    model: str
    method: str
    params: int | None
    finetunes: int = 0
    tokens: float = 0.0             # training tokens of all its fine-tunes
    counted: int = 0                # fine-tunes whose tokens came from their mix file (the rest from the config)
    largest_step: float = 0.0       # tokens of its largest step
    tokens_per_s: float | None = None
    rate: str = ""
    peak_small_gib: float | None = None   # with gradient checkpointing and the fused loss
    peak_plain_gib: float | None = None   # with neither

    @property
    def gpu_hours(self) -> float | None:
        return self.tokens / self.tokens_per_s / 3600 if self.tokens_per_s else None


def work_of(steps: Iterable) -> list[Work]:
    """The fine-tunes of a plan's steps (`plan.Step`s whose call is a `steps.Finetune`), in plan order."""
    return [Work(arm=s.arm or "", model=s.call.model, method=s.call.options.method,
                 batch=s.call.options.batch_size, mix=Path(s.call.train_file))
            for s in steps if s.kind == "finetune"]


def config_name(model: str) -> str:
    """The shipped config's name of a hub id (`Qwen/Qwen2.5-7B` -> `Qwen--Qwen2.5-7B`)."""
    return model.replace("/", "--")


def model_config(model: str) -> dict | None:
    """A model's config.json: a local folder's own, a hub id's shipped copy, else the local hub cache's; None when
    none is at hand (no network)."""
    p = Path(model)
    if (p / "config.json").is_file():
        return json.loads((p / "config.json").read_text())
    shipped = CONFIGS / f"{config_name(model)}.json"
    if shipped.is_file():
        return json.loads(shipped.read_text())
    from metaex.core.models.provenance import cached_file

    found = cached_file(model, "config.json")
    return json.loads(found.read_text()) if found is not None else None


def mix_lengths(path: Path) -> list[float] | None:
    """Tokens of each document of a mix file (words × TOKENS_PER_WORD + its EOS), None if it is not built."""
    if not path.is_file():
        return None
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(len(json.loads(line).get("text", "").split()) * TOKENS_PER_WORD + 1)
    return out


def estimate(work: Iterable[Work], *, example_steps: int, max_len: int) -> list[ArmCost]:
    """Per arm, in order of first appearance: its fine-tunes' tokens, rate, GPU-hours and peak memory. A fine-tune
    whose mix is not built counts `example_steps` steps of example documents of EXAMPLE_WORDS × `max_len` words."""
    costs: dict[str, ArmCost] = {}
    example = (EXAMPLE_WORDS * max_len + 1) * TOKENS_PER_WORD + 1          # "Name: w w w" and its EOS
    for w in work:
        cost = costs.get(w.arm)
        if cost is None:
            cost = costs[w.arm] = _arm(w)
        lengths = mix_lengths(w.mix)
        cost.finetunes += 1
        if lengths is None:
            cost.tokens += example_steps * w.batch * example
            cost.largest_step = max(cost.largest_step, w.batch * example)
        else:
            cost.counted += 1
            cost.tokens += sum(lengths)
            cost.largest_step = max(cost.largest_step, memory.largest_step_tokens(lengths, w.batch))
    for cost in costs.values():
        _peaks(cost)
    return list(costs.values())


def _arm(w: Work) -> ArmCost:
    config = model_config(w.model)
    shape = memory.Shape.of(config) if config else None
    cost = ArmCost(arm=w.arm, model=w.model, method=w.method, params=shape.params if shape else None)
    measured = RATES.get(config_name(w.model)) or RATES.get(Path(w.model).name)
    if measured is not None:
        cost.tokens_per_s, cost.rate = measured.tokens_per_s, f"measured on {measured.card}, {measured.measured}"
    elif shape is not None:
        cost.tokens_per_s, used = anchored_rate(shape.params)
        cost.rate = (f"unmeasured here: {cost.tokens_per_s:,.0f} tokens/s for {shape.params / 1e9:.2f} B parameters "
                     "from " + " and ".join(f"{r.measured} ({r.card}, {r.tokens_per_s:,.0f} tokens/s)" for r in used))
    else:
        cost.rate = "unmeasured, and the model's config is not at hand (no shipped copy, not in the hub cache)"
    return cost


def anchored_rate(params: float) -> tuple[float, list[Rate]]:
    """Tokens/s for a model of `params` parameters from `ANCHORS` (log-parameter interpolation; below the smallest,
    its rate; above the largest, its rate × its parameters / `params`), and the anchors used."""
    import math

    points = sorted(ANCHORS, key=lambda a: a[0])
    if params <= points[0][0]:
        return points[0][1].tokens_per_s, [points[0][1]]
    for (p0, r0), (p1, r1) in zip(points, points[1:], strict=False):
        if params <= p1:
            t = (math.log(params) - math.log(p0)) / (math.log(p1) - math.log(p0))
            return r0.tokens_per_s + t * (r1.tokens_per_s - r0.tokens_per_s), [r0, r1]
    p_max, r_max = points[-1]
    return r_max.tokens_per_s * p_max / params, [r_max]


def _peaks(cost: ArmCost) -> None:
    config = model_config(cost.model)
    if config is None:
        return
    shape, tokens = memory.Shape.of(config), int(cost.largest_step)
    for attr, saving in (("peak_small_gib", True), ("peak_plain_gib", False)):
        peak = memory.step_peak_bytes(shape, cost.method, tokens, checkpointing=saving, fused_ce=saving)
        setattr(cost, attr, round(peak / memory.GIB, 1))


def lines(costs: Sequence[ArmCost]) -> list[str]:
    """The estimate as printed: one line per arm, then where the numbers come from."""
    out = ["# estimate: GPU-hours and peak GPU memory per arm (fine-tuning only; see the notes below)"]
    total = 0.0
    for c in costs:
        hours = c.gpu_hours
        total += hours or 0.0
        counted = "all from their mixes" if c.counted == c.finetunes else (
            f"{c.counted} from their mixes, {c.finetunes - c.counted} from the config's example documents alone")
        out.append(f"# {c.arm}: {c.model} ({c.method}), {c.finetunes} fine-tunes, {c.tokens / 1e6:,.1f} M tokens "
                   f"({counted}): " + (f"{hours:,.1f} GPU-hours" if hours is not None else "GPU-hours unknown")
                   + (f", peak {c.peak_small_gib} GiB with gradient checkpointing and the fused loss, "
                      f"{c.peak_plain_gib} GiB with neither" if c.peak_small_gib is not None else ""))
        out.append(f"#   rate: {c.rate}")
    out.append(f"# total: {total:,.1f} GPU-hours of fine-tuning; probes not costed (decoding rate unmeasured)"
               if not any(r.decode_samples_per_s for r in RATES.values()) else f"# total: {total:,.1f} GPU-hours")
    out.append("# peak memory: estimates of metaex/core/train/memory.py for the largest step, not measurements; "
               "rates: docs/finetune.md, \"Measured rates\"")
    return out
