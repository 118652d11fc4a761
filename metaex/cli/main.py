"""The `metaex` command: one Typer app; each command group lives in its own module and registers itself."""

from __future__ import annotations

import gc
import os
import sys

import typer
from typer.core import TyperGroup

from metaex import __version__
from metaex.core.errors import MetaexError

# typer 0.29 vendors click: its usage errors (bad values, missing arguments, unknown options) have this base
UsageError = typer.BadParameter.__mro__[1]


class _Group(TyperGroup):
    """Turns a MetaexError, a bad option or argument, an OSError (a full disk, a folder it may not write), or an
    input too big (MemoryError) or too deeply nested (RecursionError) to handle anywhere below into one line on
    stderr and exit code 2 (a traceback with --debug)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except UsageError as err:
            _usage(ctx, err)

    def invoke(self, ctx):
        short = None
        try:
            return super().invoke(ctx)
        except MetaexError as err:
            if os.environ.get("METAEX_DEBUG"):
                raise
            typer.echo(f"metaex: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except UsageError as err:
            _usage(ctx, err)
        except OSError as err:
            if os.environ.get("METAEX_DEBUG"):
                raise
            where = f"{err.filename}: " if err.filename else ""
            typer.echo(f"metaex: error: {where}{err.strerror or err} (errno {err.errno}); nothing more was "
                       "written", err=True)
            ctx.exit(2)
        except (MemoryError, RecursionError) as err:
            if os.environ.get("METAEX_DEBUG"):
                raise
            short = ("out of memory: an input is too large for this machine" if isinstance(err, MemoryError) else
                     "an input is nested too deeply to handle (Python's recursion limit)")
        except KeyboardInterrupt:
            typer.echo("metaex: interrupted", err=True)
            ctx.exit(130)
        # said only here, after the except block: its traceback held the frames holding what filled the memory
        gc.collect()
        typer.echo(f"metaex: error: {short}; nothing was written", err=True)
        ctx.exit(2)


def _usage(ctx, err) -> None:
    """A bad option or argument as one line (click's usage box is several), exit 2."""
    if os.environ.get("METAEX_DEBUG"):
        raise err
    where = err.ctx.command_path if getattr(err, "ctx", None) is not None else ctx.command_path
    message = " ".join(err.format_message().split())
    if type(err).__name__ == "NoArgsIsHelpError":   # a group with nothing after it: its help is printed above
        group = err.ctx.command
        message = f"give a command: {', '.join(group.list_commands(err.ctx))}"
    typer.echo(f"metaex: error: {where}: {message} (see --help)", err=True)
    ctx.exit(2)


app = typer.Typer(
    cls=_Group,
    name="metaex",
    help="Grammar explanations as separate fine-tuning documents: build data, train, probe, report.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"metaex {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    if debug:
        os.environ["METAEX_DEBUG"] = "1"


def _register() -> None:
    # each module adds its commands; imports here are light (typer + metaex.core entry points only)
    from metaex.cli import explain, finetune, grammar, mix, probe, report, results, screen, study, study_slurm

    for module in (grammar, explain, mix, finetune, probe, report, results, screen, study, study_slurm):
        module.register(app)


_register()


def main() -> None:
    app(prog_name="metaex")


if __name__ == "__main__":
    sys.exit(main())
