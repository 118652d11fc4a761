"""The shipped nonce-word lexicon (`metaex/data/lexicon.txt`, made by `scripts/make_lexicon.py`).

Pronounceable, non-English words of 3–7 lowercase letters; grammar instances draw their names and
terminals from it, so one tiny-model tokenizer can cover every alphabet of a study.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def lexicon() -> tuple[str, ...]:
    """All lexicon words, sorted, without duplicates."""
    text = resources.files("metaex").joinpath("data/lexicon.txt").read_text(encoding="utf-8")
    return tuple(sorted({w for w in text.split() if w}))
