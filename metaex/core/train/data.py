"""Training data: `document` records → token ids, one document per example, each ending in EOS; and the
packing collator.

Packing is transformers' `DataCollatorWithFlattening`: the documents of a batch are concatenated into one row
with `position_ids` restarting at 0 per document and no attention mask, so transformers builds a block-diagonal
causal mask (STACK.md) and no document attends to another; the first label of each document is -100, so no
document predicts the next one's first token. `use_cache=False` rides along in every batch: with a KV cache the
documents would silently attend to each other. There is no padding at all.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from metaex.core import records
from metaex.core.errors import InputError


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_documents(path: str | Path) -> list[str]:
    """The `text` of every `document` record, in file order; wrong kinds and empty files are InputErrors."""
    if str(path) == "-":
        raise InputError("training data must be a file (it is hashed and may be read twice), not stdin", "-")
    return [rec["text"] for rec in records.read_all(path, "document")]


def read_manifest(train_file: str | Path) -> dict | None:
    """`TRAIN.manifest.json` beside `TRAIN.jsonl` (written by `metaex mix`), or None."""
    p = Path(train_file)
    manifest = p.with_name(p.name.removesuffix(".jsonl") + ".manifest.json")
    if not manifest.is_file():
        return None
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"unreadable mix manifest ({err})", str(manifest)) from None


def tokenize_documents(tokenizer: Any, texts: list[str], where: str, max_length: int | None = None) -> list[dict]:
    """[{"input_ids": [...]}] per document: the tokenizer's own special tokens (BOS for Llama-like ones) plus
    EOS at the end, which stays in the loss. Words a word-level tokenizer lacks are InputErrors (file:line)."""
    from metaex.core.models.load import check_coverage

    check_coverage(tokenizer, texts, where)
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError("the model's tokenizer has no EOS token; documents could not end", where)
    out = []
    for i, ids in enumerate(tokenizer(texts)["input_ids"]):
        if not ids or ids[-1] != eos:
            ids = [*ids, eos]
        if max_length is not None and len(ids) > max_length:
            raise InputError(f"document has {len(ids)} tokens, more than the model's {max_length} positions",
                             where, i + 1)
        out.append({"input_ids": ids})
    return out


class PackingCollator:
    """Flatten a batch of documents into one row without cross-document attention (see the module docstring)."""

    def __init__(self) -> None:
        from transformers import DataCollatorWithFlattening

        self._flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)

    def __call__(self, features: list[dict]) -> dict:
        batch = self._flatten(features)
        batch["use_cache"] = False
        return batch
