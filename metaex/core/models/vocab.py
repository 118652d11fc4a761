"""Vocabulary checks: every word of a training or probe file must be in the model's vocabulary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metaex.core.errors import InputError


def first_positions(texts: Iterable[str]) -> dict[str, int]:
    """Each distinct text, in order of first appearance, with the position (from 0) where it first appears: a
    training file repeats its documents once per pass, and work per text need only be done once."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    return first


def check_coverage(tokenizer: Any, texts: Iterable[str], where: str) -> None:
    """InputError naming `where`:line (line = position in `texts`, from 1) for the first text holding a word the
    tokenizer maps to its unknown token. Tokenizers without an unknown token (byte-level BPE) always pass."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return
    first = first_positions(texts)
    unique = list(first)
    enc = tokenizer(unique, add_special_tokens=False, return_offsets_mapping=True)
    for text, ids, offsets in zip(unique, enc["input_ids"], enc["offset_mapping"], strict=True):
        if unk in ids:
            start, end = offsets[ids.index(unk)]
            raise InputError(f"word {text[start:end]!r} is not in the model's vocabulary (build the tiny "
                             "model with this file among --vocab-from)", where, first[text] + 1)
