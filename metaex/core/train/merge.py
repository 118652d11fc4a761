"""`merge()`: an adapter run folded into its base, reloaded in full precision (never into a 4-bit base)."""

from __future__ import annotations

import json
from pathlib import Path

from metaex.core.errors import InputError
from metaex.core.files import atomic_dir, guard_outputs
from metaex.core.markers import write_marker
from metaex.core.models import load, runs

MERGED = "metaex_merged.json"   # in a merged model folder: what was merged (it may be replaced by a new merge)


def merge(run_dir: str | Path, out: str | Path, *, device: str | None = "cpu") -> dict:
    """Write base + adapter of a LoRA/QLoRA run folder (or an adapter folder) as one full model with its
    tokenizer to `out`, atomically. The base is the one recorded in the run and is loaded in float32."""
    adapter = load.resolve_adapter(run_dir)
    if not (adapter / runs.ADAPTER_META).is_file():
        raise InputError(f"adapter has no {runs.ADAPTER_META} naming its base model (not written by metaex)",
                         str(adapter))
    base = runs.adapter_base(adapter, None)
    guard_outputs([run_dir, adapter, *([base] if Path(base).exists() else [])],
                  [(out, "folder", "merged")])
    net, tokenizer = load.load_model(base, adapter=adapter, method="full", device=device)
    merged = net.merge_and_unload()
    info = {"base_model": base, "adapter": str(adapter), "out": str(out)}
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / MERGED).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_marker(tmp, "merged")
    return info
