"""A study as a list of steps, each a `metaex` command line with the files it writes.

The plan is the study: `metaex study plan` prints it as a shell script, `metaex study run` executes it in one
process (no import cost per cell, STUDY.md speed traps), skipping every step whose outputs already exist, so an
interrupted study resumes where it stopped. Outputs are written atomically by the commands themselves.

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

from dataclasses import dataclass, replace
from pathlib import Path

from metaex.core.mix import manifest_path
from metaex.core.study.config import Arm, StudyConfig
from metaex.core.train.options import TrainOptions

STAGES = ("data", "train", "report")


@dataclass(frozen=True)
class Step:
    """One command of the study. `args` is a `metaex` command line, or `("concat", OUT, IN…)` (an internal
    step that joins JSONL files, shown in the shell plan as `cat`)."""

    stage: str
    name: str
    args: tuple[str, ...]
    outputs: tuple[Path, ...]
    arm: str | None = None
    seed: int | None = None

    def done(self) -> bool:
        return all(p.exists() for p in self.outputs)

    def shell(self) -> str:
        if self.args[0] == "concat":
            return f"cat {' '.join(self.args[2:])} > {self.args[1]}"
        return "metaex " + " ".join(_quote(a) for a in self.args)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=,:+" for c in arg) else "'" + arg.replace("'", "'\\''") + "'"


def build_plan(cfg: StudyConfig, out: str | Path, arms: list[str] | None = None) -> list[Step]:
    """Every step of the study; with `arms`, only theirs, and a report of those arms alone (`report-ARM…/`, so the
    whole study's report is never replaced by a part of it)."""
    root = Path(out)
    chosen = [a for a in cfg.arms if arms is None or a.name in arms]
    steps: list[Step] = []
    for seed in cfg.seeds:
        steps += _data_steps(cfg, root, seed)
    for arm in chosen:
        for seed in cfg.seeds:
            steps += _train_steps(cfg, root, seed, arm)
    probes = [s.outputs[0].parent for s in steps if s.args[0] == "probe"]
    folder = root / ("report" if len(chosen) == len(cfg.arms) else "report-" + "+".join(a.name for a in chosen))
    steps.append(Step("report", "report", ("report", *map(str, probes), "--out", str(folder)),
                      (folder / "report.md",)))
    return steps


def _data_steps(cfg: StudyConfig, root: Path, seed: int) -> list[Step]:
    d = root / f"seed{seed}"
    gdir, data, fdir = d / "grammars", d / "data", d / "filler"
    steps: list[Step] = []
    instances: list[Path] = []
    for name in cfg.grammars:
        inst = gdir / f"{name}.pcfg"
        avoid = [a for p in instances for a in ("--avoid", str(p))]
        steps.append(Step("data", f"seed{seed} instantiate {name}",
                          ("grammar", "instantiate", str(cfg.grammar_path(name)), "--seed", str(seed), *avoid, "-o", str(inst)),
                          (inst,)))
        instances.append(inst)
    max_dose = cfg.max_dose
    for name, inst in zip(cfg.grammars, instances, strict=True):
        train, test = data / f"{name}.train.jsonl", data / f"{name}.test.jsonl"
        common = ("--max-len", str(cfg.max_len), "--distinct")
        steps.append(Step("data", f"seed{seed} sample {name}",
                          ("grammar", "sample", str(inst), "-n", str(max_dose), "--seed", str(seed), *common,
                           "--split", "train", "--test", str(cfg.test_strings), "--test-out", str(test),
                           "-o", str(train)), (train, test)))
        steps.append(Step("data", f"seed{seed} pairs {name}",
                          ("grammar", "pairs", str(inst), str(test), "--seed", str(seed), "-o",
                           str(data / f"{name}.pairs.jsonl")), (data / f"{name}.pairs.jsonl",)))
        steps.append(Step("data", f"seed{seed} explain {name}",
                          ("explain", str(inst), "--styles", cfg.styles, "--paraphrases", str(cfg.paraphrases),
                           "--seed", str(seed), "-o", str(data / f"{name}.expl.jsonl")),
                          (data / f"{name}.expl.jsonl",)))
        if cfg.pool_size:
            # drawn with another seed; `mix` drops any that are train or test strings
            n = cfg.pool_size + max_dose + cfg.test_strings
            steps.append(Step("data", f"seed{seed} pool {name}",
                              ("grammar", "sample", str(inst), "-n", str(n), "--seed", str(seed + 7919), *common,
                               "--split", "pool", "-o", str(data / f"{name}.pool.jsonl")),
                              (data / f"{name}.pool.jsonl",)))
    for kind in ("test", "pairs", "expl"):
        out = data / f"{kind}.jsonl" if kind != "test" else data / "tests.jsonl"
        ins = [str(data / f"{name}.{kind}.jsonl") for name in cfg.grammars]
        steps.append(Step("data", f"seed{seed} join {kind}", ("concat", str(out), *ins), (out,)))
    fillers = []
    for i in range(cfg.filler_grammars if "filler" in cfg.conditions else 0):
        raw, inst = fdir / f"F{i}.raw.pcfg", fdir / f"F{i}.pcfg"
        family = "regular" if i % 2 else "cfg"
        steps.append(Step("data", f"seed{seed} filler grammar {i}",
                          ("grammar", "random", "--family", family, "--seed", str(1000 * seed + i), "-o", str(raw)),
                          (raw,)))
        avoid = [a for p in instances + fillers for a in ("--avoid", str(p))]
        steps.append(Step("data", f"seed{seed} filler instance {i}",
                          ("grammar", "instantiate", str(raw), "--seed", str(seed), *avoid, "-o", str(inst)), (inst,)))
        fillers.append(inst)
        steps.append(Step("data", f"seed{seed} filler explain {i}",
                          ("explain", str(inst), "--styles", cfg.styles, "--paraphrases", str(cfg.paraphrases),
                           "--seed", str(seed), "-o", str(fdir / f"F{i}.expl.jsonl")), (fdir / f"F{i}.expl.jsonl",)))
    streams = {(c, dose, cfg.mix_name(c, dose, arm)): cfg.stream(c, dose, arm)
               for arm in cfg.arms for c, dose in cfg.cells(arm)}
    for (cond, dose, stem), (passes, extra) in streams.items():
        out = d / "mix" / f"{stem}.jsonl"
        args = ["mix", "--condition", cond, "--dose", str(dose), "--seed", str(seed),
                "--passes", str(passes), "--paraphrases", str(cfg.paraphrases), "-o", str(out)]
        for name, inst in zip(cfg.grammars, instances, strict=True):
            args += ["--examples", str(data / f"{name}.train.jsonl"), "--grammar", str(inst),
                     "--explanations", str(data / f"{name}.expl.jsonl"),
                     "--tests", str(data / f"{name}.test.jsonl"), "--tests", str(data / f"{name}.pairs.jsonl")]
            if cond == "worked":
                args += ["--pool", str(data / f"{name}.pool.jsonl")]
        if extra is not None:
            args += ["--extra-passes", str(extra)]
        if cond == "worked":
            args += ["--worked-strings", str(int(round(cfg.worked_multiplier * dose)))]
            if cfg.worked_per_doc:
                args += ["--worked-per-doc", str(cfg.worked_per_doc)]
        if cond == "filler":
            args += [a for i in range(len(fillers)) for a in ("--filler", str(fdir / f"F{i}.expl.jsonl"))]
        steps.append(Step("data", f"seed{seed} mix {stem.replace(f'-d{dose}', f' d{dose}')}", tuple(args),
                          (out, manifest_path(out))))
    if any(a.bridged for a in cfg.arms):
        arm = next(a for a in cfg.arms if a.bridged)
        avoid = [a for p in instances + fillers for a in ("--avoid", str(p))]
        steps.append(Step("data", f"seed{seed} bridging corpus",
                          ("bridge", "--grammars", str(arm.bridge_grammars), "--seed", str(seed),
                           "--examples-per-grammar", str(arm.bridge_examples), *avoid, "-o", str(d / "bridge.jsonl")),
                          (d / "bridge.jsonl", manifest_path(d / "bridge.jsonl"))))
    if any(a.tiny for a in cfg.arms):
        vocab = [a for p in instances + fillers for a in ("--vocab-from", str(p))]
        vocab += [a for i in range(len(fillers)) for a in ("--vocab-from", str(fdir / f"F{i}.expl.jsonl"))]
        if any(a.bridged for a in cfg.arms):
            vocab += ["--vocab-from", str(d / "bridge.jsonl")]
        steps.append(Step("data", f"seed{seed} tiny model",
                          ("model", "tiny", *vocab, "--vocab-from", str(data / "expl.jsonl"),
                           "--no-lexicon", "--size", cfg.size,
                           "--seed", str(seed), "-o", str(d / "init")), (d / "init" / "config.json",)))
    return [replace(s, seed=seed) for s in steps]


def _train_steps(cfg: StudyConfig, root: Path, seed: int, arm: Arm) -> list[Step]:
    d = root / f"seed{seed}"
    data = d / "data"
    steps: list[Step] = []
    base = str(d / "init") if arm.tiny else str(arm.model)
    lr = arm.lr if arm.lr is not None else cfg.lr
    common = ["--batch-size", str(cfg.batch(arm)), "--seed", str(seed), "--quiet", "--save-steps",
              str(cfg.save_steps), "--resume"]
    if lr is not None:
        common += ["--lr", str(lr)]
    if cfg.clip(arm) != TrainOptions.max_grad_norm:  # only where set: the plans of folders started before the key
        common += ["--max-grad-norm", str(cfg.clip(arm))]
    bf16 = ("--bf16",) if cfg.uses_bf16(arm) else ()
    if arm.bridged:
        pre = d / arm.name / "pretrain"
        steps.append(Step("train", f"seed{seed} {arm.name} bridging pre-training",
                          ("finetune", str(d / "bridge.jsonl"), "--model", base, "--method", "full", "--out", str(pre),
                           "--epochs", str(arm.bridge_epochs), "--shuffle", "--unseen-init", *common),
                          (pre / "final",), arm.name, seed))
        base = str(pre)
    # the novelty reference: every string some condition of this seed trained on, read from its mixes
    # (the design's cells; a ladder cell adds its own mix: no other model saw its extra strings)
    design = list(dict.fromkeys(str(d / "mix" / f"{cfg.mix_name(c, dose, a)}.jsonl") for a in cfg.arms
                                for c in cfg.conditions for dose in cfg.doses))
    for cond, dose in cfg.cells(arm):
        own = str(d / "mix" / f"{cfg.mix_name(cond, dose, arm)}.jsonl")
        train_sets = design if own in design else [*design, own]
        run = d / arm.name / f"{cond}-d{dose}"
        steps.append(Step("train", f"seed{seed} {arm.name} finetune {cond} d{dose}",
                          ("finetune", str(d / "mix" / f"{cfg.mix_name(cond, dose, arm)}.jsonl"), "--model", base,
                           "--method", arm.train_method, "--out", str(run), "--loss-norm", cfg.loss_norm,
                           *common, *bf16),
                          (run / "final",), arm.name, seed))
        probe = root / "probes" / arm.name / f"seed{seed}-{cond}-d{dose}"
        grammars = [a for n in cfg.grammars for a in ("--grammar", str(d / "grammars" / f"{n}.pcfg"))]
        adapter = arm.train_method in ("lora", "qlora")
        variant = ("--adapter", str(run)) if adapter else ("--model", str(run))
        # adapters of one base share a parts folder per seed: the base model is probed once per seed
        shared = ("--parts", str(root / "parts" / arm.name / f"seed{seed}")) if adapter else ()
        steps.append(Step("train", f"seed{seed} {arm.name} probe {cond} d{dose}",
                          ("probe", *variant, *grammars, "--tests", str(data / "tests.jsonl"),
                           "--pairs", str(data / "pairs.jsonl"), "--explanations", str(data / "expl.jsonl"),
                           *[a for t in train_sets for a in ("--train", t)],
                           *cfg.probe_options(seed, cond, arm).cli_args(),
                           "--arm", arm.name,
                           *shared, "--out", str(probe)), (probe / "config.json",), arm.name, seed))
    return steps
