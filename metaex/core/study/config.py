"""A study configuration (TOML): grammars × conditions × doses × arms × seeds, read strictly and resolved whole.

Every key a config may hold is a field of `StudyConfig` (or `Arm`) with its section in the field's metadata; an
unknown section or key is an error naming the closest valid one, and every key is used. Defaults come from the
core options the steps run with (`TrainOptions`, `ProbeOptions`, `MixOptions`), choices from their constants.
`resolved()` is every value after defaults, written to the study folder's `config.resolved.json`; a resumed study
whose config resolves differently is refused (`changed_key`). A relative `grammar_dir` is relative to the config
file's folder.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError
from metaex.core.explain import STYLES
from metaex.core.mix import MixOptions
from metaex.core.mix.build import CONDITIONS
from metaex.core.models.precision import AUTO, cpu_bf16
from metaex.core.models.tiny import SIZES
from metaex.core.probe.options import ProbeOptions
from metaex.core.study.slurm import SlurmConfig, read_table
from metaex.core.train.options import LOSS_NORMS, METHODS, TrainOptions

SECTIONS = ("study", "data", "model", "probe", "arms")   # what the study computes; [slurm]: where it runs


def _key(section: str, help: str, default: Any = MISSING, *, key: str | None = None, choices: tuple = (),
         low: float | None = None, before: Any = MISSING, empty: bool = False, auto: bool = False) -> Any:
    """A config field: its TOML section (and key, when it differs from the field name), help, choices, bound;
    `before`: what a study folder started before the key existed ran, when that is not the default; `empty`: a
    list key that may be [] (none); `auto`: a bool key that may also be "auto", resolved for this machine when the
    config is read (`_resolve_auto`)."""
    meta = {"section": section, "key": key, "help": help, "choices": choices, "low": low, "before": before,
            "empty": empty, "auto": auto}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Arm:
    """One model line of the study ([arms.NAME]): a tiny model from scratch (bridged or not) or a base model."""

    name: str
    model: str | None = _key("arms", "a local model folder or hub id; none: a tiny model built per seed", None)
    method: str | None = _key("arms", "full | lora | qlora (default: full for tiny arms, qlora for base models)",
                              None, choices=METHODS)
    bridged: bool = _key("arms", "pre-train on a bridging corpus of random grammars first (tiny arms)", False)
    bridge_grammars: int = _key("arms", "random grammars in the bridging corpus", 24, low=1)
    bridge_examples: int = _key("arms", "example documents per bridging grammar", 32, low=1)
    bridge_epochs: float = _key("arms", "passes over the bridging corpus", 2.0, low=0)
    lr: float | None = _key("arms", "this arm's peak learning rate (default: [model] lr)", None, low=0)
    max_grad_norm: float | None = _key("arms", "this arm's gradient clipping norm (default: [model] max_grad_norm)",
                                       None, low=0)
    bf16: bool | None = _key("arms", "this arm's CPU mixed precision: true, false or \"auto\" (default: [model] bf16)",
                             None, auto=True)
    # an arm may train on its own stream (pre-trained models cost ~100× a tiny one per token): its own mixes then
    example_steps: int | None = _key("arms", "this arm's `examples` steps (default: [data] example_steps)", None,
                                     low=1)
    batch_size: int | None = _key("arms", "this arm's documents per step (default: [model] batch_size)", None, low=1)
    extra_passes: int | None = _key("arms", "this arm's appearances of each extra document (at most its passes "
                                            "over the examples)", None, low=1)
    worked_passes: int | None = _key("arms", "this arm's appearances of each worked document (at most its passes "
                                             "over the examples)", None, low=1)
    ladder: tuple[int, ...] | None = _key("arms", "this arm's `examples` ladder (default: [study] ladder; [] for "
                                          "none, where a pre-trained arm's budget cannot pay for one)", None, low=1,
                                          empty=True)

    @property
    def tiny(self) -> bool:
        return self.model is None

    @property
    def train_method(self) -> str:
        return self.method or ("full" if self.tiny else "qlora")


@dataclass(frozen=True)
class StudyConfig:
    path: str
    grammars: tuple[str, ...] = _key("study", "shipped templates (GRAMMAR_DIR/NAME.pcfg), instantiated per seed")
    seeds: tuple[int, ...] = _key("study", "an even number: seeds 2k and 2k+1 explain complementary halves")
    conditions: tuple[str, ...] = _key("study", "conditions, `examples` among them", choices=CONDITIONS)
    doses: tuple[int, ...] = _key("study", "example strings per grammar (doses nest)", low=1)
    ladder: tuple[int, ...] = _key("study", "extra doses run for `examples` only: the dose-response the exchange "
                                   "rate reads", (), low=1, empty=True)
    grammar_dir: str = _key("study", "folder of the templates, relative to this config file", "../grammars")
    max_len: int = _key("data", "longest string (terminals) sampled", 20, low=1)
    test_strings: int = _key("data", "held-out strings per grammar", 150, low=1)
    paraphrases: int = _key("data", "explanation paraphrases per style", MixOptions.paraphrases, low=1)
    styles: str = _key("data", "explanation styles, comma-separated", ",".join(STYLES))
    filler_grammars: int = _key("data", "random grammars outside the study whose explanations are filler", 4, low=0)
    worked_multiplier: float = _key("data", "planted control: extra strings per explained grammar = this × dose",
                                    2.0, low=0)
    worked_per_doc: int | None = _key("data", "strings per worked document", MixOptions.worked_per_doc, low=1)
    worked_passes: int | None = _key("data", "appearances of each worked document (at most the passes over the "
                                             "examples)", None, low=1)
    example_steps: int = _key("data", "passes are chosen so `examples` trains about this many steps", 160, low=1)
    extra_passes: int | None = _key("data", "appearances of each extra document (at most the passes over the examples)",
                                     MixOptions.extra_passes, low=1)
    size: str = _key("model", "tiny model size", "tiny", choices=tuple(SIZES))
    batch_size: int = _key("model", "documents per optimizer step", TrainOptions.batch_size, low=1)
    lr: float | None = _key("model", "peak learning rate (default: the method's)", TrainOptions.lr, low=0)
    loss_norm: str = _key("model", "fine-tuning loss divisor", TrainOptions.loss_norm, choices=LOSS_NORMS)
    max_grad_norm: float = _key("model", "clip each step's gradient to this norm (0: off; a clipped step moves the "
                                "weights alike whatever it holds)", TrainOptions.max_grad_norm, low=0)
    bf16: bool = _key("model", "CPU mixed precision: fine-tune and decode under bfloat16 autocast (log-likelihoods "
                      "stay float32); \"auto\": where the CPU computes bfloat16 natively (avx512_bf16), resolved "
                      "when the config is read", TrainOptions.bf16, auto=True)
    save_steps: int = _key("model", "checkpoint every N steps (a killed study resumes from them)",
                           TrainOptions.save_steps, low=0)
    samples: int = _key("probe", "sampled strings per grammar and run", ProbeOptions.samples, low=1)
    probe_limit: int | None = _key("probe", "at most this many samples, tests, pairs per grammar",
                                   ProbeOptions.limit, key="limit", low=1)
    probe_verbal: int | None = _key("probe", "verbalization questions per grammar", ProbeOptions.verbal,
                                    key="verbal", low=1)
    probe_cuts: tuple[int, ...] = _key("probe", "greedy continuations from the first k terminals",
                                       ProbeOptions.cuts, key="cuts", low=1)
    probe_in_context: bool = _key("probe", "the in-context ceiling: generation and held-out fit after an explanation "
                                  "(icl_* metrics; on in a study, off for `metaex probe` alone)", True,
                                  key="in_context", before=False)
    probe_in_context_samples: int | None = _key("probe", "samples per grammar after each in-context prompt kind "
                                                "(default: samples)", ProbeOptions.in_context_samples,
                                                key="in_context_samples", low=1)
    probe_in_context_conditions: tuple[str, ...] = _key(
        "probe", "conditions whose fine-tuned models are probed in context too (a pre-trained arm's base model "
        "always is, once per seed; a tiny arm's other models are not)", CONDITIONS, key="in_context_conditions",
        choices=CONDITIONS)
    probe_batch_size: int = _key("probe", "rows per forward/generate call", ProbeOptions.batch_size,
                                 key="batch_size", low=1)
    arms: tuple[Arm, ...] = ()
    # how a cluster runs the study, not what it computes: not in resolved(), so a new time limit resumes a folder
    slurm: SlurmConfig = field(default_factory=SlurmConfig)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise InputError(f"no arm {name!r} in the config (arms: {', '.join(a.name for a in self.arms)})", self.path)

    def passes(self, dose: int, arm: Arm | None = None) -> int:
        """Passes over the example documents so that `examples` trains about `example_steps` steps (the arm's own
        steps and batch size where it sets them)."""
        steps = arm.example_steps if arm is not None and arm.example_steps else self.example_steps
        docs_per_pass = dose * len(self.grammars)
        return max(1, round(steps * self.batch(arm) / docs_per_pass))

    def clip(self, arm: Arm | None = None) -> float:
        """The gradient clipping norm an arm trains with (its own where it sets one; 0: off)."""
        return arm.max_grad_norm if arm is not None and arm.max_grad_norm is not None else self.max_grad_norm

    def uses_bf16(self, arm: Arm | None = None) -> bool:
        """Whether an arm fine-tunes and decodes under bf16 autocast (its own setting where it has one)."""
        return arm.bf16 if arm is not None and arm.bf16 is not None else self.bf16

    def batch(self, arm: Arm | None = None) -> int:
        return arm.batch_size if arm is not None and arm.batch_size else self.batch_size

    def stream(self, cond: str, dose: int, arm: Arm | None = None) -> tuple[int, int | None]:
        """(passes over the examples, appearances of each extra document) of a condition's mix for an arm."""
        passes = self.passes(dose, arm)
        worked = (arm.worked_passes if arm is not None and arm.worked_passes else None) or self.worked_passes
        extra = (arm.extra_passes if arm is not None and arm.extra_passes else None) or self.extra_passes
        chosen = worked if cond == "worked" and worked else extra
        return passes, None if chosen is None else min(chosen, passes)

    def mix_name(self, cond: str, dose: int, arm: Arm | None = None) -> str:
        """The mix file's stem: COND-dDOSE for the study's own stream, COND-dDOSE-pPxE for an arm's own."""
        own = self.stream(cond, dose, arm)
        if own == self.stream(cond, dose):
            return f"{cond}-d{dose}"
        return f"{cond}-d{dose}-p{own[0]}x{own[1] if own[1] is not None else own[0]}"

    def ladder_of(self, arm: Arm) -> tuple[int, ...]:
        """The arm's `examples` ladder: its own, else the study's."""
        return self.ladder if arm.ladder is None else arm.ladder

    def cells(self, arm: Arm) -> list[tuple[str, int]]:
        """(condition, dose) of every fine-tune of `arm` per seed: the design, then its `examples` ladder."""
        main = [(c, d) for c in self.conditions for d in self.doses]
        return main + [("examples", d) for d in sorted(set(self.ladder_of(arm)) - set(self.doses))]

    def probe_options(self, seed: int = 0, condition: str = "examples", arm: Arm | None = None) -> ProbeOptions:
        """The options the probe of a `condition` model runs with (what its probe step passes on the command line):
        in context, for its base model alone where the condition is not in `[probe] in_context_conditions`."""
        return ProbeOptions(samples=self.samples, seed=seed, limit=self.probe_limit, verbal=self.probe_verbal,
                            batch_size=self.probe_batch_size, cuts=self.probe_cuts, max_len=self.max_len,
                            in_context=self.probe_in_context,
                            in_context_samples=self.probe_in_context_samples if self.probe_in_context else None,
                            in_context_base_only=self.probe_in_context
                            and condition not in self.probe_in_context_conditions, bf16=self.uses_bf16(arm))

    @property
    def max_dose(self) -> int:
        """The largest dose of any cell (the train file's size)."""
        return max((*self.doses, *self.ladder, *(d for a in self.arms for d in a.ladder or ())))

    @property
    def pool_size(self) -> int:
        """Extra strings per grammar for the `worked` control, disjoint from every dose's examples."""
        return int(round(self.worked_multiplier * max(self.doses))) if "worked" in self.conditions else 0

    def grammar_path(self, name: str) -> Path:
        """The template of grammar `name`: grammar_dir, relative to the config file's folder."""
        return (Path(self.path).resolve().parent / self.grammar_dir / f"{name}.pcfg").resolve()

    def resolved(self) -> dict[str, Any]:
        """Every value of the study after defaults, by section (config.resolved.json)."""
        out: dict[str, Any] = {s: {} for s in SECTIONS}
        for f in fields(self):
            if "section" in f.metadata:
                out[f.metadata["section"]][f.metadata["key"] or f.name] = _plain(getattr(self, f.name))
        out["study"]["grammar_dir"] = str(self.grammar_path("x").parent)
        out["arms"] = {a.name: {**{f.name: _plain(getattr(a, f.name)) for f in fields(a) if f.name != "name"},
                                "method": a.train_method} for a in self.arms}
        return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def changed_key(old: dict, new: dict, prefix: str = "") -> str | None:
    """The first key (as `[section] key: old → new`) where two resolved configs differ; None when they agree.
    The grammar folder's location is not compared (the templates' contents are, through `templates`), nor a key
    the old config lacks whose new value is what the folder ran before the key existed (a key added to metaex
    since, at its default or its `before` value)."""
    for k in sorted(set(old) | set(new)):
        if prefix == "study" and k == "grammar_dir":
            continue
        if k not in old and _ran_before(prefix, k, new[k]):
            continue    # a key added to metaex since the folder was started, at its default: nothing changed
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            found = changed_key(a, b, f"{prefix}.{k}" if prefix else k)
            if found:
                return found
        elif a != b:
            return f"[{prefix}] {k}: {a!r} → {b!r}" if prefix else f"{k}: {a!r} → {b!r}"
    return None


def _ran_before(prefix: str, key: str, value: Any) -> bool:
    """Whether `value` is what a folder without config key `key` of section `prefix` ("arms.NAME" for an arm's)
    ran: the key's default, or its `before` value where the default changed when the key came."""
    section, cls = ("arms", Arm) if prefix.startswith("arms.") else (prefix, StudyConfig)
    for f in fields(cls):
        if f.metadata.get("section") == section and (f.metadata.get("key") or f.name) == key:
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if f.metadata.get("before", MISSING) is not MISSING:
                default = f.metadata["before"]
            return default is not MISSING and _plain(default) == value
    return False


def _closest(word: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(word, valid, n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(valid)})"


def _value(f, raw: Any, where: str, src: str) -> Any:
    """One key's value, type-checked against the field's annotation, choices and lower bound."""
    kind = str(f.type)
    if f.metadata.get("auto") and raw == AUTO:
        return raw
    if kind.startswith("tuple"):
        item = int if "int" in kind else str
        if not isinstance(raw, list) or not (raw or f.metadata["empty"]) or not all(_is(v, item) for v in raw):
            raise InputError(f"{where} should be a {'' if f.metadata['empty'] else 'non-empty '}list of "
                             f"{item.__name__}s, got {raw!r}", src)
        values = tuple(raw)
    else:
        base = next(t for t in (bool, int, float, str) if t.__name__ in kind)
        if base is float and _is(raw, int):
            raw = float(raw)
        if not _is(raw, base):
            also = f' or "{AUTO}"' if f.metadata.get("auto") else ""
            raise InputError(f"{where} should be {'a ' + base.__name__ if base is not int else 'an int'}{also}, "
                             f"got {raw!r}", src)
        values = (raw,)
    for v in values:
        if f.metadata["choices"] and v not in f.metadata["choices"]:
            raise InputError(f"{where} should be one of {', '.join(f.metadata['choices'])}, got {v!r}", src)
        if f.metadata["low"] is not None and v < f.metadata["low"]:
            raise InputError(f"{where} should be at least {f.metadata['low']}, got {v!r}", src)
    return values if kind.startswith("tuple") else raw


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)


def _read_section(table: Any, section: str, cls: type, src: str, prefix: str) -> dict[str, Any]:
    """{field name: value} of one table, every key known to `cls`."""
    if not isinstance(table, dict):
        raise InputError(f"[{prefix}] should be a table", src)
    known = {f.metadata.get("key") or f.name: f for f in fields(cls) if f.metadata.get("section") == section}
    out = {}
    for key, raw in table.items():
        if key not in known:
            raise InputError(f"unknown key {key!r} in [{prefix}]{_closest(key, sorted(known))}", src)
        out[known[key].name] = _value(known[key], raw, f"[{prefix}] {key}", src)
    return out


def load_config(path: str | Path, *, models: list[str] | None = None) -> StudyConfig:
    """Read a study TOML; `models` (from `make study-gpu MODELS=…`) replaces the arms by QLoRA base models."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such study config", str(path))
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a valid TOML study config ({err})", str(path)) from None
    src = str(path)
    for section in raw:
        if section not in (*SECTIONS, "slurm"):
            raise InputError(f"unknown section [{section}]{_closest(section, [*SECTIONS, 'slurm'])}", src)
    values: dict[str, Any] = {}
    for section in ("study", "data", "model", "probe"):
        values.update(_read_section(raw.get(section, {}), section, StudyConfig, src, section))
    for name in ("grammars", "seeds", "conditions", "doses"):
        if name not in values:
            raise InputError(f"[study] needs {name!r}", src)
    arms = _arms(raw.get("arms", {}), src, models)
    slurm = read_table(raw.get("slurm"), src, [a.name for a in arms], bool(models))
    cfg = _resolve_auto(StudyConfig(path=src, arms=arms, slurm=slurm, **values))
    _check(cfg, src)
    return cfg


def _resolve_auto(cfg: StudyConfig) -> StudyConfig:
    """Every "auto" value made this machine's (bf16: `precision.cpu_bf16()`), so that config.resolved.json records
    what ran and a folder resumed on a machine that resolves otherwise is refused, not mixed."""
    def autos(obj: Any) -> list[str]:
        return [f.name for f in fields(obj) if f.metadata.get("auto") and getattr(obj, f.name) == AUTO]

    if not any(autos(obj) for obj in (cfg, *cfg.arms)):
        return cfg
    native = cpu_bf16()     # read once, however many keys say "auto"
    return replace(cfg, **dict.fromkeys(autos(cfg), native),
                   arms=tuple(replace(a, **dict.fromkeys(autos(a), native)) for a in cfg.arms))


def _check(cfg: StudyConfig, src: str) -> None:
    if "examples" not in cfg.conditions:
        raise InputError("the conditions must include the control `examples`", src)
    if len(cfg.grammars) < 2 or len(cfg.grammars) % 2:
        raise InputError("a study needs an even number (≥ 2) of grammars: half are explained in each run", src)
    if len(cfg.seeds) % 2:
        raise InputError("seeds should be an even number of integers (complementary pairs)", src)
    for g in cfg.grammars:
        if not cfg.grammar_path(g).is_file():
            raise InputError(f"no grammar {g!r} in {cfg.grammar_path(g).parent}/ (grammar_dir is relative to the "
                             "config file)", src)
    bad = [s for s in cfg.styles.split(",") if s.strip() not in STYLES]
    if bad:
        raise InputError(f"[data] styles: unknown style {bad[0]!r} (styles: {', '.join(STYLES)})", src)
    _check_language_sizes(cfg, src)


def _check_language_sizes(cfg: StudyConfig, src: str) -> None:
    """Each grammar must have the distinct strings a seed draws under the length cap (the largest dose, the test
    strings and the `worked` pool): found here, not an hour into a study."""
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.sample import language_size

    need = cfg.max_dose + cfg.test_strings + cfg.pool_size
    for name in cfg.grammars:
        size = language_size(load_grammar(cfg.grammar_path(name)), cfg.max_len, at_least=need)
        if size is not None:
            raise InputError(f"grammar {name!r} has only {size} distinct strings of at most {cfg.max_len} terminals; "
                             f"a seed draws {need} (largest dose {cfg.max_dose} + test_strings {cfg.test_strings}"
                             + (f" + worked pool {cfg.pool_size}" if cfg.pool_size else "")
                             + "): lower those or raise [data] max_len", src)


def _arms(table: Any, src: str, models: list[str] | None) -> tuple[Arm, ...]:
    if models:
        return tuple(Arm(name=m.rstrip("/").split("/")[-1], model=m, method="qlora") for m in models)
    if not isinstance(table, dict) or not table:
        raise InputError("the config has no [arms.NAME] tables", src)
    arms = []
    for name, spec in table.items():
        given = _read_section(spec, "arms", Arm, src, f"arms.{name}")
        if given.get("model") is not None:   # a local folder is relative to the config file; a hub id stays
            here = (Path(src).resolve().parent / given["model"]).resolve()
            given["model"] = str(here) if here.exists() else given["model"]
        arm = Arm(name=name, **given)
        if arm.bridged and not arm.tiny:
            raise InputError(f"[arms.{name}] only tiny from-scratch arms can be bridged", src)
        unused = sorted(k for k in given if k.startswith("bridge_") and not arm.bridged)
        if unused:
            raise InputError(f"[arms.{name}] {unused[0]} is set but the arm is not bridged (nothing would use it)",
                             src)
        arms.append(arm)
    return tuple(arms)
