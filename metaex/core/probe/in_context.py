"""The in-context ceiling: generation and held-out fit again, with an explanation of the grammar in the prompt.

A null result from fine-tuning on explanations means little if the model cannot use an explanation even when it
sits in its context window (Treutlein et al. report in-context baselines beside out-of-context results). With
`--in-context` the probe samples `"{explanation}\n{name}:"` and scores held-out valid strings after it, cycling
through the verbalization questions' explanations (styles and paraphrases), and does the same with the control
prompt: the same-alphabet sham of that explanation (`contexts`), so words, names and length are alike and only the
rules differ. Metrics: `icl_*` with the true explanation, `icl_control_*` with the sham; the report reads their
difference as the in-context gain.
"""

from __future__ import annotations

import random
import re
from typing import Any

from metaex.core import formats
from metaex.core.probe import scoring
from metaex.core.probe.generate import grammar_seed

TRUE, CONTROL = "icl_", "icl_control_"     # the metric prefixes of the two prompts


def prompt(explanation: str, name: str) -> str:
    """An explanation, a newline, and the generation prompt."""
    return f"{explanation}\n{formats.example_prompt(name)}"


def contexts(items: Any) -> dict[str, list[str]]:
    """prefix -> the explanations to cycle through: the grammar's own, and the same-alphabet sham of each (the
    control: the same words, names and length, other rules). A contested grammar's sham is the other variant's
    explanation worded alike (`probe.contest.sham`); any other grammar's is its explanation with the terminals
    permuted (`permuted_terminals`). {} when the probe has no explanations of the grammar, or it has one terminal.
    A sibling grammar's explanation, the control before 2026-12-06, brought another alphabet: base SmolLM2's whole
    in-context gain over it was the vocabulary (STUDY.md)."""
    if items.contest_contexts:
        return {TRUE: [c.told for c in items.contest_contexts], CONTROL: [c.other for c in items.contest_contexts]}
    trues = [c.true for c in items.choices]
    shams = [permuted_terminals(t, items.grammar) for t in trues]
    if not trues or any(s is None for s in shams):
        return {}
    return {TRUE: trues, CONTROL: shams}


_QUOTED = re.compile(r"'([^'\s]+)'")


def permuted_terminals(text: str, g: Any) -> str | None:
    """`text` with every quoted terminal of g replaced by its image under one derangement of g's terminals (seeded
    by the grammar's hash): the same words, wrong rules. None for a grammar of one terminal."""
    terminals = sorted(g.terminals)
    if len(terminals) < 2:
        return None
    rng = random.Random(f"metaex-icl-control:{g.hash}")
    while True:
        image = list(terminals)
        rng.shuffle(image)
        if all(a != b for a, b in zip(terminals, image, strict=True)):
            break
    mapping = dict(zip(terminals, image, strict=True))
    if any(m.group(1) in mapping for m in _QUOTED.finditer(text)):   # metaex's explanations quote terminals
        return _QUOTED.sub(lambda m: f"'{mapping.get(m.group(1), m.group(1))}'", text)
    bare = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, sorted(mapping, key=len, reverse=True))) + r")(?![\w'])")
    return bare.sub(lambda m: mapping[m.group(1)], text)   # a hand-written explanation's bare words


def sample_asks(items: Any, n: int, seed: int, budget: int) -> list[tuple[str, tuple[str, int, int, int, int]]]:
    """(prefix, generate.sample_many ask) per explanation: `n` samples per prompt kind, spread over the
    explanations; each ask has its own seed (seed, grammar, prefix, index)."""
    name = items.grammar.name
    out = []
    for prefix, texts in contexts(items).items():
        k = len(texts)
        for i, text in enumerate(texts):
            count = n // k + (i < n % k)
            if count:
                out.append((prefix, (prompt(text, name), count, grammar_seed(seed, f"{name}:{prefix}{i}"), budget,
                                     items.max_len)))
    return out


def heldout_requests(tokenizer: Any, items: Any) -> list[tuple[str, scoring.Request]]:
    """(prefix, request) per held-out valid string and prompt kind, string i after explanation i mod k."""
    goods = [good for good, _ in items.pairs]
    out = []
    for prefix, texts in contexts(items).items():
        pairs = [(prompt(texts[i % len(texts)], items.grammar.name), " " + s) for i, s in enumerate(goods)]
        out += [(prefix, r) for r in scoring.encode_many(tokenizer, pairs, eos=True)]
    return out


def heldout_rows(items: Any, prefixes: list[str], mean_lps: list[float]) -> list[dict]:
    goods = [good for good, _ in items.pairs]
    rows = []
    for prefix in dict.fromkeys(prefixes):
        values = [m for p, m in zip(prefixes, mean_lps, strict=True) if p == prefix]
        rows += [{"metric": f"{prefix}heldout_lp", "item": i, "value": v, "text": s}
                 for i, (s, v) in enumerate(zip(goods, values, strict=True))]
    return rows
