"""Read rendered explanations back into structured form, so each one can be checked against its grammar.

`parse_bnf` recovers the start symbol and the rules (without probabilities) from a bnf-style text;
`parse_constraints` recovers the facts from a constraints-style text by matching it, sentence by sentence,
against the frames in `templates`. `explain` runs both on everything it writes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from metaex.core.explain import templates as T
from metaex.core.explain.facts import Fact

_TERM = r"'([^' ]+)'"
_TERMS = r"('[^' ]+'(?: or '[^' ]+')*)"
_FIELD = {"x": _TERM, "y": _TERM, "xs": _TERMS, "ys": _TERMS, "n": r"(\d+)", "m": r"(\d+)", "r": r"(\d+)",
          "c": r"(\d+)", "count": r"(once|twice|\d+ times)", "s": r"(\S+)"}


def _pattern(frame: str, name: str) -> tuple[re.Pattern, list[str]]:
    """A regex for one template frame and the order of its placeholders."""
    fields: list[str] = []
    out = []
    for literal, field in re.findall(r"([^{]*)(?:\{(\w+)\})?", frame):
        out.append(re.escape(literal))
        if field == "name":
            out.append(re.escape(name))
        elif field:
            fields.append(field)
            out.append(_FIELD[field])
    return re.compile("".join(out)), fields


@lru_cache(maxsize=64)
def _frames(name: str) -> list[tuple[str, re.Pattern, list[str]]]:
    return [(kind, *_pattern(f, name)) for kind, frames in T.FACT_FRAMES.items() for f in frames]


def _terms(group: str) -> tuple[str, ...]:
    return tuple(re.findall(_TERM, group))


def _count(group: str) -> int:
    words = {v: k for k, v in T.COUNT_WORDS.items()}
    return words[group] if group in words else int(group.split()[0])


def parse_constraints(text: str, name: str, terminals: tuple[str, ...]) -> set[Fact]:
    """The facts a constraints-style explanation states; ValueError on any sentence no frame matches."""
    intro = next((m for f in T.CONSTRAINT_INTROS if (m := _pattern(f, name)[0].match(text))), None)
    if intro is None:
        raise ValueError("no known introduction")
    pos, facts = intro.end(), set()
    while pos < len(text):
        pos += text[pos] == " "
        for kind, pattern, fields in _frames(name):
            m = pattern.match(text, pos)
            if m:
                facts.add(_fact(kind, dict(zip(fields, m.groups(), strict=True)), terminals))
                pos = m.end()
                break
        else:
            raise ValueError(f"no frame matches at: {text[pos:pos + 60]!r}")
    return facts


def _fact(kind: str, v: dict[str, str], terminals: tuple[str, ...]) -> Fact:
    x = v.get("x")
    y = v.get("y")
    if kind in ("first", "last"):
        return Fact(kind, (_terms(v["xs"]),))
    if kind == "follow":
        return Fact("follow", (x, _terms(v["ys"])))
    if kind == "follow_none":
        return Fact("follow", (x, ()))
    if kind == "follow_any":
        return Fact("follow", (x, terminals))
    if kind == "follow_not":
        banned = set(_terms(v["ys"]))
        return Fact("follow", (x, tuple(t for t in terminals if t not in banned)))
    if kind in ("min_length", "max_length", "exact_length"):
        return Fact(kind, (int(v["n"]),))
    if kind == "unbounded":
        return Fact(kind, ())
    if kind == "residue":
        return Fact(kind, (int(v["m"]), int(v["r"])))
    if kind.startswith("count_"):
        return Fact(kind, (x, _count(v["count"])))
    if kind == "balance_equal":
        return Fact("balance", (*sorted((x, y), key=terminals.index), 0))
    if kind == "balance_more":
        c = int(v["c"])
        return Fact("balance", (x, y, c) if terminals.index(x) < terminals.index(y) else (y, x, -c))
    return Fact("nesting", (x, y))


def parse_bnf(text: str, name: str) -> tuple[str, frozenset[tuple[str, tuple[str, ...]]]]:
    """(start symbol, rules as (lhs, rhs) pairs) of a bnf-style explanation; ValueError when malformed."""
    arrows = "|".join(re.escape(a) for a in T.BNF_ARROWS)
    rule = re.compile(rf"^(\S+) ({arrows}) (.+)$")
    start, rules = None, set()
    segments = [seg for line in text.split("\n") for seg in line.split(" ; ")]
    for seg in segments[1:]:  # the first line is the introduction
        if m := rule.match(seg):
            for alt in m.group(3).split(T.BNF_ALT):
                rhs = tuple(p[1:-1] if p.startswith("'") else p for p in alt.split() if p != T.BNF_THEN)
                rules.add((m.group(1), rhs))
            continue
        found = [m.group(1) for f in T.BNF_STARTS if (m := _pattern(f, name)[0].fullmatch(seg))]
        if not found:
            raise ValueError(f"not a rule or a start statement: {seg!r}")
        start = found[0]
    if start is None:
        raise ValueError("no start statement")
    return start, frozenset(rules)
