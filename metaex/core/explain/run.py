"""Explanations of a grammar, generated mechanically from its rules, in three styles with many paraphrases.

- `prose`: rule by rule, nonterminals named by their glosses or neutrally ("a phrase of type B");
- `bnf`: compact rules (`S ::= 'ka' B | …`) plus the start symbol;
- `constraints`: facts derived from the rules (first/last symbols, what may follow what, lengths, counts,
  bracket-like nesting; see `facts.py`).

Every text is checked before it is returned: bnf parses back to exactly the grammar's rules, constraints parse
back to exactly the derived facts, and no text contains a run of terminals (≥ 2) that is a string of the
language. Paraphrase i of a style is seeded by (seed, grammar, style, i), so the first N of a larger set are the
same N texts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.explain import templates as T
from metaex.core.explain.facts import LIMIT, derive_facts
from metaex.core.explain.parse import parse_bnf, parse_constraints
from metaex.core.explain.render import (
    gloss_head,
    leaky_runs,
    render_bnf,
    render_constraints,
    render_prose,
    rules_of,
)
from metaex.core.grammar.pcfg import Grammar

if TYPE_CHECKING:
    from metaex.core.explain.options import ExplainOptions
from metaex.core.text import terminal_runs, tokens

STYLES = ("prose", "bnf", "constraints")
_ATTEMPTS = 200  # renderings tried per paraphrase before giving up on finding a new distinct text


def explanation_vocabulary(grammars: Iterable[Grammar] = ()) -> set[str]:
    """Every token (`text.tokens`) a template can emit, numbers 0..LIMIT, and the given grammars' gloss words.

    Grammar names, terminals and nonterminal symbols are not included: they come with each grammar.
    """
    words = {str(n) for n in range(LIMIT + 1)}
    for group in T.ALL_TEMPLATES:
        for template in group:
            words.update(tokens(re.sub(r"\{\w+\}", " ", template)))
    for g in grammars:
        for gloss in g.glosses.values():
            words.update(tokens(gloss_head(gloss)))
    return words


def parse_styles(spec: str) -> list[str]:
    """`"prose,bnf"` → ["prose", "bnf"]; unknown or repeated names are an InputError."""
    styles = [s.strip() for s in spec.split(",") if s.strip()]
    for s in styles:
        if s not in STYLES:
            raise InputError(f"unknown style {s!r} (styles: {', '.join(STYLES)})")
    if not styles or len(set(styles)) != len(styles):
        raise InputError(f"--styles needs distinct names from {', '.join(STYLES)}, got {spec!r}")
    return styles


# the largest grammar explained: the facts are fixpoints over the rules, several per terminal and one per pair of
# terminals, so their cost grows with rules × terminals² (60 terminals and 180 rules, or 50 and 500: ~6 s on a
# busy core; 250 terminals: minutes and gigabytes)
MAX_RULES, MAX_TERMINALS = 500, 60


class Explainer:
    """Renders and verifies explanations of one grammar."""

    def __init__(self, g: Grammar):
        from metaex.core.grammar.recognize import recognizer

        if len(g.rules) > MAX_RULES or len(g.terminals) > MAX_TERMINALS:
            raise InputError(f"grammar {g.name} has {len(g.rules):,} rules and {len(g.terminals):,} terminals: "
                             f"metaex explains grammars of at most {MAX_RULES} rules and {MAX_TERMINALS} terminals "
                             "(deriving a larger one's facts takes minutes)", g.source)
        self.g = g
        self.accepts = recognizer(g).accepts
        self.facts = derive_facts(g)
        self.leaky = leaky_runs(g, self.accepts)
        self.terminals = frozenset(g.terminals)

    def render(self, style: str, rng: random.Random) -> str:
        g = self.g
        if style == "prose":
            text = render_prose(g, rng)
        elif style == "bnf":
            text = render_bnf(g, rng, self.leaky)
            if parse_bnf(text, g.name) != (g.start, rules_of(g)):
                raise AssertionError(f"bnf of {g.name} does not parse back to its rules:\n{text}")
        else:
            text = render_constraints(g, rng, self.facts)
            if parse_constraints(text, g.name, g.terminals) != set(self.facts):
                raise AssertionError(f"constraints of {g.name} do not parse back to its facts:\n{text}")
        for run in terminal_runs(text, self.terminals):
            for i in range(len(run)):
                for j in range(i + 2, len(run) + 1):
                    if self.accepts(" ".join(run[i:j])):
                        raise AssertionError(f"{style} explanation of {g.name} quotes a string: {run[i:j]}")
        return text

    def paraphrases(self, style: str, n: int, seed: int) -> list[str]:
        """n distinct texts of one style; InputError when the grammar is too small to give n."""
        texts: list[str] = []
        seen: set[str] = set()
        for p in range(n):
            for attempt in range(_ATTEMPTS):
                text = self.render(style, paraphrase_rng(self.g, seed, style, p, attempt))
                if text not in seen:
                    break
            else:
                raise InputError(f"grammar {self.g.name} gives only {len(texts)} distinct {style} paraphrases, "
                                 f"{n} were asked for", self.g.source)
            seen.add(text)
            texts.append(text)
        return texts

    def attempt_of(self, record: dict) -> int | None:
        """The rendering attempt of its style and paraphrase that gave an explanation record's text (None: not a
        text this explainer makes of the grammar, with the record's seed)."""
        for attempt in range(_ATTEMPTS):
            rng = paraphrase_rng(self.g, record["seed"], record["style"], record["paraphrase"], attempt)
            if self.render(record["style"], rng) == record["text"]:
                return attempt
        return None


def paraphrase_rng(g: Grammar, seed: int, style: str, p: int, attempt: int) -> random.Random:
    """The random choices of the attempt-th rendering of paraphrase p of one style of g. Another grammar of the
    same shape rendered with them (a contest's other variant) is worded alike, rule for rule."""
    return random.Random(f"metaex-explain:{seed}:{g.name}:{_wording_key(g)}:{style}:{p}:{attempt}")


def _wording_key(g: Grammar) -> str:
    """What seeds a grammar's wording: its content hash; for a contest's variant (a grammar declaring `# contest:`)
    the hash of the sub-language both variants share, so the two variants' paraphrase i of a style draws the same
    wording and their texts differ only where their rules do (the contested one): the other variant's
    explanation is then a sham with the same words, names and length."""
    if g.meta.get("contest"):
        from metaex.core.grammar.contest import shared_of

        return "shared:" + shared_of(g).hash
    return g.hash


def explain(g: Grammar, styles: list[str], paraphrases: int, seed: int) -> list[dict]:
    """`explanation` records: for each style (in the given order), `paraphrases` distinct texts."""
    if paraphrases < 1:
        raise InputError(f"--paraphrases must be at least 1, got {paraphrases}")
    ex = Explainer(g)
    producer = records.producer("explain")
    template = g.meta.get("template", g.name)
    return [records.make("explanation", text=text, grammar=g.name, grammar_hash=g.hash, style=style,
                         paraphrase=i, seed=seed, template=template, producer=producer)
            for style in styles for i, text in enumerate(ex.paraphrases(style, paraphrases, seed))]


def write_explanations(grammar: str | Path, options: ExplainOptions, out: str | Path = "-") -> str:
    """`metaex explain`: the explanation records of one grammar file written to `out`; the summary line."""
    from metaex.core.files import guard_outputs
    from metaex.core.grammar.pcfg import load_grammar

    options.check()
    guard_outputs([grammar], [(out, "file")])
    chosen = parse_styles(options.styles)
    g = load_grammar(grammar)
    recs = explain(g, chosen, options.paraphrases, options.seed)
    records.write(out, recs)
    return f"{out}: {len(recs)} explanations of {g.name} ({', '.join(chosen)}; {options.paraphrases} each)"
