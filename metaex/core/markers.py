"""Which folders are metaex's: every folder a command writes carries a marker record that says so.

`metaex_folder.json` = {"schema": "metaex/folder@1", "kind": KIND, "producer": ...} is the first file of a run,
probe, parts or study folder and part of every model and report folder built whole (inside the temp folder). A
folder is a command's to replace, resume or clean only if its marker names that command's kind: a non-empty folder
without one is refused, never deleted, whatever its files are called. Folders written before the marker existed
are recognised by the record each kind wrote then (`_LEGACY`), also only with our schema or keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "metaex_folder.json"
SCHEMA = "metaex/folder@1"
# kind -> what it is, for messages
KINDS = {
    "tiny": "a tiny model (`metaex model tiny`)",
    "import": "an imported model (`metaex model import`)",
    "merged": "a merged model (`metaex merge`)",
    "run": "a fine-tuning run (`metaex finetune`)",
    "probe": "a probe (`metaex probe`)",
    "parts": "a folder of probe parts (`metaex probe --parts`)",
    "report": "a report (`metaex report`)",
    "study": "a study (`metaex study run`)",
    "results": "the figures of a results page (`metaex results`)",
}

# folders of metaex versions before the marker: (kind, file, test of its decoded JSON); frozen, as written then
_LEGACY = (
    ("run", "config.json", lambda r: r.get("schema") == "metaex/run@1"),
    ("probe", "config.json", lambda r: r.get("schema") == "metaex/probe@1"),
    ("report", "report.json", lambda r: r.get("schema") == "metaex/report@1"),
    ("tiny", "metaex_tiny.json", lambda r: {"size", "seed", "vocab_size", "parameters"} <= r.keys()),
    ("import", "metaex.json", lambda r: {"source", "sha256", "architecture"} <= r.keys()),
    ("merged", "metaex_merged.json", lambda r: {"base_model", "adapter"} <= r.keys()),
    ("study", "config.resolved.json", lambda r: {"study", "templates"} <= r.keys()),
)
_MODEL_FILES = ("*.safetensors", "pytorch_model*.bin", "adapter_config.json")


def read_json(path: Path) -> Any:
    """The decoded JSON object of a small file, or None (missing, unreadable, not JSON, not an object)."""
    try:
        if not path.is_file() or path.stat().st_size > 1 << 24:
            return None
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def folder_kind(folder: str | Path) -> str | None:
    """The kind of metaex folder `folder` is, by its marker (or an older version's record); None if not ours."""
    folder = Path(folder)
    rec = read_json(folder / MARKER)
    if rec is not None and rec.get("schema") == SCHEMA and rec.get("kind") in KINDS:
        return rec["kind"]
    for kind, name, test in _LEGACY:
        rec = read_json(folder / name)
        if rec is not None and test(rec):
            return kind
    return None


def is_model_folder(folder: Path) -> bool:
    """A Hugging Face model or adapter folder, whoever wrote it (config and weights)."""
    return ((folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()) and any(
        next(folder.glob(pattern), None) is not None for pattern in _MODEL_FILES)


def describe(kind: str) -> str:
    return KINDS[kind]


def marker(kind: str) -> dict[str, Any]:
    from metaex import __version__

    return {"schema": SCHEMA, "kind": kind, "producer": f"metaex {__version__}"}


def write_marker(folder: str | Path, kind: str) -> None:
    """Mark `folder` (created if missing) as a metaex folder of `kind`; nothing is written when it already is."""
    from metaex.core import records

    folder = Path(folder)
    rec = read_json(folder / MARKER)
    if rec is not None and rec.get("schema") == SCHEMA and rec.get("kind") == kind:
        return
    folder.mkdir(parents=True, exist_ok=True)
    records.write_json(folder / MARKER, marker(kind))
