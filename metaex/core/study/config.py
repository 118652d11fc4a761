"""A study configuration (TOML): grammars × conditions × doses × arms × seeds, read strictly and resolved whole.

Every key is an option (`metaex.core.options`), checked where it is read (type, finiteness, range, choices):
- the study's own keys are the fields of `Design` [study], `Data` [data], `ModelKeys` [model], `ProbeKeys` [probe]
  and `Arm` [arms.NAME];
- [model] and [arms.NAME] also take any field of `TrainOptions`, and [probe] any of `ProbeOptions`, as partial
  options: a field a config leaves out is the option's study default (`Spec.study`, else its default), and an
  arm's own value overrides the study's; the fields the plan sets per step (`Section.plan_sets`) are not keys.
  A new training or probe option is a config key with no line here.
`read.py` reads a file into a `StudyConfig`; an unknown section or key is an error naming the closest valid one. `resolved()` is every value after defaults,
written to the study folder's `config.resolved.json`; a resumed study whose config resolves differently is
refused (`changed_key`). A relative `grammar_dir` is relative to the config file's folder. The plan checks
every step's options before a study's first step (`metaex.core.study.plan.build_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaex.core.conditions import CONDITIONS, TOLD
from metaex.core.errors import InputError
from metaex.core.explain.options import ExplainOptions
from metaex.core.mix import MixOptions
from metaex.core.mix.bridge import BridgeOptions
from metaex.core.models.tiny import SIZES
from metaex.core.options import Opt, like, option, options
from metaex.core.probe.options import ProbeOptions
from metaex.core.report.options import ReportOptions
from metaex.core.study.slurm import SlurmConfig
from metaex.core.train.options import TrainOptions


@dataclass(frozen=True, kw_only=True)
class Design:
    """[study]"""

    grammars: tuple[str, ...] = option(help="shipped templates (GRAMMAR_DIR/NAME.pcfg), instantiated per seed",
                                       nonempty=True, distinct=True)
    seeds: tuple[int, ...] = option(help="an even number: seeds 2k and 2k+1 explain complementary halves", low=0,
                                    nonempty=True, distinct=True)
    conditions: tuple[str, ...] = option(help="conditions, `examples` among them", choices=CONDITIONS,
                                         nonempty=True, distinct=True)
    doses: tuple[int, ...] = option(help="example strings per grammar (doses nest)", low=1, nonempty=True,
                                    distinct=True)
    ladder: tuple[int, ...] = option((), "extra doses run for `examples` only: the dose-response the exchange rate "
                                     "reads", low=1, distinct=True)
    grammar_dir: str = option("../grammars", "folder of the templates, relative to this config file")
    contest_pairs: int = option(40, "contested design: contested test pairs per grammar (the probe's contest items)",
                                low=1)
    contest_ladder: tuple[int, ...] = option((), "contested design: contested strings of the told variant added as "
                                             "examples (conditions contested-N: the design's exchange rate)", low=1,
                                             distinct=True)
    exposure: tuple[int, ...] = option((), "contested design: paraphrases per style of the told explanations, each "
                                       "a condition told-pK beside `told` (which has [data] paraphrases): the "
                                       "exposure curve", low=1, distinct=True)


@dataclass(frozen=True, kw_only=True)
class Data:
    """[data]"""

    max_len: int = option(20, "longest string sampled", low=1, unit="terminals")
    test_strings: int = option(150, "held-out strings per grammar", low=1)
    paraphrases: int = like(ExplainOptions, "paraphrases", help="explanation paraphrases per style", short=None)
    styles: str = like(ExplainOptions, "styles", help="explanation styles, comma-separated")
    filler_grammars: int = option(4, "random grammars outside the study whose explanations are filler", low=0)
    worked_multiplier: float = option(2.0, "planted control: extra strings per explained grammar = this × dose",
                                      low=0)
    worked_per_doc: int | None = like(MixOptions, "worked_per_doc", help="strings per worked document")
    contest_worked: int | None = option(None, "contested design's plant: contested strings per grammar `told-worked` "
                                        "carries (default: worked_multiplier × dose)", low=1)
    worked_passes: int | None = option(None, "appearances of each worked document (at most the passes over the "
                                       "examples)", low=1)
    example_steps: int = option(160, "passes are chosen so `examples` trains about this many steps", low=1)
    extra_passes: int | None = like(MixOptions, "extra_passes", help="appearances of each extra document (at most "
                                    "the passes over the examples)")


@dataclass(frozen=True, kw_only=True)
class ModelKeys:
    """[model]: the tiny models' size (and any field of TrainOptions)"""

    size: str = option("tiny", "tiny model size", choices=tuple(SIZES))


@dataclass(frozen=True, kw_only=True)
class ProbeKeys:
    """[probe]: which models are probed in context (and any field of ProbeOptions)"""

    in_context_conditions: tuple[str, ...] = option(
        # the halves design's conditions, as before the contested design came (a folder's resolved default)
        ("examples", "explained", "mismatched", "filler", "explanations-only", "worked"),
        "conditions whose fine-tuned models are probed in context too (a pre-trained arm's base model "
        "always is, once per seed; a tiny arm's other models are not)", choices=CONDITIONS, nonempty=True,
        distinct=True)


@dataclass(frozen=True, kw_only=True)
class AnalysisKeys:
    """[analysis]: what the report's answer reads (any field of ReportOptions but the metrics, contrasts and
    resampling a study's report always uses)"""


@dataclass(frozen=True, kw_only=True)
class Arm:
    """One model line of the study ([arms.NAME]): a tiny model from scratch (bridged or not) or a base model; its
    `train` holds the TrainOptions fields it sets itself (`method`: full for tiny arms, qlora for base models)."""

    name: str
    model: str | None = option(None, "a local model folder or hub id; none: a tiny model built per seed")
    bridged: bool = option(False, "pre-train on a bridging corpus of random grammars first (tiny arms)")
    bridge_grammars: int = like(BridgeOptions, "grammars", 24, help="random grammars in the bridging corpus")
    bridge_examples: int = like(BridgeOptions, "examples", 32, help="example documents per bridging grammar")
    bridge_epochs: float = like(TrainOptions, "epochs", 2.0, help="passes over the bridging corpus")
    bridge_contested: int = like(BridgeOptions, "contested", help="contested textbooks per bridging grammar")
    # an arm may train on its own stream (pre-trained models cost ~100× a tiny one per token): its own mixes then
    example_steps: int | None = like(Data, "example_steps", None, help="this arm's `examples` steps (default: "
                                     "[data] example_steps)")
    extra_passes: int | None = like(Data, "extra_passes", help="this arm's appearances of each extra document")
    worked_passes: int | None = like(Data, "worked_passes", help="this arm's appearances of each worked document")
    ladder: tuple[int, ...] | None = like(Design, "ladder", None, help="this arm's `examples` ladder (default: "
                                          "[study] ladder; [] for none, where a pre-trained arm's budget cannot pay "
                                          "for one)")
    contest_ladder: tuple[int, ...] | None = like(Design, "contest_ladder", None, help="this arm's contested ladder "
                                                  "(default: [study] contest_ladder; [] for none)")
    exposure: tuple[int, ...] | None = like(Design, "exposure", None, help="this arm's exposure ladder (default: "
                                            "[study] exposure; [] for none)")
    in_context_conditions: tuple[str, ...] | None = like(
        ProbeKeys, "in_context_conditions", None, nonempty=False,
        help="conditions whose fine-tuned models this arm probes in context (default: [probe] "
        "in_context_conditions; [] for the base model alone, where a pre-trained arm's budget cannot pay for more)")
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def tiny(self) -> bool:
        return self.model is None

    @property
    def train_method(self) -> str:
        return self.train.get("method") or ("full" if self.tiny else "qlora")


@dataclass(frozen=True)
class Section:
    """A config table: its own keys (the options of `own`) and, partially, the options of `takes`, less those the
    plan sets per step; `values`: the StudyConfig field holding those partial options."""

    own: type
    takes: type | None = None
    plan_sets: tuple[str, ...] = ()
    values: str | None = None

    def settable(self) -> tuple[Opt, ...]:
        return tuple(o for o in options(self.takes) if o.name not in self.plan_sets) if self.takes else ()

    def keys(self) -> dict[str, tuple[Opt, bool]]:
        """{key: (option, whether it is one of `takes`)}."""
        return {**{o.key: (o, False) for o in options(self.own)}, **{o.key: (o, True) for o in self.settable()}}


SECTIONS = {
    "study": Section(Design),
    "data": Section(Data),
    # a study fine-tunes without held-out documents: no evaluation, no early stopping
    "model": Section(ModelKeys, TrainOptions, ("method", "seed", "eval_steps", "early_stopping"), "train"),
    # the probe's seed is the run's, its length cap [data] max_len, its precision the arm's training precision
    "probe": Section(ProbeKeys, ProbeOptions, ("seed", "max_len", "in_context_base_only", "bf16"), "probe"),
    # the report's settings: they change no step's outputs but the report's (`changed_key` lets them change; the
    # report step is redone when its report was written with other settings)
    "analysis": Section(AnalysisKeys, ReportOptions, ("metrics", "contrasts", "resample_items"), "analysis"),
}
ARMS = Section(Arm, TrainOptions, SECTIONS["model"].plan_sets[1:])   # an arm sets its own method


@dataclass(frozen=True, kw_only=True)
class StudyConfig(Design, Data, ModelKeys, ProbeKeys, AnalysisKeys):
    path: str
    train: dict[str, Any] = field(default_factory=dict)   # every [model] TrainOptions key, resolved
    probe: dict[str, Any] = field(default_factory=dict)   # every [probe] ProbeOptions key, resolved
    analysis: dict[str, Any] = field(default_factory=dict)   # every [analysis] ReportOptions key, resolved
    arms: tuple[Arm, ...] = ()
    # how a cluster runs the study, not what it computes: not in resolved(), so a new time limit resumes a folder
    slurm: SlurmConfig = field(default_factory=SlurmConfig)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise InputError(f"no arm {name!r} in the config (arms: {', '.join(a.name for a in self.arms)})", self.path)

    def analysis_options(self) -> ReportOptions:
        """The options the study's report runs with ([analysis])."""
        return ReportOptions(**self.analysis)

    def train_options(self, arm: Arm, seed: int = 0) -> TrainOptions:
        """The options an arm's fine-tunes run with: the study's, the arm's own over them, the seed."""
        return TrainOptions(**{**self.train, "method": arm.train_method, **arm.train, "seed": seed})

    def passes(self, dose: int, arm: Arm | None = None) -> int:
        """Passes over the example documents so that `examples` trains about `example_steps` steps (the arm's own
        steps and batch size where it sets them)."""
        steps = arm.example_steps if arm is not None and arm.example_steps else self.example_steps
        batch = self.train_options(arm).batch_size if arm is not None else self.train["batch_size"]
        return max(1, round(steps * batch / (dose * len(self.grammars))))

    def stream(self, cond: str, dose: int, arm: Arm | None = None) -> tuple[int, int | None]:
        """(passes over the examples, appearances of each extra document) of a condition's mix for an arm."""
        passes = self.passes(dose, arm)
        worked = (arm.worked_passes if arm is not None and arm.worked_passes else None) or self.worked_passes
        extra = (arm.extra_passes if arm is not None and arm.extra_passes else None) or self.extra_passes
        chosen = worked if cond in ("worked", "told-worked") and worked else extra
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
        rungs = self.contest_ladder if arm.contest_ladder is None else arm.contest_ladder
        contested = [(f"contested-{n}", d) for n in sorted(rungs) for d in self.doses]
        told = [(f"told-p{k}", d) for k in sorted(self.exposure_of(arm)) for d in self.doses]
        return main + told + contested + [("examples", d) for d in sorted(set(self.ladder_of(arm)) - set(self.doses))]

    def exposure_of(self, arm: Arm) -> tuple[int, ...]:
        """The arm's exposure ladder (paraphrases per style of `told-pK`): its own, else the study's."""
        return self.exposure if arm.exposure is None else arm.exposure

    @property
    def explain_paraphrases(self) -> int:
        """Paraphrases per style each grammar's explanation step writes: enough for `told` and every told-pK."""
        return max((self.paraphrases, *(k for a in self.arms for k in self.exposure_of(a))))

    @property
    def contested(self) -> bool:
        """Whether the study runs the contested-rule design (a told condition or a contested ladder): then every
        grammar is contested per seed, every condition's examples and tests come from the shared sub-language,
        and the told variant is the grammar every later step reads."""
        return bool(set(self.conditions) & set(TOLD) or self.contest_ladder
                    or any(a.contest_ladder or self.exposure_of(a) for a in self.arms))

    def told_worked_strings(self, dose: int) -> int:
        """Contested strings per grammar that `told-worked` plants at `dose`."""
        return self.contest_worked or int(round(self.worked_multiplier * dose))

    @property
    def contest_strings(self) -> int:
        """Contested strings of the told variant per grammar: the ladder's largest rung, and `told-worked`'s."""
        worked = self.told_worked_strings(max(self.doses)) if "told-worked" in self.conditions else 0
        return max((*self.contest_ladder, *(n for a in self.arms for n in a.contest_ladder or ()), worked, 0))

    def probe_options(self, seed: int = 0, condition: str = "examples", arm: Arm | None = None) -> ProbeOptions:
        """The options the probe of a `condition` model runs with: in context, for its base model alone where the
        condition is not in the arm's `in_context_conditions` (else [probe]'s); decoding in the precision the arm
        trains in."""
        icl = self.probe["in_context"]
        precise = (self.train_options(arm) if arm is not None else TrainOptions(**self.train)).bf16
        own = None if arm is None else arm.in_context_conditions
        read = self.in_context_conditions if own is None else own
        return ProbeOptions(**{**self.probe, "in_context_samples": self.probe["in_context_samples"] if icl else None},
                            seed=seed, max_len=self.max_len, bf16=precise,
                            in_context_base_only=icl and condition not in read)

    @property
    def max_dose(self) -> int:
        """The largest dose of any cell (the train file's size)."""
        return max((*self.doses, *self.ladder, *(d for a in self.arms for d in a.ladder or ())))

    @property
    def strings_needed(self) -> int:
        """Distinct strings a seed draws from each grammar (or its shared sub-language): the largest dose, the test
        strings and the `worked` pool."""
        return self.max_dose + self.test_strings + self.pool_size

    @property
    def pool_size(self) -> int:
        """Extra strings per grammar for the `worked` control, disjoint from every dose's examples."""
        return int(round(self.worked_multiplier * max(self.doses))) if "worked" in self.conditions else 0

    def grammar_path(self, name: str) -> Path:
        """The template of grammar `name`: grammar_dir, relative to the config file's folder."""
        return (Path(self.path).resolve().parent / self.grammar_dir / f"{name}.pcfg").resolve()

    def resolved(self) -> dict[str, Any]:
        """Every value of the study after defaults, by section (config.resolved.json); an option that is not
        `recorded` (how a run is watched) is left out, so changing it resumes a folder."""
        out: dict[str, Any] = {}
        for name, section in SECTIONS.items():
            values = getattr(self, section.values) if section.values else {}
            out[name] = {key: _plain(values[o.name] if partial else getattr(self, o.name))
                         for key, (o, partial) in section.keys().items() if o.spec.recorded}
        out["study"]["grammar_dir"] = str(self.grammar_path("x").parent)
        out["arms"] = {a.name: {**{key: _plain(a.train.get(o.name) if partial else getattr(a, o.name))
                                   for key, (o, partial) in ARMS.keys().items() if o.spec.recorded},
                                "method": a.train_method} for a in self.arms}
        return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
