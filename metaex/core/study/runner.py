"""`run_study`: execute a study's plan (or part of it) in this process, resumably.

Each step is a typed call run through the core function its command calls (no re-entry into the CLI). What a
run guarantees, whatever it is asked for:
- the config, the templates and every step's options are checked before anything is written (`load_config`,
  `build_plan`), and the arms that cannot run on this machine are refused at once (`check_runnable`);
- the study folder is locked (`lock.study_lock`: whole, one shard, or shared by runs of single cells), and every
  cell the run will work on, from its start (`lock.cell_lock`, the one per-cell interface a scheduler may swap);
- the first run records the resolved config (`record_config`); a later run whose config resolves differently
  is refused; temps that killed steps left are removed (`clean_temps`);
- a step whose outputs exist is skipped, so a rerun resumes; a cell starts only when the cells it needs are done;
- each step's wall time is appended to STUDY/timings.jsonl; between steps the garbage collector freezes what
  survived (imports, caches), so later collections scan only the next step's objects.

Selections (they combine): `stage` (data, train, report), `arms` (their cells and a report of them alone),
`shard` (I, N): whole seeds dealt in a snake, `cells`: cell ids (`metaex.core.study.plan`).
"""

from __future__ import annotations

import difflib
import functools
import gc
import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from metaex.core.errors import InputError, MetaexError
from metaex.core.study import lease, lock
from metaex.core.study.config import Arm, StudyConfig
from metaex.core.study.plan import STAGES, Cell, Plan, Step, build_plan
from metaex.core.study.resume import clean_temps, record_config


@dataclass(frozen=True)
class Selection:
    """Which part of the plan a run executes (None: no restriction)."""

    stage: str | None = None
    arms: tuple[str, ...] | None = None
    shard: tuple[int, int] | None = None
    cells: tuple[str, ...] | None = None

    @property
    def whole(self) -> bool:
        """Whether the run takes the study folder exclusively (anything but shards and single cells does)."""
        return self.shard is None and self.cells is None


def parse_shard(spec: str) -> tuple[int, int]:
    """`I/N` with 0 <= I < N."""
    try:
        i, n = (int(x) for x in spec.split("/"))
        assert 0 <= i < n
    except (ValueError, AssertionError):
        raise InputError(f"--shard should be I/N with 0 <= I < N, got {spec!r}") from None
    return i, n


def shard_seeds(seeds: tuple[int, ...], shard: tuple[int, int]) -> set[int]:
    """The seeds of shard I of N, dealt in a snake: 0 1 1 0 0 1 … for N = 2. Seeds 2k and 2k+1 explain opposite
    halves of the grammars, whose explanations differ in length and so in training time; dealt I modulo N, one
    shard would get every even seed. A shard never waits on another's files (whole seeds)."""
    i, n = shard
    return {seed for k, seed in enumerate(seeds) if min(k % (2 * n), 2 * n - 1 - k % (2 * n)) == i}


def plan_of(cfg: StudyConfig, out: str | Path, selection: Selection) -> tuple[Plan, list[Step]]:
    """The plan (of the selected arms) and the steps the selection runs, in plan order."""
    if selection.stage is not None and selection.stage not in STAGES:
        raise InputError(f"--stage should be one of {', '.join(STAGES)}, got {selection.stage!r}")
    arms = [cfg.arm(a).name for a in selection.arms] if selection.arms else None
    plan = build_plan(cfg, out, arms)
    steps = [s for s in plan.steps if selection.stage is None or s.stage == selection.stage]
    if selection.shard is not None:
        mine = shard_seeds(cfg.seeds, selection.shard)
        steps = [s for s in steps if s.seed in mine]
    if selection.cells is not None:
        known = {s.cell for s in plan.steps}
        for cell in selection.cells:
            if cell not in known:
                near = difflib.get_close_matches(cell, sorted(known), n=1)
                raise InputError(f"no cell {cell!r} in this plan" + (f" (did you mean {near[0]!r}?)" if near else
                                 " (`metaex study plan CONFIG --json` lists them)"), cfg.path)
        steps = [s for s in steps if s.cell in selection.cells]
    return plan, steps


def check_runnable(cfg: StudyConfig, arms: list[Arm]) -> None:
    """Fail at once (not after hours, not on a hub time-out) when an arm cannot run on this machine."""
    for arm in arms:
        if arm.tiny:
            continue
        if arm.train_method == "qlora":
            import torch

            if not torch.cuda.is_available():
                raise InputError(f"arm {arm.name} fine-tunes {arm.model} with QLoRA, which needs a CUDA GPU; "
                                 "none is visible here (run `make study` for the CPU study)", cfg.path)
        if not Path(arm.model).is_dir() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise InputError(f"model {arm.model} is not a local folder (relative to the config file's folder) and "
                             "the hub is offline (HF_HUB_OFFLINE=1): import it first (`make models` for the shipped "
                             "ones) or unset HF_HUB_OFFLINE", cfg.path)


def run_study(cfg: StudyConfig, out: str | Path, selection: Selection = Selection(), *,
              command: str = "metaex study run", threads: int | None = None,
              log: Callable[[str], None] = lambda _m: None) -> list[Step]:
    """Run every selected step not yet done; returns the steps that ran. `command` names this run in the locks
    (what a second run is told holds the folder); `log` receives progress lines."""
    out = Path(out)
    plan, steps = plan_of(cfg, out, selection)
    if selection.stage in (None, "train"):
        check_runnable(cfg, [cfg.arm(a) for a in selection.arms] if selection.arms else list(cfg.arms))
    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads should be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    from metaex.core.files import guard_outputs, writing_inside

    guard_outputs([cfg.path, *(cfg.grammar_path(g) for g in cfg.grammars)], [(out, "folder", "study")])
    with lock.study_lock(out, selection.shard, command, shared=selection.cells is not None), ExitStack() as held, \
            writing_inside(out):   # the steps write inside the study folder
        record_config(cfg, out)
        for step in steps:   # what killed steps left, done ones included (a kill after a step's last commit)
            clean_temps(step)
        todo = [s for s in steps if not s.done()]
        for cell_id in dict.fromkeys(s.cell for s in todo):    # every cell this run will work on, at once
            held.enter_context(lock.cell_lock(out, cell_id, command))
        for step in todo:    # its cell is ours now: what another host's dead writer left there goes too
            clean_temps(step, locked=True)
        log(f"study {cfg.path}: {len(steps)} steps, {len(steps) - len(todo)} already done, {len(todo)} to run")
        cells = {c.id: c for c in plan.cells()}
        t_start, ran, started = time.perf_counter(), [], set()
        for step in todo:
            if step.cell not in started:
                _check_needs(cells[step.cell], cells, out, cfg)
                started.add(step.cell)
            if step.done():    # another process finished it since this run looked
                continue
            log(f"[{len(ran) + 1}/{len(todo)}] {step.name}")
            _run_step(step, out)
            ran.append(step)
        report = steps[-1].outputs[0] if steps and steps[-1].stage == "report" else out / "report"
        log(f"done: {len(ran)} steps in {time.perf_counter() - t_start:.0f} s; report: {report}")
    return ran


def _check_needs(cell: Cell, cells: dict[str, Cell], out: Path, cfg: StudyConfig) -> None:
    for need in cell.needs:
        if not cells[need].done():
            raise MetaexError(f"{out}: cell {cell.id} needs cell {need}, which is not done: run it first "
                              f"(metaex study run {cfg.path} --out {out} --cell {need})")


def where() -> dict[str, str]:
    """Where a step ran, for timings.jsonl: the host, and under SLURM its job and the GPUs it was given (the step
    uses exactly those: metaex never sets CUDA_VISIBLE_DEVICES, and CUDA numbers the visible devices from 0)."""
    out = {"host": lease.host()}
    job = lease.slurm_job()
    if job:
        out["slurm_job"] = job
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        out["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return out


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, looked up once (find_library runs ldconfig); None where there is none."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def _give_back_heap() -> None:
    """Return the heap a step freed to the OS: a study runs every step in one process, and freed tensors otherwise
    stay in the process's arenas, so two SmolLM2 shards held ~9-11 GB resident each between steps on a 23 GB
    machine."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _run_step(step: Step, out: Path) -> None:
    t0 = time.perf_counter()
    try:
        step.run()
    except MetaexError as err:
        failed = MetaexError(f"step '{step.name}': {err} (finished steps are kept: fix it and rerun)")
        failed.exit_code = err.exit_code
        raise failed from None
    # what survives a step (imported modules, caches) leaves the garbage collector's view: the collections inside
    # the next steps (accelerate's gc.collect() at every run's end, Python's full collections) then scan only
    # that step's own objects: 0.4 s a call otherwise, with torch and transformers imported
    gc.collect()
    gc.freeze()
    _give_back_heap()
    with open(out / "timings.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step.name, "stage": step.stage, "cell": step.cell,
                             "seconds": round(time.perf_counter() - t0, 3), **where()}) + "\n")
