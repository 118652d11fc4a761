"""What a resumed study checks: the config it was started with, and what killed steps left behind.

`record_config` writes every resolved value of the config (and the templates' hashes) to
`STUDY/config.resolved.json` on the first run, and refuses a later run whose config resolves differently, naming
the first key that differs: a finished step's outputs were made with the old values, and mixing them with new ones
would be silent. `clean_temps` removes the hidden temp files and folders that a killed step left beside its outputs.
"""

from __future__ import annotations

import json
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from metaex.core import files, records
from metaex.core.errors import MetaexError
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.options import UNSET
from metaex.core.study.config import ARMS, SECTIONS, StudyConfig, _plain
from metaex.core.study.plan import Step

RESOLVED = "config.resolved.json"


def resolved_config(cfg: StudyConfig) -> dict:
    """cfg.resolved() plus the content hash of every template grammar the study instantiates."""
    return {**cfg.resolved(), "templates": {g: load_grammar(cfg.grammar_path(g)).hash for g in cfg.grammars}}


def record_config(cfg: StudyConfig, out: str | Path) -> None:
    """Write STUDY/config.resolved.json, or check that this config resolves as the one the folder was started with."""
    path = Path(out) / RESOLVED
    new = resolved_config(cfg)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = None
        key = changed_key(old, new) if isinstance(old, dict) else "the folder's config.resolved.json is unreadable"
        if key:
            raise MetaexError(f"{out}: the study config changed since this folder was started ({key}): its "
                              "finished steps used the old values; use a new --out, or restore the config")
        return
    records.write_json(path, new)


def clean_temps(step: Step, locked: bool = False) -> list[Path]:
    """Remove the temps that dead processes left in this step's output folders; returns them. `locked`: this
    process holds the step's cell, so the temps of other hosts there are dead writers' too (a node that died)."""
    removed: list[Path] = []
    for out in step.outputs:
        removed += files.clean_folder(out.parent, any_host=locked)
        if out.is_dir():
            removed += files.clean_folder(out, any_host=locked)
    return removed


def changed_key(old: dict, new: dict, prefix: str = "") -> str | None:
    """The first key (as `[section] key: old → new`) where two resolved configs differ; None when they agree.
    The grammar folder's location is not compared (the templates' contents are, through `templates`), nor a key
    the old config lacks whose new value is what the folder ran before the key existed (a key added to metaex
    since, at its default or its `before` value)."""
    for k in sorted(set(old) | set(new)):
        if prefix == "study" and k == "grammar_dir":
            continue
        if not prefix and k == "analysis":
            continue    # the report's settings: they change no step's outputs but the report's, which rereads them
        if k not in old and _ran_before(prefix, k, new[k]):
            continue    # a key added to metaex since the folder was started, at its default: nothing changed
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            found = changed_key(a, b, f"{prefix}.{k}" if prefix else k)
            if found:
                return found
        elif a != b:
            return f"[{prefix}] {k}: {a!r} → {b!r}" if prefix else f"{k}: {a!r} → {b!r}"
    return None


def _ran_before(prefix: str, key: str, value: Any) -> bool:
    """Whether `value` is what a folder without config key `key` of section `prefix` ("arms.NAME" for an arm's)
    ran: the key's `before` value where its default changed when it came, else its (study) default; an arm's
    TrainOptions key: none (the study's value)."""
    arm = prefix.startswith("arms.")
    section = ARMS if arm else SECTIONS.get(prefix)
    if section is None or key not in section.keys():
        return False
    o, partial = section.keys()[key]
    default = None if arm and partial else o.spec.before if o.spec.before is not UNSET else o.study_default
    return default is not MISSING and _plain(default) == value
