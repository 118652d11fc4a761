"""Helpers for model and finetune tests: tiny documents, tiny models built in a temp folder (never a hub)."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["ka", "blick", "glims", "zorp", "tuv"]


def documents(n: int, seed: int = 0, name: str = "Vemo") -> list[dict]:
    """n example documents of varying length (and one explanation every 5th), deterministic in `seed`."""
    import random

    rng = random.Random(seed)
    docs = []
    for i in range(n):
        if i % 5 == 4:
            text = f"In {name}, every sentence begins with 'ka' ."
            kind = "explanation"
        else:
            text = f"{name}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9)))
            kind = "example"
        docs.append({"schema": "metaex/document@1", "kind": "document", "text": text, "doc_kind": kind,
                     "grammar": name, "seed": seed})
    return docs


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def build(tmp: Path, name: str = "tiny", seed: int = 0, size: str = "tiny") -> Path:
    """A tiny Llama whose tokenizer covers `documents()` (no lexicon), saved under tmp/name."""
    from metaex.core.models import build_tiny
    from metaex.core.models.tiny import words_of

    words = sorted(words_of(d["text"] for d in documents(50)) | {"Yes", "No", "Is", "a", "sentence", "?", "\n"})
    out = tmp / name
    build_tiny(words, out, size=size, seed=seed)
    return out
