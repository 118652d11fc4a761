"""`study submit` and `study status`: the plan's cells onto SLURM (core/study/slurm.py), their state back
(core/study/queue.py). Submissions of one folder are serialized by a lease lock (`STUDY/slurm/.submit.lock`), so
a second `submit` sees what the first queued and submits only the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError
from metaex.core.study import queue, slurm
from metaex.core.study.config import StudyConfig
from metaex.core.study.lease import Lease
from metaex.core.study.plan import build_plan
from metaex.core.study.read import load_config
from metaex.core.study.resume import record_config


@dataclass
class Submission:
    arrays: list[slurm.Array]
    scripts: list[str]                     # one sbatch script per array, in order
    done: int                              # cells already done
    queued: dict[str, str] = field(default_factory=dict)   # cells queued by earlier submissions: JOB_TASK
    estimates: list[str] = field(default_factory=list)     # GPU cost of the arrays of base-model arms

    def summary(self) -> list[str]:
        return slurm.summary(self.arrays)


def _estimates(arrays: Sequence[slurm.Array], cells: dict[str, Any], cfg: StudyConfig) -> list[str]:
    """What the fine-tunes of each base-model arm's array cost on a GPU (core/study/estimate.py): in all, and its
    longest cell against the task's time limit."""
    from metaex.core.study import estimate as E

    out = []
    for a in arrays:
        if a.arm is None or cfg.arm(a.arm).tiny:
            continue
        work = E.work_of(s for task in a.tasks for cid in task for s in cells[cid].steps)
        if not work:
            continue
        kw = {"example_steps": cfg.example_steps, "max_len": cfg.max_len}
        (arm,) = E.estimate(work, **kw)
        if arm.gpu_hours is None:
            out.append(f"{a.name}: GPU-hours unknown ({arm.rate})")
            continue
        longest = max(E.estimate([w], **kw)[0].gpu_hours for w in work)
        limit = a.res.time or "the partition's"
        out.append(f"{a.name}: ≈ {arm.gpu_hours:,.1f} GPU-hours of fine-tuning in {len(work)} cells, the longest "
                   f"≈ {longest * 60:,.0f} min (time limit: {limit}); probes not costed; "
                   f"rate {arm.rate}")
    return out


def submit_study(cfg: StudyConfig, out: str | Path, cli: dict[str, Any], *, models: Sequence[str] | None,
                 dry_run: bool, command: str) -> Submission:
    """Lay out (and unless `dry_run`, submit) every cell that is neither done nor queued; see slurm.py."""
    from metaex.core.files import guard_outputs
    from metaex.core.markers import write_marker

    out = Path(out)
    cli = slurm.check(cli, "--")
    cells = build_plan(cfg, out).cells()
    run = slurm.run_command(Path(cfg.path), out, models)
    workdir = Path.cwd()
    if dry_run:
        queued = queue.queued(out)
        arrays = slurm.layout(cells, cfg.slurm, cli, queued)
        return Submission(arrays, [slurm.script(a, run, out.resolve(), workdir) for a in arrays],
                          sum(c.done() for c in cells), queued, _estimates(arrays, {c.id: c for c in cells}, cfg))
    guard_outputs([cfg.path, *(cfg.grammar_path(g) for g in cfg.grammars)], [(out, "folder", "study")])
    write_marker(out, "study")
    with Lease(out / slurm.SLURM_DIR / ".submit.lock", command, what=f"{out}: a submission"):
        record_config(cfg, out)   # a changed config is refused before anything is queued
        queued = queue.queued(out)
        arrays = slurm.layout(cells, cfg.slurm, cli, queued)
        about = {"command": command, "config": str(Path(cfg.path).resolve()), "models": list(models or [])}
        done = slurm.submit(arrays, run, out, workdir, about)
    return Submission(done, [slurm.script(a, run, out.resolve(), workdir) for a in done],
                      sum(c.done() for c in cells), queued, _estimates(done, {c.id: c for c in cells}, cfg))


def study_status(out: str | Path) -> list[queue.CellState]:
    """Every cell's state: the plan from the config the folder's latest submission named."""
    out = Path(out)
    records = queue.records(out)
    if not records:
        raise InputError("no submission recorded here (`metaex study submit CONFIG --out DIR` makes one)",
                         str(out / slurm.SLURM_DIR / slurm.RECORDS))
    last = records[-1]
    cfg = load_config(last["config"], models=last.get("models") or None)
    return queue.status(build_plan(cfg, out).cells(), out)
