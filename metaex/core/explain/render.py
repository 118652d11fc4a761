"""Render a grammar's structured forms as text, one paraphrase per call, in three styles.

Each style first computes a structured form from the grammar (`prose_form`, the rules for `bnf`,
`derive_facts` for `constraints`) and only then picks wording with the given `random.Random`: sentence
frames, synonyms, rule and fact orderings. The text never contains two adjacent terminals that spell out
a string of the language (see `leaky_runs`), so no explanation quotes a valid string.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from metaex.core.explain import templates as T
from metaex.core.explain.facts import Fact
from metaex.core.grammar.pcfg import Grammar


def quote(terminal: str) -> str:
    return f"'{terminal}'"


def or_list(items: list[str]) -> str:
    return " or ".join(items)


@dataclass(frozen=True)
class ProseRule:
    """One nonterminal of the prose style: its readable name and its alternatives (symbol tuples)."""

    lhs: str
    alternatives: tuple[tuple[str, ...], ...]


def prose_form(g: Grammar) -> list[ProseRule]:
    """The prose style's structured form: one entry per nonterminal, start symbol first."""
    order = [g.start] + [nt for nt in g.nonterminals if nt != g.start]
    return [ProseRule(nt, tuple(r.rhs for r in g.by_lhs[nt])) for nt in order]


def gloss_head(gloss: str) -> str:
    """The noun phrase a gloss starts with (up to its first colon or comma): "an expression, one or …" → "an expression"."""
    return re.split(r"[:,;]", gloss, maxsplit=1)[0].strip()


def readable_names(g: Grammar, rng: random.Random) -> dict[str, str]:
    """A readable name per nonterminal: the start symbol names the grammar; gloss heads where unambiguous."""
    glosses = [gloss_head(g.glosses[nt]) if g.glosses.get(nt) else None for nt in g.nonterminals]
    noun, frame = rng.choice(T.NOUNS), rng.choice(T.NEUTRAL_REFS)
    names = {}
    for nt, gloss in zip(g.nonterminals, glosses, strict=True):
        if nt == g.start:
            names[nt] = rng.choice(T.START_REFS).format(name=g.name)
        elif gloss and glosses.count(gloss) == 1:
            names[nt] = gloss
        else:
            names[nt] = frame.format(noun=noun, sym=nt)
    return names


def sequence(rhs: tuple[str, ...], names: dict[str, str], join: str, single: str) -> str:
    """One alternative in words: every pair of symbols is separated by a joining word."""
    words = [names.get(s) or quote(s) for s in rhs]
    return single.format(x=words[0]) if len(words) == 1 else join.join(words)


def render_prose(g: Grammar, rng: random.Random) -> str:
    names = readable_names(g, rng)
    form = prose_form(g)
    head, rest = form[0], form[1:]
    if rng.random() < 0.5:
        rng.shuffle(rest)
    seq_join, single = rng.choice(T.SEQ_JOINS), rng.choice(T.SINGLE_SEQ)
    parts = [rng.choice(T.PROSE_INTROS).format(name=g.name)]
    for rule in [head, *rest]:
        pre, sep, post = rng.choice(T.ALT_JOINS) if len(rule.alternatives) > 1 else ("", "", "")
        alts = pre + sep.join(sequence(a, names, seq_join, single) for a in rule.alternatives) + post
        parts.append(rng.choice(T.RULE_FRAMES).format(name=g.name, ref=names[rule.lhs], alts=alts))
    parts.append(rng.choice(T.PROSE_OUTROS).format(name=g.name))
    return " ".join(p for p in parts if p)


def leaky_runs(g: Grammar, accepts: Callable[[str], bool]) -> set[tuple[str, ...]]:
    """Right-hand-side runs of adjacent terminals (≥ 2) containing a string of the language; bnf separates them."""
    leaky = set()
    for r in g.rules:
        run: list[str] = []
        for s in (*r.rhs, None):
            if s is not None and g.is_terminal(s):
                run.append(s)
                continue
            if any(accepts(" ".join(run[i:j])) for i in range(len(run)) for j in range(i + 2, len(run) + 1)):
                leaky.add(tuple(run))
            run = []
    return leaky


def bnf_rhs(g: Grammar, rhs: tuple[str, ...], leaky: set[tuple[str, ...]]) -> str:
    """Symbols separated by spaces; terminals quoted; `then` between the terminals of a leaky run."""
    out: list[str] = []
    run: list[str] = []
    for s in (*rhs, None):
        if s is not None and g.is_terminal(s):
            run.append(s)
            continue
        if run:
            sep = f" {T.BNF_THEN} " if tuple(run) in leaky else " "
            out.append(sep.join(quote(t) for t in run))
            run = []
        if s is not None:
            out.append(s)
    return " ".join(out)


def render_bnf(g: Grammar, rng: random.Random, leaky: set[tuple[str, ...]]) -> str:
    arrow, sep = rng.choice(T.BNF_ARROWS), rng.choice(T.BNF_RULE_SEPS)
    order = list(g.nonterminals)
    if rng.random() < 0.5:
        rng.shuffle(order)
    lines = [f"{nt} {arrow} " + T.BNF_ALT.join(bnf_rhs(g, r.rhs, leaky) for r in g.by_lhs[nt]) for nt in order]
    start = rng.choice(T.BNF_STARTS).format(name=g.name, s=g.start)
    intro = rng.choice(T.BNF_INTROS).format(name=g.name)
    body = sep.join(lines)
    return "\n".join([intro, start, body] if rng.random() < 0.5 else [intro, body, start])


def count_phrase(n: int) -> str:
    return T.COUNT_WORDS.get(n) or T.COUNT_TIMES.format(n=n)


def fact_sentence(g: Grammar, fact: Fact, rng: random.Random) -> str:
    """One sentence stating `fact`; the frame (and, for follow facts, positive or negative form) is random."""
    a = fact.args
    fields = {"name": g.name}
    kind = fact.kind
    if kind in ("first", "last"):
        fields["xs"] = or_list([quote(t) for t in a[0]])
    elif kind == "follow":
        x, ys = a
        fields["x"] = quote(x)
        others = [t for t in g.terminals if t not in ys]
        if not ys:
            kind = "follow_none"
        elif not others:
            kind = "follow_any"
        elif len(ys) < len(others) or (len(ys) == len(others) and rng.random() < 0.5):
            fields["ys"] = or_list([quote(t) for t in ys])
        else:  # the shorter list: the symbols that never follow
            kind, fields["ys"] = "follow_not", or_list([quote(t) for t in others])
    elif kind in ("min_length", "max_length", "exact_length"):
        fields["n"] = a[0]
    elif kind == "residue":
        fields["m"], fields["r"] = a
    elif kind.startswith("count_"):
        fields["x"], fields["count"] = quote(a[0]), count_phrase(a[1])
    elif kind == "balance":
        x, y, c = a
        if c < 0:
            x, y, c = y, x, -c
        fields.update(x=quote(x), y=quote(y), c=c)
        kind = "balance_equal" if c == 0 else "balance_more"
    elif kind == "nesting":
        fields.update(x=quote(a[0]), y=quote(a[1]))
    return rng.choice(T.FACT_FRAMES[kind]).format(**fields)


def render_constraints(g: Grammar, rng: random.Random, facts: list[Fact]) -> str:
    facts = list(facts)
    rng.shuffle(facts)
    facts.sort(key=lambda f: f.kind not in ("first", "last"))  # stable: first/last lead, the rest shuffled
    intro = rng.choice(T.CONSTRAINT_INTROS).format(name=g.name)
    return " ".join([intro] + [fact_sentence(g, f, rng) for f in facts])


def rules_of(g: Grammar) -> frozenset[tuple[str, tuple[str, ...]]]:
    """The grammar's rules without probabilities, as (lhs, rhs) pairs: what bnf must parse back to."""
    return frozenset((r.lhs, r.rhs) for r in g.rules)
