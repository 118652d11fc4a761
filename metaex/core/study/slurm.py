"""A study on a SLURM cluster: the plan's cells submitted as job arrays with `sbatch`; SLURM is only the executor.

The study folder stays the one source of truth: a cell is done when its steps' outputs exist (as for `study run`),
and each array task runs `metaex study run CONFIG --out DIR --cell ID…`, which skips what is done and holds each
cell's lock (`core/study/lock.py`), so a task that starts on a cell another process holds fails at once instead of
running it twice. `submit` lays out only the cells that are neither done nor queued by an earlier submission:

- one array per stage and arm, in the order of the plan's dependencies: the data cells (one task per seed), a
  bridged arm's pre-training, each arm's fine-tune cells, the report; a task runs one cell or `cells_per_task`
  consecutive cells of one seed;
- each array depends on the arrays (or the earlier submission's tasks) holding the cells its cells need:
  `--dependency=afterok:…` with `--kill-on-invalid-dep=yes`, so a failed stage cancels what needs it at once
  (docs/DESIGN.md: why not `afterany`);
- resources per array from the config's `[slurm]` table (`SlurmOptions`: partition, GPUs per task, CPUs, memory,
  time, array parallelism, extra `#SBATCH` lines), with `[slurm.data]`, `[slurm.report]` and `[slurm.arms.NAME]`
  overriding it for their tasks, and the command line overriding all.

Every submission is appended to `DIR/slurm/submissions.jsonl` (its arrays: job id, the cells of each task, the log
pattern) and its scripts kept in `DIR/slurm/scripts/`; logs go to `DIR/slurm/logs/NAME-JOB_TASK.out`.
`metaex.core.study.queue` reads these back with `squeue` for `study status`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from metaex.core import options
from metaex.core.errors import InputError, MetaexError
from metaex.core.options import option

SLURM_DIR = "slurm"   # under the study folder: submissions.jsonl, scripts/, logs/
RECORDS = "submissions.jsonl"


@dataclass(frozen=True)
class SlurmOptions:
    """The resources of one kind of array task: the [slurm] table's keys and `study submit`'s options (one
    definition each, `metaex.core.options`)."""

    partition: str | None = option(None, "SLURM partition of every task.")
    gpus: int = option(0, "GPUs per fine-tune task (--gres=gpu:N; data and report tasks get none).", low=0)
    cpus: int = option(1, "CPUs per task, also the task's torch threads.", low=1)
    mem: str | None = option(None, "Memory per task, e.g. 32G (sbatch --mem).")
    time: str | None = option(None, "Time limit per task, e.g. 4:00:00 or 1-12:00:00 (sbatch --time).")
    parallel: int | None = option(None, "At most N tasks of one array at once (--array=…%N).", low=1)
    cells_per_task: int = option(1, "Consecutive cells of one seed per task (more where a cell takes seconds: its "
                                 "imports are paid once per task).", low=1)
    sbatch: list[str] = option([], "An extra sbatch option for every task, e.g. --account=lab (repeatable).")

    def apply(self, over: dict[str, Any]) -> SlurmOptions:
        return replace(self, **{k: v for k, v in over.items() if v is not None})

    def sbatch_lines(self, gpus: bool) -> list[str]:
        lines = [f"--partition={self.partition}"] if self.partition else []
        if gpus and self.gpus:
            lines.append(f"--gres=gpu:{self.gpus}")
        lines.append(f"--cpus-per-task={self.cpus}")
        lines += [f"--mem={self.mem}"] if self.mem else []
        lines += [f"--time={self.time}"] if self.time else []
        return lines + [line if line.startswith("-") else f"--{line}" for line in self.sbatch]

    def size(self, gpus: bool) -> str:
        parts = [f"{self.gpus} GPU{'s' if self.gpus > 1 else ''}"] if gpus and self.gpus else []
        parts.append(f"{self.cpus} CPU{'s' if self.cpus > 1 else ''}")
        parts += [f"{self.mem} memory"] if self.mem else []
        parts.append(f"{self.time} limit" if self.time else "the partition's time limit")
        return ", ".join(parts)


@dataclass(frozen=True)
class SlurmConfig:
    """The [slurm] table: the base resources and the overrides of data, report and each arm's tasks."""

    base: SlurmOptions = SlurmOptions()
    data: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resources(self, stage: str, arm: str | None, cli: dict[str, Any]) -> SlurmOptions:
        over = self.data if stage == "data" else self.report if stage == "report" else self.arms.get(arm or "", {})
        return self.base.apply(over).apply(cli)


@dataclass
class Array:
    """One `sbatch --array` of this submission."""

    name: str
    stage: str
    arm: str | None
    tasks: list[tuple[str, ...]]         # the cell ids each task runs
    res: SlurmOptions
    after: list[str] = field(default_factory=list)      # arrays of this submission it needs (names)
    queued: list[str] = field(default_factory=list)     # tasks of earlier submissions it needs (JOB_TASK)
    job: str | None = None

    @property
    def gpus(self) -> bool:
        return self.stage == "train"


def _depths(cells: Sequence[Any]) -> dict[str, int]:
    by_id = {c.id: c for c in cells}
    depth: dict[str, int] = {}

    def of(cid: str) -> int:
        if cid not in depth:
            depth[cid] = 1 + max((of(n) for n in by_id[cid].needs if n in by_id), default=-1)
        return depth[cid]

    for c in cells:
        of(c.id)
    return depth


def layout(cells: Sequence[Any], conf: SlurmConfig, cli: dict[str, Any], queued: dict[str, str]) -> list[Array]:
    """The arrays that run the cells not done and not queued (`queued`: cell id → JOB_TASK of an earlier
    submission), in dependency order."""
    depth = _depths(cells)
    todo = [c for c in cells if c.id not in queued and not c.done()]
    arrays: dict[tuple[int, str, str | None], Array] = {}
    home: dict[str, Array] = {}
    for c in todo:
        key = (depth[c.id], c.stage, c.arm)
        if key not in arrays:
            arrays[key] = Array(c.stage if c.arm is None else c.arm, c.stage, c.arm, [],
                                conf.resources(c.stage, c.arm, cli))
        a = arrays[key]
        last = a.tasks[-1] if a.tasks else ()
        same_seed = last and getattr(next(x for x in cells if x.id == last[-1]), "seed", None) == c.seed
        if last and same_seed and len(last) < a.res.cells_per_task:
            a.tasks[-1] = (*last, c.id)
        else:
            a.tasks.append((c.id,))
        home[c.id] = a
    _name(list(arrays.values()))
    for c in todo:
        a = home[c.id]
        for need in c.needs:
            if need in home and home[need] is not a and home[need].name not in a.after:
                a.after.append(home[need].name)
            elif need in queued and queued[need] not in a.queued:
                a.queued.append(queued[need])
    return sorted(arrays.values(), key=lambda a: min(depth[t] for task in a.tasks for t in task))


def _name(arrays: list[Array]) -> None:
    """An arm with arrays at several depths (a bridged arm's pre-training, then its cells): each array whose cells
    share their id's last part is named ARM-PART (`tiny-bridged-pretrain`); any name left twice gets its rank."""
    for arm in {a.arm for a in arrays if a.arm is not None}:
        mine = [a for a in arrays if a.arm == arm]
        if len(mine) > 1:
            for a in mine:
                ends = {cid.rsplit("/", 1)[-1] for task in a.tasks for cid in task}
                if len(ends) == 1:
                    a.name = f"{arm}-{ends.pop()}"
    for i, a in enumerate(arrays):
        if any(b.name == a.name for b in arrays[:i]):
            a.name = f"{a.name}-{i}"


def _q(s: str | Path) -> str:
    return shlex.quote(str(s))


def script(a: Array, run: Sequence[str], study: Path, workdir: Path) -> str:
    """The sbatch script of one array: its resources as #SBATCH lines, and the `study run --cell` of each task."""
    logs = study / SLURM_DIR / "logs"
    n = len(a.tasks)
    array = f"0-{n - 1}" + (f"%{a.res.parallel}" if a.res.parallel and a.res.parallel < n else "")
    lines = ["#!/bin/bash", f"#SBATCH --job-name=metaex-{a.name}", f"#SBATCH --array={array}",
             f"#SBATCH --output={logs}/{a.name}-%A_%a.out", f"#SBATCH --chdir={workdir}",
             "#SBATCH --kill-on-invalid-dep=yes"]
    lines += [f"#SBATCH {line}" for line in a.res.sbatch_lines(a.gpus)]
    lines += ["# the cells of each task: done ones are skipped, a cell another process holds is refused",
              "case $SLURM_ARRAY_TASK_ID in"]
    lines += [f"  {i}) cells=({' '.join(_q(c) for c in task)}) ;;" for i, task in enumerate(a.tasks)]
    lines += ["esac", "args=()", 'for c in "${cells[@]}"; do args+=(--cell "$c"); done',
              'echo "metaex: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname): ${cells[*]}'
              + (' (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-})' if a.gpus and a.res.gpus else '') + '"',
              f"exec {' '.join(_q(x) for x in run)} --threads {a.res.cpus} \"${{args[@]}}\""]
    return "\n".join(lines) + "\n"


def run_command(config: Path, study: Path, models: Sequence[str] | None) -> list[str]:
    """The `metaex study run` each task executes (this Python, absolute paths: tasks start elsewhere)."""
    cmd = [sys.executable, "-m", "metaex", "study", "run", str(config.resolve()), "--out", str(study.resolve())]
    return cmd + (["--models", " ".join(models)] if models else [])


def dependency(a: Array, jobs: dict[str, str]) -> str | None:
    refs = [jobs[name] for name in a.after] + a.queued
    return "afterok:" + ":".join(refs) if refs else None


def summary(arrays: Sequence[Array]) -> list[str]:
    """What a submission asks for, one line per array (how many tasks of what size)."""
    out = []
    for a in arrays:
        cells = sum(len(t) for t in a.tasks)
        par = f", at most {a.res.parallel} at once" if a.res.parallel and a.res.parallel < len(a.tasks) else ""
        after = f"; after {', '.join(a.after + a.queued)}" if a.after or a.queued else ""
        out.append(f"{a.name}: {len(a.tasks)} task{'s' if len(a.tasks) > 1 else ''} of {a.res.size(a.gpus)} "
                   f"({cells} cell{'s' if cells > 1 else ''}{par}){after}")
    return out


def _sbatch(path: Path, dep: str | None) -> str:
    cmd = ["sbatch", "--parsable", *([f"--dependency={dep}"] if dep else []), str(path)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise MetaexError("sbatch not found: `study submit` runs on a SLURM cluster's login node "
                          "(`study run` runs here)") from None
    except subprocess.TimeoutExpired:
        raise MetaexError(f"sbatch did not answer in 120 s: {' '.join(cmd)}") from None
    if r.returncode:
        raise MetaexError(f"sbatch refused {path}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout.strip().split(";")[0]


def submit(arrays: Sequence[Array], run: Sequence[str], study: Path, workdir: Path,
           about: dict[str, Any]) -> list[Array]:
    """Submit the arrays in order (each after those it needs) and record the submission; returns them with their
    job ids. An array sbatch refuses stops the submission; what was submitted before it stays recorded."""
    folder = study / SLURM_DIR
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    jobs: dict[str, str] = {}
    done: list[Array] = []
    try:
        for a in arrays:
            path = folder / "scripts" / f"{stamp}-{a.name}.sh"
            path.write_text(script(a, run, study.resolve(), workdir), encoding="utf-8")
            a.job = jobs[a.name] = _sbatch(path, dependency(a, jobs))
            done.append(a)
    finally:
        if done:
            record = {"submitted": time.strftime("%Y-%m-%d %H:%M:%S"), **about, "host": os.uname().nodename,
                      "arrays": [{"name": a.name, "job": a.job, "stage": a.stage, "arm": a.arm,
                                  "tasks": [list(t) for t in a.tasks],
                                  "log": str(folder.resolve() / "logs" / f"{a.name}-{a.job}_%a.out")} for a in done]}
            with open(folder / RECORDS, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
    return done


TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$|^\d+-\d+$")   # sbatch --time: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)


def check(values: dict[str, Any], where: str, src: str | None = None) -> dict[str, Any]:
    """[slurm] values (from a config table or the command line) of the right type, range and form; `where` names
    them in errors ("[slurm.data]" or "--")."""
    known = {o.name: o for o in options.options(SlurmOptions)}
    out: dict[str, Any] = {}
    for key, raw in values.items():
        if raw is None:
            continue
        name = f"{where}{key.replace('_', '-')}" if where == "--" else f"{where} {key}"
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            raise InputError(f"unknown key {key!r} in {where}" + (f" (did you mean {near[0]!r}?)" if near else ""),
                             src)
        o = known[key]
        raw = [raw] if o.kind == "list" and isinstance(raw, str) else raw
        try:
            value = options.from_config(o, raw, name)
        except InputError as err:
            raise InputError(str(err), src) from None
        form = {"time": TIME, "mem": MEM}.get(key)
        if form is not None and not form.match(value):
            raise InputError(f"{name} must be a SLURM {key} such as {'4:00:00' if key == 'time' else '32G'}, "
                             f"got {value!r}", src)
        out[key] = tuple(value) if o.kind == "list" else value
    return out


def read_table(raw: Any, src: str, arms: Sequence[str], models_given: bool) -> SlurmConfig:
    """The config's [slurm] table (InputError naming a bad key or value): base keys, then [slurm.data],
    [slurm.report] and [slurm.arms.NAME] overrides."""
    if raw is None:
        return SlurmConfig()
    if not isinstance(raw, dict):
        raise InputError("[slurm] should be a table", src)
    subs = {k: raw[k] for k in ("data", "report", "arms") if isinstance(raw.get(k), dict)}
    base = SlurmOptions(**check({k: v for k, v in raw.items() if k not in subs}, "[slurm]", src))
    by_arm = {}
    for name, table in subs.get("arms", {}).items():
        if name not in arms:
            if models_given:
                continue   # --models replaced the config's arms: the tables of those not run are not used
            near = difflib.get_close_matches(name, list(arms), n=1)
            raise InputError(f"[slurm.arms.{name}]: no arm {name!r} in the study"
                             + (f" (did you mean {near[0]!r}?)" if near else f" (arms: {', '.join(arms)})"), src)
        if not isinstance(table, dict):
            raise InputError(f"[slurm.arms.{name}] should be a table", src)
        by_arm[name] = check(table, f"[slurm.arms.{name}]", src)
    return SlurmConfig(base, check(subs.get("data", {}), "[slurm.data]", src),
                       check(subs.get("report", {}), "[slurm.report]", src), by_arm)
