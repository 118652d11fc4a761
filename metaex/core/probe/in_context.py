"""The in-context ceiling: generation and held-out fit again, with an explanation of the grammar in the prompt.

A null result from fine-tuning on explanations means little if the model cannot use an explanation even when it
sits in its context window (Treutlein et al. report in-context baselines beside out-of-context results). With
`--in-context` the probe samples `"{explanation}\n{name}:"` and scores held-out valid strings after it, cycling
through the verbalization questions' explanations (styles and paraphrases), and does the same with the control
prompt: a sibling grammar's explanation with this grammar's name swapped in (the verbalization distractor), so
the words and length are alike and only the information differs. Metrics: `icl_*` with the true explanation,
`icl_control_*` with the sibling's; the report reads their difference as the in-context gain.
"""

from __future__ import annotations

from typing import Any

from metaex.core import formats
from metaex.core.probe import scoring
from metaex.core.probe.generate import grammar_seed

TRUE, CONTROL = "icl_", "icl_control_"     # the metric prefixes of the two prompts


def prompt(explanation: str, name: str) -> str:
    """An explanation, a newline, and the generation prompt."""
    return f"{explanation}\n{formats.example_prompt(name)}"


def contexts(items: Any) -> dict[str, list[str]]:
    """prefix -> the explanations to cycle through (the verbalization questions': true, and the first sibling's);
    {} when the probe has no explanations of the grammar, or no sibling to control with."""
    choices = items.choices
    if not choices or not all(c.distractors for c in choices):
        return {}
    return {TRUE: [c.true for c in choices], CONTROL: [c.distractors[0] for c in choices]}


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
