"""The run-folder contract: a folder written by `metaex finetune` (DESIGN.md, Run folders).

RUN_DIR/config.json carries `schema: metaex/run@1`; RUN_DIR/final/ is the finished artifact (a full model or an
adapter) with its run's config committed beside it (`run.json`); an adapter folder names its base (`metaex.json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metaex.core.errors import InputError

RUN_SCHEMA = "metaex/run@1"
FINAL_RUN = "run.json"        # in a run's final/: the finished run's config, committed with the artifact
ADAPTER_META = "metaex.json"  # in an adapter folder: {"base_model": ..., "base_fingerprint": ...}


def is_run_dir(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("schema") == RUN_SCHEMA
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def resolve_run(run_dir: str | Path) -> dict[str, Any]:
    """A finished run folder's config.json, with `final` set to the absolute path of its artifact
    (full model or adapter). Errors: not a folder, not a run folder, run not finished."""
    p = Path(run_dir)
    if not p.is_dir():
        raise InputError("no such run folder", str(run_dir))
    if not is_run_dir(p):
        raise InputError("not a metaex run folder (no config.json written by `metaex finetune`)", str(run_dir))
    cfg = json.loads((p / "config.json").read_text())
    final = p / "final"
    if not final.is_dir():
        raise InputError("run not finished (no final/); continue it with `metaex finetune … --resume`", str(p))
    if (final / FINAL_RUN).is_file():  # committed with the artifact: right even if config.json was not rewritten
        cfg = json.loads((final / FINAL_RUN).read_text())
    return {**cfg, "final": str(final.resolve())}
