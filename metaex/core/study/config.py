"""A study configuration (TOML): grammars × conditions × doses × arms × seeds, read and checked up front."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from metaex.core.errors import InputError
from metaex.core.train.run import LOSS_NORMS

CONDITIONS = ("examples", "explained", "mismatched", "filler", "explanations-only", "worked")


@dataclass(frozen=True)
class Arm:
    """One model line of the study: a tiny model from scratch (bridged or not) or a base model."""

    name: str
    model: str | None = None          # a local folder or hub id; None: a tiny model built per seed
    method: str = "full"
    bridged: bool = False
    bridge_grammars: int = 24
    bridge_examples: int = 32
    bridge_epochs: float = 2.0
    lr: float | None = None
    params: float | None = None       # model size, for the Δ-vs-size plot

    @property
    def tiny(self) -> bool:
        return self.model is None


@dataclass(frozen=True)
class StudyConfig:
    path: str
    grammars: tuple[str, ...]
    seeds: tuple[int, ...]
    conditions: tuple[str, ...]
    doses: tuple[int, ...]
    arms: tuple[Arm, ...]
    max_len: int = 20
    test_strings: int = 150
    paraphrases: int = 20
    styles: str = "prose,bnf,constraints"
    filler_grammars: int = 4
    worked_multiplier: float = 2.0
    example_steps: int = 160
    extra_passes: int | None = None   # appearances of each extra document over the stream (None: every pass)
    worked_passes: int | None = None  # the same for `worked` documents (the planted control's strength)
    worked_per_doc: int | None = None  # strings per worked document (None: spread over every explanation)
    size: str = "tiny"
    batch_size: int = 32
    lr: float | None = None
    loss_norm: str = "fixed"          # fine-tuning loss divisor (train/hf.py): fixed keeps the examples' gradient
    samples: int = 200
    probe_batch_size: int = 128
    probe_limit: int | None = None    # at most this many samples/tests/pairs/explanations per grammar
    probe_verbal: int | None = None   # verbalization questions per grammar
    probe_cuts: tuple[int, ...] = (1, 2, 3)  # greedy continuations from the first k terminals of test strings
    grammar_dir: str = "grammars"
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise InputError(f"no arm {name!r} in the config (arms: {', '.join(a.name for a in self.arms)})", self.path)

    def passes(self, dose: int) -> int:
        """Passes over the example documents so that `examples` trains about `example_steps` steps."""
        docs_per_pass = dose * len(self.grammars)
        return max(1, round(self.example_steps * self.batch_size / docs_per_pass))

    @property
    def pool_size(self) -> int:
        """Extra strings per grammar for the `worked` control, disjoint from every dose's examples."""
        return int(round(self.worked_multiplier * max(self.doses))) if "worked" in self.conditions else 0


def _get(table: dict, key: str, kind, path: str, default=None, section: str = ""):
    value = table.get(key, default)
    if value is None and default is None:
        raise InputError(f"[{section}] needs {key!r}", path)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"[{section}] {key} should be {kind.__name__}, got {value!r}", path)
    return value


def _cuts(value: list, path: str) -> tuple[int, ...]:
    if not value or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in value):
        raise InputError(f"[probe] cuts should be a list of positive integers, got {value!r}", path)
    return tuple(value)


def _choice(value: str, allowed: tuple[str, ...], what: str, path: str) -> str:
    if value not in allowed:
        raise InputError(f"{what} should be one of {', '.join(allowed)}, got {value!r}", path)
    return value


def load_config(path: str | Path, *, models: list[str] | None = None) -> StudyConfig:
    """Read a study TOML; `models` (from `make study-gpu MODELS=…`) replaces the arms by QLoRA base models."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such study config", str(path))
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a valid TOML study config ({err})", str(path)) from None
    src = str(path)
    study, data = raw.get("study", {}), raw.get("data", {})
    model, probe = raw.get("model", {}), raw.get("probe", {})
    grammars = tuple(_get(study, "grammars", list, src, section="study"))
    seeds = tuple(_get(study, "seeds", list, src, section="study"))
    conditions = tuple(_get(study, "conditions", list, src, section="study"))
    doses = tuple(_get(study, "doses", list, src, section="study"))
    for c in conditions:
        if c not in CONDITIONS:
            raise InputError(f"unknown condition {c!r} (known: {', '.join(CONDITIONS)})", src)
    if "examples" not in conditions:
        raise InputError("the conditions must include the control `examples`", src)
    if len(grammars) < 2 or len(grammars) % 2:
        raise InputError("a study needs an even number (≥ 2) of grammars: half are explained in each run", src)
    if not seeds or len(seeds) % 2 or not all(isinstance(s, int) for s in seeds):
        raise InputError("seeds should be an even number of integers (complementary pairs)", src)
    if not doses or not all(isinstance(d, int) and d > 0 for d in doses):
        raise InputError("doses should be positive integers", src)
    grammar_dir = str(study.get("grammar_dir", "grammars"))
    for g in grammars:
        if not (p.parent.parent / grammar_dir / f"{g}.pcfg").is_file() and not (Path(grammar_dir) / f"{g}.pcfg").is_file():
            raise InputError(f"no grammar {g!r} in {grammar_dir}/", src)
    arms = _arms(raw.get("arms", {}), src, models)
    return StudyConfig(
        path=src, grammars=grammars, seeds=seeds, conditions=conditions, doses=doses, arms=arms,
        max_len=_get(data, "max_len", int, src, 20, "data"),
        test_strings=_get(data, "test_strings", int, src, 150, "data"),
        paraphrases=_get(data, "paraphrases", int, src, 20, "data"),
        styles=_get(data, "styles", str, src, "prose,bnf,constraints", "data"),
        filler_grammars=_get(data, "filler_grammars", int, src, 4, "data"),
        worked_multiplier=_get(data, "worked_multiplier", float, src, 2.0, "data"),
        example_steps=_get(data, "example_steps", int, src, 160, "data"),
        extra_passes=data.get("extra_passes"),
        worked_passes=data.get("worked_passes"),
        worked_per_doc=data.get("worked_per_doc"),
        size=_get(model, "size", str, src, "tiny", "model"),
        batch_size=_get(model, "batch_size", int, src, 32, "model"),
        lr=model.get("lr"),
        loss_norm=_choice(_get(model, "loss_norm", str, src, "fixed", "model"), LOSS_NORMS,
                          "[model] loss_norm", src),
        samples=_get(probe, "samples", int, src, 200, "probe"),
        probe_batch_size=_get(probe, "batch_size", int, src, 128, "probe"),
        probe_limit=probe.get("limit"),
        probe_verbal=probe.get("verbal"),
        probe_cuts=_cuts(_get(probe, "cuts", list, src, [1, 2, 3], "probe"), src),
        grammar_dir=grammar_dir,
        raw=raw,
    )


def _arms(table: dict, src: str, models: list[str] | None) -> tuple[Arm, ...]:
    if models:
        return tuple(Arm(name=m.rstrip("/").split("/")[-1], model=m, method="qlora") for m in models)
    if not table:
        raise InputError("the config has no [arms.NAME] tables", src)
    arms = []
    for name, spec in table.items():
        method = spec.get("method", "qlora" if spec.get("model") else "full")
        if method not in ("full", "lora", "qlora"):
            raise InputError(f"[arms.{name}] method should be full, lora or qlora", src)
        arms.append(Arm(name=name, model=spec.get("model"), method=method, bridged=bool(spec.get("bridged", False)),
                        bridge_grammars=int(spec.get("bridge_grammars", 24)),
                        bridge_examples=int(spec.get("bridge_examples", 32)),
                        bridge_epochs=float(spec.get("bridge_epochs", 2.0)), lr=spec.get("lr"),
                        params=spec.get("params")))
        if arms[-1].bridged and not arms[-1].tiny:
            raise InputError(f"[arms.{name}] only tiny from-scratch arms can be bridged", src)
    return tuple(arms)
