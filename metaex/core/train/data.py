"""Training data: `document` records → token ids, one document per example, each ending in EOS; and the
packing collator.

Packing is transformers' `DataCollatorWithFlattening`: the documents of a batch are concatenated into rows
with `position_ids` restarting at 0 per document and no attention mask, so transformers builds a block-diagonal
causal mask (STACK.md) and no document attends to another; the first label of each document is -100, so no
document predicts the next one's first token. `use_cache=False` rides along in every batch: with a KV cache the
documents would silently attend to each other. A batch is spread over ceil(tokens / max(`row_tokens`, longest
document)) rows of near-equal length (documents never split), because the mask and attention grow with the
square of the row length; shorter rows are padded at the end by a pseudo-document of pad tokens (own positions
from 0, labels -100), which no real token attends to.

One long document (a worked document of 64 strings is ~2,500 BPE tokens) makes a row of its own, and the other
rows of its batch were padded to its width: half the positions computed were padding. `split_by_width` cuts such a
batch into groups of rows of similar width, each trimmed to its widest row; the trainer runs one forward and
backward per group inside the same optimizer step, which gives the same gradient (the loss is a sum over tokens
divided by one count for the whole batch), at the cost of the positions that are real. (With dropout, as in LoRA,
each group draws its own masks: the step is then the same in distribution, not bit for bit.)
"""

from __future__ import annotations

import hashlib
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


def read_documents(path: str | Path) -> list[dict]:
    """Every `document` record, in file order; wrong kinds and empty files are InputErrors."""
    if str(path) == "-":
        raise InputError("training data must be a file (it is hashed and may be read twice), not stdin", "-")
    return records.read_all(path, "document")


def fixed_loss_tokens(features: list[dict], docs: list[dict], docs_per_step: int) -> float:
    """The `loss_norm="fixed"` divisor: `docs_per_step` × the mean number of loss tokens of an example
    document (of every document when the file has no `doc_kind == "example"` records). Under packing a
    document's first token carries no loss, so a document of n tokens has n − 1."""
    sizes = [len(f["input_ids"]) - 1 for f, d in zip(features, docs, strict=True) if d.get("doc_kind") == "example"]
    sizes = sizes or [len(f["input_ids"]) - 1 for f in features]
    return docs_per_step * sum(sizes) / len(sizes)


def read_manifest(train_file: str | Path) -> dict | None:
    """`TRAIN.manifest.json` beside `TRAIN.jsonl` (written by `metaex mix`), or None."""
    from metaex.core.mix import manifest_path

    manifest = manifest_path(train_file)
    if not manifest.is_file():
        return None
    return records.load_json(manifest)


def tokenize_documents(tokenizer: Any, texts: list[str], where: str, max_length: int | None = None) -> list[dict]:
    """[{"input_ids": [...]}] per document: the tokenizer's own special tokens (BOS for Llama-like ones) plus
    EOS at the end, which stays in the loss. Words a word-level tokenizer lacks are InputErrors (file:line)."""
    from metaex.core.models.vocab import check_coverage, first_positions

    check_coverage(tokenizer, texts, where)
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError("the model's tokenizer has no EOS token; documents could not end", where)
    first = first_positions(texts)  # a mix repeats each document once per pass: encode each text once
    encoded = {}
    for text, ids in zip(first, tokenizer(list(first))["input_ids"], strict=True):
        if not ids or ids[-1] != eos:
            ids = [*ids, eos]
        if max_length is not None and len(ids) > max_length:
            raise InputError(f"document has {len(ids)} tokens, more than the model's {max_length} positions",
                             where, first[text] + 1)
        encoded[text] = ids
    return [{"input_ids": list(encoded[text])} for text in texts]


class PackingCollator:
    """Pack a batch of documents into rows without cross-document attention (see the module docstring)."""

    def __init__(self, row_tokens: int | None = None, pad_id: int = 0) -> None:
        from transformers import DataCollatorWithFlattening

        self.row_tokens, self.pad_id = row_tokens, pad_id
        self._flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)

    def __call__(self, features: list[dict]) -> dict:
        import torch

        lengths = [len(f["input_ids"]) for f in features]
        cap = None if self.row_tokens is None else max(self.row_tokens, *lengths)
        k = 1 if cap is None else -(-sum(lengths) // cap)
        # rows of near-equal length, so little padding: longest document first into the shortest row (the
        # documents of one batch form one optimizer step, so their order inside it does not matter)
        load, members = [0] * k, [[] for _ in range(k)]
        for i in sorted(range(len(features)), key=lambda i: -lengths[i]):
            j = min(range(k), key=load.__getitem__)
            load[j] += lengths[i]
            members[j].append(i)
        rows = [[features[i] for i in sorted(m)] for m in members if m]
        flat = [self._flatten(r) for r in rows]
        width = max(b["input_ids"].shape[1] for b in flat)
        fill = {"input_ids": self.pad_id, "labels": -100}
        batch: dict[str, Any] = {}
        for key in ("input_ids", "labels", "position_ids"):
            parts = []
            for b in flat:
                gap = width - b[key].shape[1]
                pad = torch.arange(gap)[None] if key == "position_ids" else torch.full((1, gap), fill[key])
                parts.append(torch.cat([b[key], pad.to(b[key].dtype)], dim=1))
            batch[key] = torch.cat(parts)
        batch["use_cache"] = False
        return batch


def split_by_width(batch: dict, ratio: float = 0.5) -> list[dict]:
    """The collated `batch` as groups of its rows, widest first, each cut to its widest row's real width; a row
    joins the current group unless its real width is below `ratio` × the group's (one group: the batch itself).
    A row's real width ends at its last labelled token (padding carries no labels, every real document does)."""
    import torch

    labels = batch["labels"]
    labelled = labels != -100
    width = torch.where(labelled.any(1), labels.shape[1] - labelled.flip(1).int().argmax(1), 1).tolist()
    order = sorted(range(len(width)), key=lambda r: -width[r])
    groups: list[list[int]] = []
    for r in order:
        if groups and width[r] >= ratio * width[groups[-1][0]]:
            groups[-1].append(r)
        else:
            groups.append([r])
    if len(groups) == 1:
        return [batch]
    out = []
    for rows in groups:
        index, w = sorted(rows), width[rows[0]]
        out.append({k: v[torch.tensor(index, device=v.device), :w] if isinstance(v, torch.Tensor) else v
                    for k, v in batch.items()})
    return out
