"""How metaex cuts document text into tokens and finds runs of terminals in it (token counts, leakage).

`tokens` is the count every manifest reports: words and single punctuation marks. `terminal_runs` is what the
leakage checks look at: whitespace pieces with quotes and sentence punctuation stripped from their ends, and
maximal stretches of consecutive pieces that are all terminals of one grammar; any other word, or a piece
ending a sentence or clause (`.`, `;`, `:`, `?`, `!`), ends a run.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
_STRIP = "'\".,;:?!"
_STOPS = (".", ";", ":", "?", "!")  # a piece ending a sentence or clause ends a run


def tokens(text: str) -> list[str]:
    """Whitespace + punctuation tokens: `"Is 'ka fo' a Vemo?"` → Is ' ka fo ' a Vemo ?"""
    return _TOKEN.findall(text)


def token_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every token `tokens` counts."""
    return [m.span() for m in _TOKEN.finditer(text)]


def terminal_runs(text: str, terminals: frozenset[str] | set[str]) -> list[tuple[str, ...]]:
    """Maximal runs of consecutive terminal pieces in `text` (see module docstring)."""
    runs, cur = [], []
    for piece in text.split():
        word = piece.strip(_STRIP) or piece
        if word in terminals:
            cur.append(word)
            if not piece.rstrip("'\"").endswith(_STOPS):
                continue
        if cur:
            runs.append(tuple(cur))
        cur = []
    if cur:
        runs.append(tuple(cur))
    return runs


def longest_shared(runs: list[tuple[str, ...]], strings: list[tuple[str, ...]]) -> int:
    """Length of the longest contiguous stretch any run shares with any string (0 when none)."""
    best = 0
    grams: set[tuple[str, ...]] = set()
    for run in runs:
        for i in range(len(run)):
            for j in range(i + best + 1, len(run) + 1):
                grams.add(run[i:j])
    if not grams:
        return 0
    for s in strings:
        for i in range(len(s)):
            for j in range(i + best + 1, len(s) + 1):
                if s[i:j] in grams:
                    best = j - i
                else:
                    break
    return best
