"""`metaex study plan|run`: a whole study from one config, as metaex commands run in one process."""

from __future__ import annotations

import gc
import json
import os
import time
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
def plan(config: Path = _CONFIG, out: Path = _OUT, models: str = _MODELS) -> None:
    """Print the study as a shell script: every metaex command, in order, with the files it writes."""
    from metaex.core.study import build_plan, load_config

    cfg = load_config(config, models=_models(models))
    lines = ["#!/usr/bin/env bash", f"# metaex study plan {config} (out: {out})", "set -euo pipefail"]
    stage = None
    for step in build_plan(cfg, out):
        if step.stage != stage:
            stage = step.stage
            lines.append(f"\n# --- {stage}")
        lines.append(step.shell())
    typer.echo("\n".join(lines))


def _check_runnable(cfg, arms) -> None:
    """Fail at once (not after hours, not on a hub time-out) when an arm cannot run on this machine."""
    from metaex.core.errors import InputError

    for arm in arms:
        if arm.tiny:
            continue
        if arm.train_method == "qlora":
            import torch

            if not torch.cuda.is_available():
                raise InputError(f"arm {arm.name} fine-tunes {arm.model} with QLoRA, which needs a CUDA GPU; "
                                 "none is visible here (run `make study` for the CPU study)", cfg.path)
        if not Path(arm.model).is_dir() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise InputError(f"model {arm.model} is not a local folder and the hub is offline (HF_HUB_OFFLINE=1): "
                             "import it first (`make models` for the shipped ones) or unset HF_HUB_OFFLINE", cfg.path)


def _shard_spec(spec: str) -> tuple[int, int]:
    from metaex.core.errors import InputError

    try:
        i, n = (int(x) for x in spec.split("/"))
        assert 0 <= i < n
    except (ValueError, AssertionError):
        raise InputError(f"--shard should be I/N with 0 <= I < N, got {spec!r}") from None
    return i, n


def _shard(steps, spec: tuple[int, int], cfg) -> list:
    """The steps of shard I of N, whole seeds (a shard never waits on another's files), dealt in a snake:
    0 1 1 0 0 1 … for N = 2. Seeds 2k and 2k+1 explain opposite halves of the grammars, whose explanations differ
    in length and so in training time; dealt I modulo N, one shard would get every even seed."""
    i, n = spec
    mine = {seed for k, seed in enumerate(cfg.seeds) if min(k % (2 * n), 2 * n - 1 - k % (2 * n)) == i}
    return [s for s in steps if s.seed in mine]


_APP: typer.Typer | None = None   # the `metaex` app, set by register()


def _invoke(args: tuple[str, ...]) -> int:
    from typer.main import get_command

    from metaex.core.study.files import concat

    if args[0] == "concat":
        concat(args[1], list(args[2:]))
        return 0
    rc = get_command(_APP).main(list(args), prog_name="metaex", standalone_mode=False)
    return rc if isinstance(rc, int) else 0


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
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 suits tiny models: run one shard "
                                "per core instead)."),
    check: bool = typer.Option(False, "--check", help="Only check that every arm can run here, then exit."),
) -> None:
    """Run every step not yet done, in one process: finished steps are skipped, so a rerun resumes."""
    from rich.console import Console

    from metaex.core.errors import InputError, MetaexError
    from metaex.core.files import guard_outputs
    from metaex.core.study import STAGES, build_plan, load_config
    from metaex.core.study.lock import study_lock
    from metaex.core.study.resume import clean_temps, is_study_dir, record_config

    if stage is not None and stage not in STAGES:
        raise InputError(f"--stage should be one of {', '.join(STAGES)}, got {stage!r}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads should be at least 1, got {threads}")
    cfg = load_config(config, models=_models(models))
    arms = [cfg.arm(a) for a in arm] if arm else list(cfg.arms)
    spec = _shard_spec(shard) if shard is not None else None
    steps = [s for s in build_plan(cfg, out, [a.name for a in arms] if arm else None)
             if stage is None or s.stage == stage]
    if spec is not None:
        steps = _shard(steps, spec, cfg)
    if stage in (None, "train") or check:
        _check_runnable(cfg, arms)
        if check:
            return
    if threads:
        import torch

        torch.set_num_threads(threads)
    console = Console(stderr=True)
    guard_outputs([config, *(cfg.grammar_path(g) for g in cfg.grammars)], [(out, "folder", is_study_dir)])
    with study_lock(out, spec, f"metaex study run {config}" + (f" --shard {shard}" if shard else "")):
        record_config(cfg, out)
        for step in steps:   # what killed steps left, done ones included (a kill after a step's last commit)
            clean_temps(step)
        todo = [s for s in steps if not s.done()]
        console.print(f"study {config}: {len(steps)} steps, {len(steps) - len(todo)} already done, "
                      f"{len(todo)} to run")
        t_start = time.perf_counter()
        for i, step in enumerate(todo, 1):
            t0 = time.perf_counter()
            console.print(f"[{i}/{len(todo)}] {step.name}", highlight=False)
            rc = _invoke(step.args)
            # what survives a step (imported modules, caches) leaves the garbage collector's view: the collections
            # inside the next steps (accelerate's gc.collect() at every run's end, Python's full collections)
            # then scan only that step's own objects: 0.4 s a call otherwise, with torch and transformers imported
            gc.collect()
            gc.freeze()
            if rc:
                raise MetaexError(f"step '{step.name}' failed (exit {rc}): {step.shell()}  — fix it and rerun; "
                                  "finished steps are kept")
            with open(out / "timings.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": step.name, "stage": step.stage,
                                     "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
        console.print(f"done: {len(todo)} steps in {time.perf_counter() - t_start:.0f} s; "
                      f"report: {steps[-1].outputs[0] if steps and steps[-1].stage == 'report' else out / 'report'}")


@study_app.command("configs")
def list_configs() -> None:
    """The study configs shipped with metaex: name, what it runs, and the file (pass it to `study plan|run`)."""
    from metaex.core.shipped import configs, summary

    for path in configs():
        typer.echo(f"{path.stem}\t{summary(path)}\t{path}")


def register(app: typer.Typer) -> None:
    """Add `metaex study …` (and keep the whole app: a study runs each step through it)."""
    global _APP
    _APP = app
    app.add_typer(study_app, name="study")
