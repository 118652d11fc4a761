"""`metaex study submit|status`: a study on a SLURM cluster (metaex.core.study.submit does the work)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer

from metaex.cli.study import _CONFIG, _MODELS, _OUT, _models, study_app
from metaex.core.options import opt
from metaex.core.study.slurm import SlurmOptions


def _help(name: str) -> str:
    return opt(SlurmOptions, name).spec.help + f" Overrides \\[slurm] {name} for every task."


@study_app.command("submit")
def submit(
    config: Path = _CONFIG,
    out: Path = _OUT,
    models: str = _MODELS,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the sbatch scripts and what they ask for; submit "
                                 "nothing."),
    partition: str = typer.Option(None, "--partition", help=_help("partition")),
    gpus: int = typer.Option(None, "--gpus", help=_help("gpus")),
    cpus: int = typer.Option(None, "--cpus", help=_help("cpus")),
    mem: str = typer.Option(None, "--mem", help=_help("mem")),
    time: str = typer.Option(None, "--time", help=_help("time")),
    parallel: int = typer.Option(None, "--parallel", help=_help("parallel")),
    cells_per_task: int = typer.Option(None, "--cells-per-task", help=_help("cells_per_task")),
    sbatch: list[str] = typer.Option(None, "--sbatch", help=_help("sbatch") + " Give it as --sbatch=--account=lab."),
) -> None:
    """Submit the study to SLURM as job arrays (data, then cells, then the report): only what is neither done nor
    queued, so submitting again resumes. The command line overrides the config's \\[slurm] table for every task."""
    from metaex.core.study import load_config
    from metaex.core.study.submit import submit_study

    cli = {"partition": partition, "gpus": gpus, "cpus": cpus, "mem": mem, "time": time, "parallel": parallel,
           "cells_per_task": cells_per_task, "sbatch": list(sbatch) if sbatch else None}
    cfg = load_config(config, models=_models(models))
    command = f"metaex study submit {config} --out {out}"
    sub = submit_study(cfg, out, cli, models=_models(models), dry_run=dry_run, command=command)
    if dry_run:
        for a, text in zip(sub.arrays, sub.scripts, strict=True):
            after = ":".join([f"${_job_var(b)}" for b in a.after] + a.queued)
            typer.echo(f"# --- {a.name}: sbatch --parsable{' --dependency=afterok:' + after if after else ''} "
                       f"{a.name}.sh  (its job id: ${_job_var(a.name)})\n{text}")
    head = "would submit" if dry_run else "submitted"
    typer.echo(f"study {out}: {sub.done} cells done, {len(sub.queued)} queued by earlier submissions; "
               f"{head} {len(sub.arrays)} arrays, {sum(len(a.tasks) for a in sub.arrays)} tasks:")
    for a, line in zip(sub.arrays, sub.summary(), strict=True):
        typer.echo(f"  {line}" + (f"  [job {a.job}]" if a.job else ""))
    for line in sub.estimates:
        typer.echo(f"  estimate: {line}")
    if not dry_run and sub.arrays:
        typer.echo(f"follow it with: metaex study status {out}")


@study_app.command("status")
def status(
    out: Path = typer.Argument(..., help="The study folder a `study submit` submitted."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per cell."),
) -> None:
    """Done, running, pending and failed cells, from the folder and squeue; the log of each failed task."""
    from metaex.core.study.queue import STATES
    from metaex.core.study.submit import study_status

    cells = study_status(out)
    if as_json:
        for c in cells:
            typer.echo(json.dumps({"cell": c.cell, "state": c.state, "task": c.task.id if c.task else None,
                                   "slurm": c.slurm, "log": str(c.task.log) if c.task else None, "why": c.why}))
        return
    counts = {s: sum(c.state == s for c in cells) for s in STATES}
    typer.echo(f"study {out}: {len(cells)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for s in ("failed", "running", "pending", "unknown", "not submitted"):
        mine = [c for c in cells if c.state == s]
        if mine:
            typer.echo(f"{s}:")
        for c in mine:
            task = f"  task {c.task.id}" if c.task else ""
            slurm = f" ({c.slurm})" if c.slurm and s != "failed" else ""
            typer.echo(f"  {c.cell}{task}{slurm}")
            if s == "failed":
                typer.echo(f"    {c.why}\n    log: {c.task.log}")


def register(app: typer.Typer) -> None:
    """The commands are added to `metaex study` when this module is imported."""


def _job_var(array: str) -> str:
    """The shell variable the dry run names an array's job id by (`Qwen2.5-7B` -> JOB_Qwen2_5_7B: a name a shell
    takes, so the printed commands can be pasted)."""
    return "JOB_" + re.sub(r"\W", "_", array)
