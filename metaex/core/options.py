"""One definition per option: a field of a stage's options dataclass carries its default, help, choices, bounds
and unit (`option()`); everything else is derived from it (nanoGPT's configurator: one name per setting,
overridable from a file or the command line, saved resolved).

- `check(obj)`: every value of the right type, finite where it is a float, in its bounds and choices (one
  InputError naming the CLI option, or the config key a caller names);
- `argv(obj)`: the command-line arguments that give these values (what a study's plan prints);
- `parse(opt, text)` / `from_config(opt, raw, where)`: one value from a command line or a TOML config;
- `record(obj)`: the values as a run folder or a probe part records them (an option `added` since such records
  were first written is left out at that value, so earlier records keep matching; one not `recorded`, never);
- `metaex.cli.options` derives each command's Typer parameters; `metaex.core.study.config` the config's keys.

Light: no typer, no torch.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError

AUTO = "auto"   # a config value that the machine resolves (`Spec.auto`)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()   # a Spec value not given


@dataclass(frozen=True)
class Spec:
    """What a field means beside its type and default."""

    help: str = ""
    flag: str | None = None          # the CLI option (default: --NAME, underscores as dashes)
    short: str | None = None         # a one-letter alias ("-n")
    choices: tuple = ()              # `in` decides what is allowed (`shown_choices`: how it is listed)
    low: float | None = None         # bounds, inclusive unless *_open
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    unit: str = ""                   # shown in help ("steps", "documents", "× dose")
    distinct: bool = False           # a list whose items may not repeat
    nonempty: bool = False           # a list that needs at least one item
    added: Any = UNSET               # added after records were first written: left out of them at this value
    study: Any = UNSET               # what a study uses where its config sets nothing (else the default)
    before: Any = UNSET              # what a study folder started before the config key existed ran
    auto: bool = False               # a config may say "auto": resolved for this machine when it is read
    key: str | None = None           # the study config's key, where it differs from the field name
    cli: bool = True                 # False: set by the program, never on a command line (and not in argv)
    recorded: bool = True            # False: how a run is watched, not what it computes: left out of records


def option(default: Any = MISSING, help: str = "", **spec: Any) -> Any:
    """A dataclass field with its `Spec` (lists get a fresh copy of the default per instance)."""
    meta = {"option": Spec(help=help, **spec)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def like(cls: type, name: str, default: Any = UNSET, **changes: Any) -> Any:
    """A field meaning what option `name` of `cls` means (its bounds, choices, unit, help), with another default
    or other `Spec` values: one definition where a config key or another command takes the same option."""
    o = opt(cls, name)
    spec = {**vars(o.spec), **changes}
    return option(o.default if default is UNSET else default, spec.pop("help"), **spec)


@dataclass(frozen=True)
class Opt:
    """One option of a class: its field name, resolved type and default, and its `Spec`."""

    name: str
    type: Any
    default: Any
    spec: Spec

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.name.replace("_", "-")

    @property
    def key(self) -> str:
        return self.spec.key or self.name

    @property
    def optional(self) -> bool:
        return _is_optional(self.type)

    @property
    def kind(self) -> str:
        """"list" (a repeatable option), "tuple" (one comma-separated value) or "scalar"."""
        origin = typing.get_origin(_strip(self.type))
        return "list" if origin is list else "tuple" if origin is tuple else "scalar"

    @property
    def base(self) -> type:
        """The type of the value, or of each item."""
        t = _strip(self.type)
        if self.kind != "scalar":
            t = typing.get_args(t)[0]
        return t

    @property
    def length(self) -> int | None:
        """The fixed number of items of a tuple such as tuple[float, float]; None when any number will do."""
        args = typing.get_args(_strip(self.type))
        return len(args) if self.kind == "tuple" and Ellipsis not in args else None

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def study_default(self) -> Any:
        return self.default if self.spec.study is UNSET else self.spec.study


def _is_optional(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType) and type(None) in typing.get_args(t)


def _strip(t: Any) -> Any:
    """`X | None` → X."""
    if _is_optional(t):
        return next(a for a in typing.get_args(t) if a is not type(None))
    return t


@functools.cache
def options(cls: type) -> tuple[Opt, ...]:
    """The options of a dataclass, in field order (fields without a Spec are not options)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        if "option" in f.metadata:
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            out.append(Opt(f.name, hints[f.name], default, f.metadata["option"]))
    return tuple(out)


def opt(cls: type, name: str) -> Opt:
    return next(o for o in options(cls) if o.name == name)


def values(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """{field: value} of every option of `obj` but `skip` (keyword arguments for the function that takes them)."""
    return {o.name: getattr(obj, o.name) for o in options(type(obj)) if o.name not in skip}


def added(cls: type) -> dict[str, Any]:
    """{field: value} of the options added since records were first written (`Spec.added`)."""
    return {o.name: o.spec.added for o in options(cls) if o.spec.added is not UNSET}


def record(obj: Any) -> dict[str, Any]:
    """The options as plain JSON values, an `added` option left out at its `added` value."""
    out = {}
    for o in options(type(obj)):
        value = getattr(obj, o.name)
        if not o.spec.recorded or (o.spec.added is not UNSET and value == o.spec.added):
            continue
        out[o.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


# --- checks ---------------------------------------------------------------------------------------------------

def bounds(o: Opt) -> str:
    """The option's range in words ("positive", "at least 1", "between 0 and 1", "in [0, 1)"); "" if none."""
    s = o.spec
    low, high = _num(s.low), _num(s.high)
    if s.low is not None and s.high is not None:
        if not s.low_open and not s.high_open:
            return f"between {low} and {high}"
        return f"in {'(' if s.low_open else '['}{low}, {high}{')' if s.high_open else ']'}"
    if s.low is not None:
        if s.low == 0 and s.low_open:
            return "positive"
        return f"greater than {low}" if s.low_open else f"at least {low}"
    if s.high is not None:
        return f"less than {high}" if s.high_open else f"at most {high}"
    return ""


def shown_choices(o: Opt) -> list[str]:
    """The option's choices as help and errors list them (a `choices` container whose `in` accepts more than it
    iterates, such as the conditions' ladder, says how in `shown`)."""
    return [str(c) for c in getattr(o.spec.choices, "shown", o.spec.choices)]


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _type_name(o: Opt) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}[o.base]


def check_value(o: Opt, value: Any, name: str) -> None:
    """InputError `NAME must be …, got VALUE` for a value the option cannot take."""
    if value is None:
        if o.optional:
            return
        raise InputError(f"{name} must be given")
    if o.kind == "scalar":
        _check_item(o, value, name, value)
        return
    items = list(value) if isinstance(value, (list, tuple)) else None
    if items is None:
        raise InputError(f"{name} must be a list of {_type_name(o).removeprefix('an ').removeprefix('a ')}s, "
                         f"got {value!r}")
    if o.length is not None and len(items) != o.length:
        raise InputError(f"{name} must be {o.length} values, got {_show(value)}")
    if o.spec.nonempty and not items:
        raise InputError(f"{name} must list at least one value, got none")
    for v in items:
        _check_item(o, v, name, value)
    if o.spec.distinct and len(set(items)) != len(items):
        twice = next(v for i, v in enumerate(items) if v in items[:i])
        raise InputError(f"{name} must not repeat a value, got {twice!r} twice in {_show(value)}")


def _show(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _is(v: Any, base: type) -> bool:
    if base is bool or isinstance(v, bool):
        return base is bool and isinstance(v, bool)
    return isinstance(v, {float: (int, float), Path: (str, Path)}.get(base, base))


def _check_item(o: Opt, v: Any, name: str, whole: Any) -> None:
    base = o.base
    if not _is(v, base):
        raise InputError(f"{name} must be {_type_name(o)}, got {_show(whole)}")
    if base is float and not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {_show(whole)}")
    if o.spec.choices and v not in o.spec.choices:
        raise InputError(f"{name} must be one of {', '.join(shown_choices(o))}, got {v!r}")
    s = o.spec
    if base in (int, float) and ((s.low is not None and (v < s.low or (s.low_open and v == s.low)))
                                 or (s.high is not None and (v > s.high or (s.high_open and v == s.high)))):
        raise InputError(f"{name} must be {bounds(o)}, got {_show(whole)}")


def check(obj: Any, name: Any = None) -> None:
    """Check every option of `obj`; `name(opt)` says how errors name it (default: its CLI flag)."""
    for o in options(type(obj)):
        check_value(o, getattr(obj, o.name), name(o) if name else o.flag)


# --- values from text (a command line) or TOML (a config) -------------------------------------------------------

def parse(o: Opt, text: str) -> Any:
    """A tuple option's comma-separated command-line value as a tuple (other values Typer parses itself)."""
    try:
        return tuple(o.base(x.strip()) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{o.flag} must be {_type_name(o).removeprefix('an ').removeprefix('a ')}s separated "
                         f"by commas, got {text!r}") from None


def from_config(o: Opt, raw: Any, where: str) -> Any:
    """One TOML value as the option's type (a list as a tuple, an integer where a float goes as a float,
    "auto" where the option allows it), checked."""
    if o.spec.auto and raw == AUTO:
        return raw
    value = raw
    if o.kind != "scalar" and isinstance(raw, list):
        value = tuple(float(v) if o.base is float and _int(v) else v for v in raw)
    elif o.base is float and _int(raw):
        value = float(raw)
    elif o.base is Path and isinstance(raw, str):
        value = raw
    try:
        check_value(o, value, where)
    except InputError as err:
        if o.spec.auto and "must be" in str(err) and o.kind == "scalar" and not isinstance(raw, bool):
            raise InputError(f'{where} must be true, false or "{AUTO}", got {raw!r}') from None
        raise
    return value


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# --- values to text (a plan's command lines) ---------------------------------------------------------------------

def argv(obj: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """The command-line arguments that give `obj`'s values: each option away from its default (all of them for
    a required one), in field order; `skip`: options a caller writes itself."""
    out: list[str] = []
    for o in options(type(obj)):
        if o.name in skip or not o.spec.cli:
            continue
        value = getattr(obj, o.name)
        if not o.required and value == o.default:
            continue
        if value is None:
            raise ValueError(f"{o.flag} cannot be set back to none on a command line")
        if o.kind == "list":
            out += [a for v in value for a in (o.flag, str(v))]
        elif o.kind == "tuple":
            out += [o.flag, ",".join(map(str, value))]
        elif o.base is bool:
            out.append(o.flag if value else "--no-" + o.flag.removeprefix("--"))
        else:
            out += [o.flag, str(value)]
    return out
