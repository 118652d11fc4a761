"""What a resumed study checks: the config it was started with, and what killed steps left behind.

`record_config` writes every resolved value of the config (and the templates' hashes) to
`STUDY/config.resolved.json` on the first run, and refuses a later run whose config resolves differently, naming
the first key that differs: a finished step's outputs were made with the old values, and mixing them with new ones
would be silent. `clean_temps` removes the hidden temp files and folders that a killed step left beside its outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from metaex.core import files, records
from metaex.core.errors import MetaexError
from metaex.core.grammar.pcfg import load_grammar
from metaex.core.study.config import StudyConfig, changed_key
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
