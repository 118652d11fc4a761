"""Reading a study config (TOML) into a `StudyConfig`: every section and key known and checked where it is read
(`config.py` declares them), "auto" values made this machine's, an arm's local model folder found, the checks
across keys run (`checks.py`)."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError
from metaex.core.models.precision import cpu_bf16
from metaex.core.options import AUTO, from_config, options
from metaex.core.records import without_boms
from metaex.core.study.config import ARMS, SECTIONS, Arm, Design, Section, StudyConfig
from metaex.core.study.slurm import read_table
from metaex.core.train.options import TrainOptions


def _closest(word: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(word, valid, n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(valid)})"


def _read_section(table: Any, section: Section, src: str, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """({own field: value}, {option field: value}) of one table, every key known and checked."""
    if not isinstance(table, dict):
        raise InputError(f"[{where}] should be a table", src)
    known = section.keys()
    own: dict[str, Any] = {}
    partial: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in known:
            raise InputError(f"unknown key {key!r} in [{where}]{_closest(key, sorted(known))}", src)
        o, is_option = known[key]
        try:
            (partial if is_option else own)[o.name] = from_config(o, raw, f"[{where}] {key}")
        except InputError as err:
            raise InputError(str(err), src) from None
    return own, partial


def load_config(path: str | Path, *, models: list[str] | None = None) -> StudyConfig:
    """Read a study TOML; `models` (from `make study-gpu MODELS=…`) replaces the arms by QLoRA base models."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such study config", str(path))
    try:
        raw = tomllib.loads(without_boms(p.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a valid TOML study config ({err})", str(path)) from None
    except RecursionError:
        raise InputError("not a valid TOML study config (nested too deeply to read)", str(path)) from None
    src = str(path)
    for name in raw:   # [slurm]: where the study runs (`metaex.core.study.slurm`), not what it computes
        if name not in (*SECTIONS, "arms", "slurm"):
            raise InputError(f"unknown section [{name}]{_closest(name, [*SECTIONS, 'arms', 'slurm'])}", src)
    values: dict[str, Any] = {}
    for name, section in SECTIONS.items():
        own, partial = _read_section(raw.get(name, {}), section, src, name)
        values.update(own)
        if section.values:
            values[section.values] = {o.name: partial.get(o.name, o.study_default) for o in section.settable()}
    for o in options(Design):
        if o.required and o.name not in values:
            raise InputError(f"[study] needs {o.key!r}", src)
    arms = _arms(raw.get("arms", {}), src, models)
    slurm = read_table(raw.get("slurm"), src, [a.name for a in arms], bool(models))
    cfg = _resolve_auto(StudyConfig(path=src, arms=arms, slurm=slurm, **values))
    from metaex.core.study.checks import check_config

    check_config(cfg, src)
    return cfg


def _resolve_auto(cfg: StudyConfig) -> StudyConfig:
    """Every "auto" of an option that allows it (`Spec.auto`: bf16) made this machine's (`precision.cpu_bf16()`),
    so that config.resolved.json records what ran and a folder resumed on a machine that resolves otherwise is
    refused, not mixed."""
    machine = {o.name for o in options(TrainOptions) if o.spec.auto}
    tables = [cfg.train, *(a.train for a in cfg.arms)]
    if not any(table.get(name) == AUTO for table in tables for name in machine):
        return cfg
    native = cpu_bf16()     # read once, however many keys say "auto"

    def resolve(table: dict) -> dict:
        return {k: native if k in machine and v == AUTO else v for k, v in table.items()}

    return replace(cfg, train=resolve(cfg.train), arms=tuple(replace(a, train=resolve(a.train)) for a in cfg.arms))


def _model_folder(src: str, model: str) -> str:
    """A local model folder relative to the config file's folder as named (`configs/` is a link to the package's
    studies: `../models` is then the repository's models/), else relative to the file it links to; else the name
    as given (a hub id, or a folder `check_runnable` reports missing)."""
    named = Path(os.path.normpath(Path(src).absolute().parent / model))   # `..` read before any link is followed
    for here in (named, Path(src).resolve().parent / model):
        if here.exists():
            return str(here.resolve())
    return model


def _arms(table: Any, src: str, models: list[str] | None) -> tuple[Arm, ...]:
    if models:
        return tuple(Arm(name=m.rstrip("/").split("/")[-1], model=m, train={"method": "qlora"}) for m in models)
    if not isinstance(table, dict) or not table:
        raise InputError("the config has no [arms.NAME] tables", src)
    arms = []
    for name, spec in table.items():
        given, train = _read_section(spec, ARMS, src, f"arms.{name}")
        if given.get("model") is not None:
            given["model"] = _model_folder(src, given["model"])
        arm = Arm(name=name, train=train, **given)
        if arm.bridged and not arm.tiny:
            raise InputError(f"[arms.{name}] only tiny from-scratch arms can be bridged", src)
        unused = sorted(k for k in given if k.startswith("bridge_") and not arm.bridged)
        if unused:
            raise InputError(f"[arms.{name}] {unused[0]} is set but the arm is not bridged (nothing would use it)",
                             src)
        arms.append(arm)
    return tuple(arms)
