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


def adapter_base(adapter: Path, run: dict[str, Any] | None, hint: str = "") -> str | None:
    """The base model an adapter was trained on, as its run (or its `metaex.json`, or peft's adapter_config.json)
    recorded it; None when nothing names one. A local base recorded there that no longer exists is an InputError
    saying so (it was taken for a hub id before, and the hub's error said nothing about a moved folder)."""
    meta = _read(adapter / ADAPTER_META)
    run = run or {}
    fingerprint = run.get("base_fingerprint") or meta.get("base_fingerprint")
    named = [b for b in (run.get("base_model"), run.get("base_path"), meta.get("base_model")) if b]
    if not named:
        return _read(adapter / "adapter_config.json").get("base_model_name_or_path")
    if fingerprint is None or str(fingerprint).startswith("hub:"):
        return named[0]
    found = next((b for b in named if Path(b).is_dir()), None)
    if found is None:
        raise InputError(f"the base model this adapter was trained on, {named[-1]}, no longer exists (moved or "
                         f"deleted?){hint}", str(adapter))
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return obj if isinstance(obj, dict) else {}
