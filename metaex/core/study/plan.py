"""A study as a list of typed steps, grouped into cells (the units a cluster schedules).

The plan is the study: `metaex study plan` prints it as a shell script (each step's `metaex` command line),
`metaex study run` executes it in one process through `metaex.core.study.runner` (no import cost per cell,
STUDY.md speed traps), skipping every step whose outputs already exist, so an interrupted study resumes where it
stopped. Each step is a typed call (`metaex.core.study.steps`): its kind, its arguments and options, its inputs
and outputs, its stage, seed, arm and cell.

Cells, with the cells each needs done first (`Plan.needs`); an id is the folder (under the study folder) that
holds the cell's own outputs:
  seed{s}/data                    every data step of seed s: instances, strings, pairs, explanations, filler,
                                  mixes, the bridging corpus, the tiny initial model; needs nothing
  seed{s}/{ARM}/pretrain          the bridged arm's pre-training on seed s's bridging corpus; needs seed{s}/data
  seed{s}/{ARM}/{COND}-d{DOSE}    one fine-tune and its probe; needs seed{s}/data (and seed{s}/{ARM}/pretrain
                                  when the arm is bridged)
  report  (report-ARM+…  for a plan of some arms)   the report; needs every fine-tune cell of the plan
Cells of different ids may run at the same time (in one study folder, from different processes); the adapters
of one arm and seed share a probe parts folder (parts/ARM/seed{s}/) whose parts are written atomically.

Layout under the study folder (per seed s):
  seed{s}/grammars/NAME.pcfg               instances (fresh nonce name and alphabet per seed)
  seed{s}/data/NAME.{train,test,pool,pairs,expl}.jsonl, tests.jsonl, pairs.jsonl, expl.jsonl (all grammars)
  seed{s}/filler/F{i}.pcfg, F{i}.expl.jsonl  grammars outside the study and their explanations
  seed{s}/mix/COND-dDOSE.jsonl (+ .manifest.json)
  seed{s}/init/                             the tiny model every condition of the seed starts from
  seed{s}/bridge.jsonl, seed{s}/ARM/pretrain/  the bridging corpus and the bridged arm's pre-training
  seed{s}/ARM/COND-dDOSE/                   fine-tuning run folders
  probes/ARM/seed{s}-COND-dDOSE/            probe outputs;  report/  the report
  parts/ARM/seed{s}/                        probe parts shared by the adapters of one base model (base probed once)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from metaex.core.conditions import ladder_n, paraphrases_of
from metaex.core.errors import InputError
from metaex.core.explain.options import ExplainOptions
from metaex.core.mix import MixOptions, manifest_path
from metaex.core.mix.bridge import BridgeOptions
from metaex.core.study import steps as S
from metaex.core.study.config import Arm, StudyConfig
from metaex.core.study.contested import grammar_files
from metaex.core.train.options import TrainOptions

STAGES = ("data", "train", "report")


@dataclass(frozen=True)
class Step:
    """One step of the study: a typed call, the outputs whose existence marks it done, and where it belongs."""

    stage: str
    name: str
    call: S.Call
    outputs: tuple[Path, ...]
    cell: str
    arm: str | None = None
    seed: int | None = None

    @property
    def kind(self) -> str:
        return self.call.kind

    @property
    def inputs(self) -> tuple[Path, ...]:
        return self.call.inputs()

    def argv(self) -> list[str]:
        return self.call.argv()

    def done(self) -> bool:
        """Every output exists (and, for a call that can tell, was made with this step's settings: a report
        written with other [analysis] settings is redone)."""
        return all(p.exists() for p in self.outputs) and getattr(self.call, "current", lambda: True)()

    def run(self) -> str:
        """Do the step in this process (the same core function its command calls); its one-line summary."""
        return self.call.run()

    def shell(self) -> str:
        args = self.argv()
        if self.kind == "concat":
            return f"cat {' '.join(args[2:])} > {args[1]}"
        return "metaex " + " ".join(_quote(a) for a in args)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=,:+" for c in arg) else "'" + arg.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class Cell:
    """A unit of scheduling: its steps in order, and the cells that must be done before it starts."""

    id: str
    stage: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...]
    seed: int | None = None
    arm: str | None = None

    def done(self) -> bool:
        return all(s.done() for s in self.steps)


@dataclass
class Plan:
    steps: list[Step]
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """The cells of the plan's steps, in plan order."""
        by_id: dict[str, list[Step]] = {}
        for s in self.steps:
            by_id.setdefault(s.cell, []).append(s)
        return [Cell(i, ss[0].stage, tuple(ss), self.needs.get(i, ()), ss[0].seed, ss[0].arm)
                for i, ss in by_id.items()]


def data_cell(seed: int) -> str:
    return f"seed{seed}/data"


def build_plan(cfg: StudyConfig, out: str | Path, arms: list[str] | None = None) -> Plan:
    """Every step of the study; with `arms`, only theirs, and a report of those arms alone (`report-ARM…/`, so the
    whole study's report is never replaced by a part of it)."""
    root = Path(out)
    chosen = [a for a in cfg.arms if arms is None or a.name in arms]
    plan = Plan([])
    for seed in cfg.seeds:
        plan.steps += _data_steps(cfg, root, seed)
    for arm in chosen:
        for seed in cfg.seeds:
            _train_steps(cfg, root, seed, arm, plan)
    probes = [s.call.out for s in plan.steps if s.kind == "probe"]
    folder = root / ("report" if len(chosen) == len(cfg.arms) else "report-" + "+".join(a.name for a in chosen))
    plan.needs[folder.name] = tuple(dict.fromkeys(s.cell for s in plan.steps if s.kind == "probe"))
    plan.steps.append(Step("report", "report", S.Report(tuple(probes), folder, cfg.analysis_options()),
                           (folder / "report.md",),
                           folder.name))
    _check(plan, cfg)
    return plan


def _data_steps(cfg: StudyConfig, root: Path, seed: int) -> list[Step]:
    d = root / f"seed{seed}"
    gdir, data, fdir = d / "grammars", d / "data", d / "filler"
    steps: list[Step] = []

    def step(name: str, call: S.Call, *outputs: Path) -> None:
        steps.append(Step("data", f"seed{seed} {name}", call, outputs or (call.out,), data_cell(seed), seed=seed))

    wording = ExplainOptions(styles=cfg.styles, paraphrases=cfg.explain_paraphrases, seed=seed)
    filler_wording = ExplainOptions(styles=cfg.styles, paraphrases=cfg.paraphrases, seed=seed)   # `filler` only
    instances: list[Path] = []
    for name in cfg.grammars:
        inst = gdir / f"{name}.pcfg"
        step(f"instantiate {name}", S.Instantiate(cfg.grammar_path(name), seed, inst, tuple(instances)))
        instances.append(inst)
    # the grammar every later step reads: the instance, or (contested design) its told variant, whose examples,
    # tests and pool come from the shared sub-language (derivations without the contested alternative)
    used = grammar_files(d, seed, cfg.grammars, cfg.contested)
    shared = cfg.contested
    for name, inst, told in zip(cfg.grammars, instances, used, strict=True):
        if shared:
            cdir = told.parent
            need = cfg.strings_needed
            step(f"contest {name}", S.Contest(inst, seed, told.stem, cfg.contest_pairs, cfg.contest_strings,
                                              cfg.max_len, need, cdir), told, cdir / "pairs.jsonl")
        train, test = data / f"{name}.train.jsonl", data / f"{name}.test.jsonl"
        step(f"sample {name}", S.Sample(told, cfg.max_dose, seed, cfg.max_len, "train", train, cfg.test_strings, test,
                                        shared), train, test)
        step(f"pairs {name}", S.Pairs(told, test, seed, data / f"{name}.pairs.jsonl"))
        step(f"explain {name}", S.Explain(told, wording, data / f"{name}.expl.jsonl"))
        if cfg.pool_size:
            # drawn with another seed; `mix` drops any that are train or test strings
            n = cfg.pool_size + cfg.max_dose + cfg.test_strings
            step(f"pool {name}", S.Sample(told, n, seed + 7919, cfg.max_len, "pool", data / f"{name}.pool.jsonl",
                                          shared=shared))
    if shared:
        step("join contest", S.Concat(data / "contest.jsonl", tuple(g.parent / "pairs.jsonl" for g in used)))
    for kind in ("test", "pairs", "expl"):
        out = data / f"{kind}.jsonl" if kind != "test" else data / "tests.jsonl"
        step(f"join {kind}", S.Concat(out, tuple(data / f"{name}.{kind}.jsonl" for name in cfg.grammars)))
    fillers: list[Path] = []
    for i in range(cfg.filler_grammars if "filler" in cfg.conditions else 0):
        raw, inst = fdir / f"F{i}.raw.pcfg", fdir / f"F{i}.pcfg"
        step(f"filler grammar {i}", S.RandomGrammar("regular" if i % 2 else "cfg", 1000 * seed + i, raw))
        step(f"filler instance {i}", S.Instantiate(raw, seed, inst, tuple(instances + fillers)))
        fillers.append(inst)
        step(f"filler explain {i}", S.Explain(inst, filler_wording, fdir / f"F{i}.expl.jsonl"))
    streams = {(c, dose, cfg.mix_name(c, dose, arm)): cfg.stream(c, dose, arm)
               for arm in cfg.arms for c, dose in cfg.cells(arm)}
    for (cond, dose, stem), (passes, extra) in streams.items():
        out = d / "mix" / f"{stem}.jsonl"
        worked, told_worked = cond == "worked", cond == "told-worked"
        contested = told_worked or ladder_n(cond) is not None
        opt = MixOptions(
            condition=cond, dose=dose, seed=seed, passes=passes, paraphrases=paraphrases_of(cond, cfg.paraphrases), extra_passes=extra,
            examples=[str(data / f"{n}.train.jsonl") for n in cfg.grammars], grammar_files=list(map(str, used)),
            explanations=[str(data / f"{n}.expl.jsonl") for n in cfg.grammars],
            tests=[str(data / f"{n}.{k}.jsonl") for n in cfg.grammars for k in ("test", "pairs")]
            + ([str(g.parent / "pairs.jsonl") for g in used] if shared else []),
            pool=[str(data / f"{n}.pool.jsonl") for n in cfg.grammars] if worked else [],
            contested=[str(g.parent / "strings.jsonl") for g in used] if contested else [],
            worked_strings=int(round(cfg.worked_multiplier * dose)) if worked else cfg.told_worked_strings(dose)
            if told_worked else None,
            worked_per_doc=cfg.worked_per_doc if worked or told_worked else None,
            filler=[str(fdir / f"F{i}.expl.jsonl") for i in range(len(fillers))] if cond == "filler" else [])
        step(f"mix {stem.replace(f'-d{dose}', f' d{dose}')}", S.Mix(opt, out), out, manifest_path(out))
    corpora = bridge_corpora(cfg, d)
    for path, arm in corpora.items():
        step(f"bridging corpus{'' if path.name == 'bridge.jsonl' else ' ' + arm.name}", S.Bridge(BridgeOptions(
            grammars=arm.bridge_grammars, seed=seed, examples=arm.bridge_examples, contested=arm.bridge_contested,
            avoid=list(map(str, instances + fillers))), path), path, manifest_path(path))
    if any(a.tiny for a in cfg.arms):
        vocab = [*instances, *fillers, *(fdir / f"F{i}.expl.jsonl" for i in range(len(fillers)))]
        vocab += list(corpora)
        vocab.append(data / "expl.jsonl")
        step("tiny model", S.TinyModel(tuple(vocab), cfg.size, seed, d / "init"), d / "init" / "config.json")
    return steps


def bridge_corpora(cfg: StudyConfig, seed_dir: Path) -> dict[Path, Arm]:
    """The seed's bridging corpora, each with the (first) bridged arm whose options make it: `bridge.jsonl` for the
    first bridged arm and every arm whose corpus options are the same, `bridge-ARM.jsonl` for an arm whose differ."""
    out: dict[Path, Arm] = {}
    for arm in (a for a in cfg.arms if a.bridged):
        out.setdefault(bridge_corpus(cfg, arm, seed_dir), arm)
    return out


def bridge_corpus(cfg: StudyConfig, arm: Arm, seed_dir: Path) -> Path:
    """The bridging corpus a bridged arm pre-trains on (`bridge_corpora`)."""
    def key(a: Arm) -> tuple:
        return a.bridge_grammars, a.bridge_examples, a.bridge_contested

    first = next(a for a in cfg.arms if a.bridged)
    return seed_dir / ("bridge.jsonl" if key(arm) == key(first) else f"bridge-{arm.name}.jsonl")


def _train_steps(cfg: StudyConfig, root: Path, seed: int, arm: Arm, plan: Plan) -> None:
    d = root / f"seed{seed}"
    data = d / "data"
    base = str(d / "init") if arm.tiny else str(arm.model)
    train = cfg.train_options(arm, seed)
    needs: tuple[str, ...] = (data_cell(seed),)
    if arm.bridged:
        pre = d / arm.name / "pretrain"
        cell = f"seed{seed}/{arm.name}/pretrain"
        plan.steps.append(Step("train", f"seed{seed} {arm.name} bridging pre-training",
                               S.Finetune(bridge_corpus(cfg, arm, d), base, _pretraining(train, arm), pre), (pre / "final",),
                               cell, arm.name, seed))
        plan.needs[cell] = needs
        needs, base = (*needs, cell), str(pre)
    # the novelty reference: every string some condition of this seed trained on, read from its mixes
    # (the design's cells; a ladder cell adds its own mix: no other model saw its extra strings)
    design = list(dict.fromkeys(d / "mix" / f"{cfg.mix_name(c, dose, a)}.jsonl" for a in cfg.arms
                                for c in cfg.conditions for dose in cfg.doses))
    grammars = tuple(grammar_files(d, seed, cfg.grammars, cfg.contested))
    adapter = arm.train_method in ("lora", "qlora")
    for cond, dose in cfg.cells(arm):
        own = d / "mix" / f"{cfg.mix_name(cond, dose, arm)}.jsonl"
        run = d / arm.name / f"{cond}-d{dose}"
        cell = f"seed{seed}/{arm.name}/{cond}-d{dose}"
        plan.steps.append(Step("train", f"seed{seed} {arm.name} finetune {cond} d{dose}",
                               S.Finetune(own, base, train, run), (run / "final",), cell, arm.name, seed))
        probe = root / "probes" / arm.name / f"seed{seed}-{cond}-d{dose}"
        # adapters of one base share a parts folder per seed: the base model is probed once per seed
        call = S.Probe(run, adapter, grammars, data / "tests.jsonl", data / "pairs.jsonl", data / "expl.jsonl",
                       tuple(design if own in design else [*design, own]), cfg.probe_options(seed, cond, arm),
                       arm.name, probe, root / "parts" / arm.name / f"seed{seed}" if adapter else None,
                       data / "contest.jsonl" if cfg.contested else None)
        plan.steps.append(Step("train", f"seed{seed} {arm.name} probe {cond} d{dose}", call,
                               (probe / "config.json",), cell, arm.name, seed))
        plan.needs[cell] = needs


def _pretraining(train: TrainOptions, arm: Arm) -> TrainOptions:
    """The bridged arm's pre-training: its optimizer settings, all weights, shuffled, the bridge's epochs, new words
    at the mean embedding, and `metaex finetune`'s own loss divisor and precision (the design's loss
    normalisation is for the conditions' fine-tunes; folders started before it keep their pre-training)."""
    defaults = TrainOptions()
    return replace(train, method="full", epochs=arm.bridge_epochs, shuffle=True, unseen_init=True,
                   loss_norm=defaults.loss_norm, bf16=defaults.bf16)


def _check(plan: Plan, cfg: StudyConfig) -> None:
    """Every step's options, checked before the study's first step: a value no step could run with is refused
    now, not after the data stage (the config's keys were checked one by one when it was read)."""
    for step in plan.steps:
        opts = getattr(step.call, "options", None)
        try:
            if opts is not None:
                opts.check()
        except InputError as err:
            raise InputError(f"step '{step.name}': {err}", cfg.path) from None
