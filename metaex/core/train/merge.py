"""`merge()`: an adapter run folded into its base, reloaded in full precision (never into a 4-bit base)."""

from __future__ import annotations

import json
from pathlib import Path

from metaex.core.errors import InputError
from metaex.core.models import load


def merge(run_dir: str | Path, out: str | Path, *, device: str | None = "cpu") -> dict:
    """Write base + adapter of a LoRA/QLoRA run folder (or an adapter folder) as one full model with its
    tokenizer to `out`, atomically. The base is the one recorded in the run and is loaded in float32."""
    adapter = load.resolve_adapter(run_dir)
    meta_file = adapter / load.ADAPTER_META
    if not meta_file.is_file():
        raise InputError(f"adapter has no {load.ADAPTER_META} naming its base model (not written by metaex)",
                         str(adapter))
    base = json.loads(meta_file.read_text())["base_model"]
    net, tokenizer = load.load_model(base, adapter=adapter, method="full", device=device)
    merged = net.merge_and_unload()
    with load.atomic_dir(out) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return {"base_model": base, "adapter": str(adapter), "out": str(out)}
