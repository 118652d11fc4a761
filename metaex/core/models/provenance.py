"""Provenance of a model: a cheap fingerprint of its weights, its parameter count, and the runs behind it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from metaex.core.models.runs import is_run_dir, resolve_run


def cached_file(model_id: str, filename: str) -> Path | None:
    """A file of hub model `model_id` as loading it offline reads it: in the snapshot the local Hugging Face cache's
    refs/main names (huggingface_hub's own cache lookup, which HF_HOME / HF_HUB_CACHE place; never the network).
    None where the cache holds none, or `model_id` is no hub id (a folder not built yet)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, filename)
    except ValueError:       # huggingface_hub's HFValidationError: not a repo id
        return None
    return Path(found) if isinstance(found, str) else None


def hub_revision(model_id: str) -> str | None:
    """The commit of hub model `model_id` that loading it offline reads (its cached config.json's snapshot)."""
    found = cached_file(model_id, "config.json")
    return found.parent.name if found is not None else None


def model_fingerprint(model: str) -> str:
    """A cheap identity of a base model: for a local folder, its config and the size, head and tail of each
    weights file (tiny models of different seeds differ there); for a hub id, `hub:ID@COMMIT`, the commit its
    cached snapshot came from (`hub:ID` while the cache holds none: before its first download)."""
    p = Path(model)
    if not p.is_dir():
        revision = hub_revision(str(model))
        return f"hub:{model}@{revision}" if revision else f"hub:{model}"
    h = hashlib.sha256((p / "config.json").read_bytes())
    for w in sorted(p.glob("*.safetensors")):
        size = w.stat().st_size
        h.update(f"{w.name}:{size}".encode())
        with open(w, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read())
    return h.hexdigest()[:16]


def same_base(recorded: str | None, current: str) -> bool:
    """Whether a recorded base fingerprint names the model whose fingerprint is `current`: equal, or a hub id
    recorded without its commit (before commits were recorded, or before the first download) for any commit."""
    return recorded is None or recorded == current or (
        recorded.startswith("hub:") and "@" not in recorded and current.split("@", 1)[0] == recorded)


def parameter_count(model: str) -> int | None:
    """Parameters of a local model folder, read from its safetensors headers (no weights loaded); None for a hub id
    or a folder without safetensors. Tied weights stored once count once."""
    p = Path(model)
    total, found = 0, False
    for w in sorted(p.glob("*.safetensors")) if p.is_dir() else []:
        with open(w, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for dim in info["shape"]:
                    n *= dim
                total, found = total + n, True
    return total if found else None


def lineage(model: str | Path) -> list[dict[str, Any]]:
    """The training runs behind a model, newest first: for each run folder on the way down to a plain model, its
    method and the kind of data it trained on (`bridge` for a bridging corpus, else the mix's condition)."""
    out: list[dict[str, Any]] = []
    p = Path(model)
    seen = set()
    while p.is_dir() and is_run_dir(p) and p.resolve() not in seen:
        seen.add(p.resolve())
        cfg = resolve_run(p)
        mix = cfg.get("mix") or {}
        out.append({"run": str(p.resolve()), "method": cfg.get("method"),
                    "data": "bridge" if mix.get("kind") == "bridge" else mix.get("condition")})
        p = Path(str(cfg.get("base_model", "")))
    return out
