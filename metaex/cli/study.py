"""`metaex study plan|run`: a whole study from one config; the plan and the runner are in metaex.core.study."""

from __future__ import annotations

import json
from pathlib import Path

import typer

study_app = typer.Typer(help="A whole study from a config: plan it as commands, or run it (resumable).",
                        no_args_is_help=True)

_CONFIG = typer.Argument(..., help="Study config (TOML), e.g. configs/study.toml.")
_OUT = typer.Option(Path("study"), "--out", "-o", help="Study folder (every step's outputs; resumable).")
_MODELS = typer.Option(None, "--models", help="Replace the config's arms by these base models (QLoRA), "
                       "space- or comma-separated: local folders or hub ids.")


def _models(models: str | None) -> list[str] | None:
    return [m for m in models.replace(",", " ").split() if m] if models else None


@study_app.command("plan")
def plan(config: Path = _CONFIG, out: Path = _OUT, models: str = _MODELS,
         as_json: bool = typer.Option(False, "--json", help="The plan's cells as JSON (id, stage, seed, arm, the "
                                      "cells each needs, its steps' command lines and outputs, whether it is "
                                      "done): what a cluster scheduler submits, one task per cell."),
         estimate: bool = typer.Option(False, "--estimate", help="End the plan with each arm's expected GPU-hours "
                                       "and peak GPU memory (from the measured rates of docs/finetune.md, else "
                                       "said to be unmeasured; exact token counts once the data stage is built)."))\
        -> None:
    """Print the study as a shell script: every metaex command, in order, with the files it writes."""
    from metaex.core.study import build_plan, load_config

    cfg = load_config(config, models=_models(models))
    the_plan = build_plan(cfg, out)
    if as_json:
        cells = [{"id": c.id, "stage": c.stage, "seed": c.seed, "arm": c.arm, "needs": list(c.needs),
                  "done": c.done(), "steps": [{"name": s.name, "kind": s.kind, "argv": s.argv(), "shell": s.shell(),
                                               "outputs": list(map(str, s.outputs))} for s in c.steps]}
                 for c in the_plan.cells()]
        typer.echo(json.dumps({"config": str(config), "out": str(out), "cells": cells}, indent=1))
        return
    lines = ["#!/usr/bin/env bash", f"# metaex study plan {config} (out: {out})", "set -euo pipefail"]
    stage = None
    for step in the_plan.steps:
        if step.stage != stage:
            stage = step.stage
            lines.append(f"\n# --- {stage}")
        lines.append(step.shell())
    if estimate:
        from metaex.core.study import estimate as cost

        lines += ["", *cost.lines(cost.estimate(cost.work_of(the_plan.steps), example_steps=cfg.example_steps,
                                                max_len=cfg.max_len))]
    typer.echo("\n".join(lines))


@study_app.command("run")
def run(
    config: Path = _CONFIG,
    out: Path = _OUT,
    stage: str = typer.Option(None, "--stage", help="Only this stage: data, train or report."),
    arm: list[str] = typer.Option(None, "--arm", help="Only these arms (repeatable); their report goes to "
                                  "OUT/report-ARM…/."),
    models: str = _MODELS,
    shard: str = typer.Option(None, "--shard", help="I/N: only the seeds of shard I of N (their data and cells), "
                              "e.g. one shard per GPU or per CPU core; the report stage joins them."),
    cell: list[str] = typer.Option(None, "--cell", help="Only this cell (repeatable; ids from `study plan "
                                   "--json`): cells run side by side in one folder, one process each."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 suits tiny models: run one shard "
                                "per core instead)."),
    check: bool = typer.Option(False, "--check", help="Only check that every arm can run here, then exit."),
) -> None:
    """Run every step not yet done, in one process: finished steps are skipped, so a rerun resumes."""
    from rich.console import Console

    from metaex.core.study import load_config
    from metaex.core.study.runner import Selection, check_runnable, parse_shard, run_study

    cfg = load_config(config, models=_models(models))
    selection = Selection(stage=stage, arms=tuple(arm) if arm else None,
                          shard=parse_shard(shard) if shard is not None else None,
                          cells=tuple(cell) if cell else None)
    if check:
        check_runnable(cfg, [cfg.arm(a) for a in arm] if arm else list(cfg.arms))
        return
    console = Console(stderr=True)
    command = f"metaex study run {config}" + (f" --shard {shard}" if shard else "") + \
        "".join(f" --cell {c}" for c in cell or ())
    try:
        run_study(cfg, out, selection, command=command, threads=threads,
                  log=lambda message: console.print(message, highlight=False, markup=False))
    except KeyboardInterrupt:
        typer.echo("metaex: interrupted: finished steps are kept; run the same command again to resume", err=True)
        raise typer.Exit(130) from None


@study_app.command("configs")
def list_configs() -> None:
    """The study configs shipped with metaex: name, what it runs, and the file (pass it to `study plan|run`)."""
    from metaex.core.shipped import configs, summary

    for path in configs():
        typer.echo(f"{path.stem}\t{summary(path)}\t{path}")


def register(app: typer.Typer) -> None:
    """Add `metaex study …`."""
    from metaex.cli import power

    power.register(study_app)
    app.add_typer(study_app, name="study")
