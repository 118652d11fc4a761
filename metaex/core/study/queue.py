"""What a submitted study's cells are doing: the folder (done), the submissions' records and `squeue`.

A cell is *done* when its outputs exist, whatever ran it. Otherwise the latest submission's task that holds it
says the rest: *pending* or *running* while `squeue` lists that task so, else *failed*, with the task's log and why
(the log's last `metaex: error:` line, SLURM's `*** … CANCELLED …` line, the task's SLURM state while squeue still
knows it, or that it never started: a stage it needed failed first). A cell no submission holds is *not
submitted*. Without accounting (`sacct`), SLURM forgets a finished job after `MinJobAge` (300 s by default): the
folder and the logs, not SLURM, are what status reads after that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaex.core.study.slurm import RECORDS, SLURM_DIR

QUEUED = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "RESIZING",
          "SIGNALING", "STAGE_OUT", "STOPPED"}
STATES = ("done", "running", "pending", "failed", "not submitted", "unknown")


@dataclass(frozen=True)
class Task:
    """One array task of a submission: its SLURM id (JOB_TASK), the array's name, its cells and log."""

    id: str
    array: str
    cells: tuple[str, ...]
    log: Path


@dataclass(frozen=True)
class CellState:
    cell: str
    state: str                      # one of STATES
    task: Task | None = None
    slurm: str | None = None        # the task's SLURM state (and reason) while squeue knows it
    why: str | None = None          # for a failed cell


def records(study: str | Path) -> list[dict[str, Any]]:
    path = Path(study) / SLURM_DIR / RECORDS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue   # a line a killed submit left half-written
    return out


def latest_tasks(study: str | Path) -> dict[str, Task]:
    """Each submitted cell's latest task."""
    tasks: dict[str, Task] = {}
    for rec in records(study):
        for a in rec.get("arrays", []):
            for i, cells in enumerate(a["tasks"]):
                task = Task(f"{a['job']}_{i}", a["name"], tuple(cells), Path(a["log"].replace("%a", str(i))))
                for c in cells:
                    tasks[c] = task
    return tasks


def squeue(jobs: Sequence[str]) -> dict[str, tuple[str, str, str]] | None:
    """{JOB_TASK: (state, reason, node)} of the given array jobs that SLURM still knows; None where squeue cannot
    answer (not on a SLURM host, controller down)."""
    if not jobs:
        return {}
    if not shutil.which("squeue"):
        return None
    try:
        r = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(sorted(set(jobs))),
                            "-o", "%F|%K|%T|%r|%N"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode and "Invalid job id" not in r.stderr:
        return None
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 5:
            job, task, state, reason, node = parts
            out[f"{job}_{task}"] = (state, reason, node)
    return out


def queued(study: str | Path) -> dict[str, str]:
    """{cell: JOB_TASK} of the cells whose latest task is still pending or running."""
    tasks = latest_tasks(study)
    states = squeue([t.id.split("_")[0] for t in tasks.values()]) or {}
    return {c: t.id for c, t in tasks.items() if states.get(t.id, ("",))[0] in QUEUED}


def _why(task: Task, slurm: tuple[str, str, str] | None) -> str:
    """Why a task ended without finishing its cell: its log's error, else SLURM's state, else that it never ran."""
    said = None
    if task.log.is_file():
        for line in task.log.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line.startswith("metaex: error:") or (line.startswith("slurmstepd") and "***" in line) \
                    or line.startswith("***"):
                said = line
    state = f"SLURM: {slurm[0]}" + (f" ({slurm[1]})" if slurm[1] not in ("None", "") else "") if slurm else None
    if said:
        return said + (f" [{state}]" if state else "")
    if not task.log.is_file():
        return "never started" + (f" ({state})" if state else "") + ": a cell it needs failed or was cancelled " \
               "first, or it was cancelled while pending"
    return (state or "its task ended") + " without finishing the cell (see its log)"


def status(cells: Sequence[Any], study: str | Path) -> list[CellState]:
    """The state of every cell of the plan (see the module's doc)."""
    tasks = latest_tasks(study)
    states = squeue([t.id.split("_")[0] for t in tasks.values()])
    out = []
    for c in cells:
        task = tasks.get(c.id)
        if c.done():
            out.append(CellState(c.id, "done", task))
            continue
        if task is None:
            out.append(CellState(c.id, "not submitted"))
            continue
        slurm = (states or {}).get(task.id)
        label = f"{slurm[0]}" + (f" ({slurm[1]})" if slurm and slurm[1] not in ("None", "") else "") if slurm else None
        if slurm and slurm[0] in QUEUED:
            state = "pending" if slurm[0] == "PENDING" else "running"
            out.append(CellState(c.id, state, task, label + (f" on {slurm[2]}" if slurm[2] else "")))
        elif states is None:
            out.append(CellState(c.id, "unknown", task, "squeue cannot answer here"))
        else:
            out.append(CellState(c.id, "failed", task, label, _why(task, slurm)))
    return out
