"""A command's Typer parameters derived from the options dataclasses it takes (`metaex.core.options`).

    @with_options
    def finetune(train_file: Path = typer.Argument(...), ..., options: TrainOptions = OPTIONS) -> None:

gives `finetune` one `--FLAG` per field of TrainOptions (default, help, choices, bounds and unit from the field's
`Spec`), and calls it with `options` built from them; `check()` is the core's. A bool field is `--x/--no-x`, a
list field a repeatable option, a tuple field one comma-separated value.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typer

from metaex.core import options as schema

OPTIONS: Any = None   # the default of a parameter that `with_options` replaces by the options' own parameters


def help_text(o: schema.Opt) -> str:
    """The field's help, with its choices, unit and range ("… (full | lora | qlora)", "… (steps; at least 1)")."""
    extra = [" | ".join(schema.shown_choices(o))] if o.spec.choices else []
    extra += [o.spec.unit] if o.spec.unit else []
    extra += [schema.bounds(o)] if schema.bounds(o) else []
    return o.spec.help + (f" ({'; '.join(extra)})" if extra else "")


def parameter(o: schema.Opt, prefix: str = "") -> inspect.Parameter:
    """The Typer parameter of one option (named PREFIX + field name in the command's signature)."""
    names = [o.flag] if o.base is not bool else [f"{o.flag}/--no-{o.flag.removeprefix('--')}"]
    names += [o.spec.short] if o.spec.short else []
    default: Any = ... if o.required else o.default
    if o.kind == "list":
        annotation: Any = list[str]
        default = ... if o.required else list(o.default)
    elif o.kind == "tuple":
        annotation = str
        default = ... if o.required else ",".join(map(str, o.default))
    else:
        annotation = {schema.Path: str}.get(o.base, o.base)
        if o.optional:
            annotation = annotation | None
    option = typer.Option(default, *names, help=help_text(o), show_default=o.kind != "list")
    return inspect.Parameter(prefix + o.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """An options object from the parsed parameters (a tuple option's text split here)."""
    kwargs = {}
    for o in schema.options(cls):
        if not o.spec.cli:
            continue
        value = values.pop(prefix + o.name)
        kwargs[o.name] = schema.parse(o, value) if o.kind == "tuple" and isinstance(value, str) else value
    return cls(**kwargs)


def with_options(func: Callable) -> Callable:
    """Replace each parameter of `func` annotated with an options dataclass (default `OPTIONS`) by one Typer
    parameter per option; `func` is called with the built (not yet checked) object."""
    hints = typing.get_type_hints(func)
    signature = inspect.signature(func)
    own, taken = [], {}
    for p in signature.parameters.values():
        cls = hints.get(p.name)
        if p.default is OPTIONS and isinstance(cls, type) and schema.options(cls):
            taken[p.name] = cls
        else:
            own.append(p.replace(annotation=hints.get(p.name, p.annotation)))
    derived = [parameter(o) for cls in taken.values() for o in schema.options(cls) if o.spec.cli]
    clash = {p.name for p in own} & {p.name for p in derived}
    if clash:
        raise TypeError(f"{func.__name__}: parameters {sorted(clash)} are both the command's and an option's")

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        built = {name: build(cls, kwargs) for name, cls in taken.items()}
        return func(**kwargs, **built)

    command.__signature__ = signature.replace(parameters=[
        *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own), *derived])
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
    del command.__wrapped__
    return command
