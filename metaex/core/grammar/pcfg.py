"""A probabilistic context-free grammar: loaded from nltk's PCFG text format, validated, hashed.

File format (what `nltk.PCFG.fromstring` reads), plus metadata in comment lines:

    # name: reber
    # description: A Reber-like finite-state language over seven symbols.
    # gloss S: a whole sentence
    S -> 'b' T [0.5] | 'b' P [0.5]

Validation rejects, with file:line where one exists: undecodable bytes, an empty grammar, syntax nltk
cannot read, probabilities of one left-hand side not summing to 1 beyond nltk's tolerance (within it they are
renormalised), empty right-hand sides, terminals with whitespace, nonterminals used but never defined,
unproductive or unreachable nonterminals, and improper grammars (spectral radius of the expected-children
matrix >= 1, i.e. infinite expected length).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from metaex.core.errors import InputError

_META = re.compile(r"^#\s*([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_GLOSS = re.compile(r"^#\s*gloss\s+(\S+)\s*:\s*(.*)$")
_LHS = re.compile(r"^\s*([^\s'\"#|\[\]]+)\s*->")


@dataclass(frozen=True)
class Rule:
    lhs: str
    rhs: tuple[str, ...]
    prob: float


@dataclass(frozen=True)
class Grammar:
    """A validated PCFG. Symbols are plain strings; `terminals` and `nonterminals` are disjoint."""

    name: str
    start: str
    rules: tuple[Rule, ...]
    description: str = ""
    glosses: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    source: str | None = None

    @cached_property
    def nonterminals(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for r in self.rules:
            seen.setdefault(r.lhs, None)
        return tuple(seen)

    @cached_property
    def terminals(self) -> tuple[str, ...]:
        nts = set(self.nonterminals)
        seen: dict[str, None] = {}
        for r in self.rules:
            for s in r.rhs:
                if s not in nts:
                    seen.setdefault(s, None)
        return tuple(seen)

    def is_terminal(self, symbol: str) -> bool:
        return symbol in self._terminal_set

    @cached_property
    def _terminal_set(self) -> frozenset:
        return frozenset(self.terminals)

    @cached_property
    def by_lhs(self) -> dict[str, tuple[Rule, ...]]:
        out: dict[str, list[Rule]] = {}
        for r in self.rules:
            out.setdefault(r.lhs, []).append(r)
        return {k: tuple(v) for k, v in out.items()}

    def to_text(self, with_meta: bool = True) -> str:
        """Canonical nltk PCFG text (start rules first, rules grouped by left-hand side)."""
        lines = []
        if with_meta:
            lines.append(f"# name: {self.name}")
            if self.description:
                lines.append(f"# description: {self.description}")
            for k in sorted(self.meta):
                if k not in ("name", "description"):
                    lines.append(f"# {k}: {self.meta[k]}")
            for nt in self.nonterminals:
                if nt in self.glosses:
                    lines.append(f"# gloss {nt}: {self.glosses[nt]}")
        for nt in self.nonterminals:
            alts = []
            for r in self.by_lhs[nt]:
                rhs = " ".join(s if s in self.by_lhs else _quote(s) for s in r.rhs)
                alts.append(f"{rhs} [{r.prob:.12g}]")
            lines.append(f"{nt} -> " + " | ".join(alts))
        return "\n".join(lines) + "\n"

    @cached_property
    def hash(self) -> str:
        """Content hash of the rules and probabilities (not the name or comments): 12 hex digits."""
        return hashlib.sha256(self.to_text(with_meta=False).encode()).hexdigest()[:12]

    @cached_property
    def expected_lengths(self) -> dict[str, float]:
        """Expected number of terminals each nonterminal derives (finite for a validated grammar)."""
        import numpy as np

        idx = {nt: i for i, nt in enumerate(self.nonterminals)}
        m, t = _expectation_system(self, idx)
        lengths = np.linalg.solve(np.eye(len(idx)) - m, t)
        return {nt: float(lengths[i]) for nt, i in idx.items()}

    @property
    def expected_length(self) -> float:
        return self.expected_lengths[self.start]


def _quote(terminal: str) -> str:
    return "'" + terminal.replace("\\", "\\\\").replace("'", "\\'") + "'" if "'" in terminal else f"'{terminal}'"


def _expectation_system(g: Grammar, idx: dict[str, int]):
    import numpy as np

    n = len(idx)
    m = np.zeros((n, n))
    t = np.zeros(n)
    for r in g.rules:
        i = idx[r.lhs]
        for s in r.rhs:
            if s in idx:
                m[i, idx[s]] += r.prob
            else:
                t[i] += r.prob
    return m, t


def load_grammar(path: str | Path) -> Grammar:
    """Read and validate a .pcfg file; every problem is an InputError naming the file (and line)."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such grammar file", str(path))
    if p.is_dir():
        raise InputError("is a directory, expected a .pcfg grammar file", str(path))
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", str(path), line) from None
    return parse_grammar(text, source=str(path), default_name=p.stem)


def parse_grammar(text: str, source: str = "<grammar>", default_name: str = "grammar") -> Grammar:
    """Parse nltk PCFG text with metadata comments and validate it (see module docstring)."""
    meta: dict[str, str] = {}
    glosses: dict[str, str] = {}
    lhs_line: dict[str, int] = {}
    body: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            if m := _GLOSS.match(line):
                glosses[m.group(1)] = m.group(2).strip()
            elif m := _META.match(line):
                meta[m.group(1).lower()] = m.group(2).strip()
            body.append("")
            continue
        if m := _LHS.match(line):
            lhs_line.setdefault(m.group(1), lineno)
        body.append(raw)
    if not any(b.strip() for b in body):
        raise InputError("empty grammar: no rules", source)

    import nltk

    try:
        nltk_grammar = nltk.PCFG.fromstring("\n".join(body))
    except ValueError as err:
        msg = str(err)
        if m := re.search(r"Unable to parse line (\d+): (.*)", msg, re.S):
            first = " ".join(m.group(2).split())
            raise InputError(f"cannot parse rule: {first}", source, int(m.group(1))) from None
        if m := re.search(r"Productions for (\S+) do not sum to 1", msg):
            nt = m.group(1)
            raise InputError(f"probabilities of {nt} do not sum to 1", source, lhs_line.get(nt)) from None
        raise InputError(" ".join(msg.split()), source) from None

    rules: list[Rule] = []
    for prod in nltk_grammar.productions():
        lhs = str(prod.lhs().symbol())
        if not prod.rhs():
            raise InputError(f"empty right-hand side for {lhs} (ε-rules are not supported)", source,
                             lhs_line.get(lhs))
        rhs = tuple(str(s.symbol()) if isinstance(s, nltk.Nonterminal) else s for s in prod.rhs())
        rules.append(Rule(lhs, rhs, float(prod.prob())))
    defined = {r.lhs for r in rules}
    for prod in nltk_grammar.productions():
        lhs = str(prod.lhs().symbol())
        for s in prod.rhs():
            if isinstance(s, nltk.Nonterminal):
                if str(s.symbol()) not in defined:
                    raise InputError(f"nonterminal {s.symbol()} is used by {lhs} but has no rules", source,
                                     lhs_line.get(lhs))
            elif not s or any(c.isspace() for c in s):
                raise InputError(f"terminal {s!r} is empty or contains whitespace", source, lhs_line.get(lhs))
            elif s in defined:
                raise InputError(f"symbol {s!r} is both a terminal and a nonterminal", source, lhs_line.get(lhs))
    rules = _renormalise(rules)
    start = str(nltk_grammar.start().symbol())
    g = Grammar(
        name=meta.get("name", default_name),
        start=start,
        rules=tuple(rules),
        description=meta.get("description", ""),
        glosses=glosses,
        meta=meta,
        source=source,
    )
    _check_structure(g, source, lhs_line)
    return g


def _renormalise(rules: list[Rule]) -> list[Rule]:
    totals: dict[str, float] = {}
    for r in rules:
        totals[r.lhs] = totals.get(r.lhs, 0.0) + r.prob
    return [Rule(r.lhs, r.rhs, r.prob / totals[r.lhs]) for r in rules]


def _check_structure(g: Grammar, source: str, lhs_line: dict[str, int]) -> None:
    # productive: derives some terminal string (fixpoint)
    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for r in g.rules:
            if r.lhs not in productive and all(s in productive or g.is_terminal(s) for s in r.rhs):
                productive.add(r.lhs)
                changed = True
    for nt in g.nonterminals:
        if nt not in productive:
            raise InputError(f"nonterminal {nt} is unproductive: it derives no finite string", source,
                             lhs_line.get(nt))
    reachable = {g.start}
    frontier = [g.start]
    while frontier:
        for r in g.by_lhs[frontier.pop()]:
            for s in r.rhs:
                if s in g.by_lhs and s not in reachable:
                    reachable.add(s)
                    frontier.append(s)
    for nt in g.nonterminals:
        if nt not in reachable:
            raise InputError(f"nonterminal {nt} is unreachable from the start symbol {g.start}", source,
                             lhs_line.get(nt))
    import numpy as np

    idx = {nt: i for i, nt in enumerate(g.nonterminals)}
    m, _ = _expectation_system(g, idx)
    radius = float(max(abs(np.linalg.eigvals(m)))) if len(idx) else 0.0
    if radius >= 1 - 1e-9:
        raise InputError(
            f"improper grammar: spectral radius of the expected-children matrix is {radius:.3f} >= 1, "
            "so the expected string length is infinite (lower the probabilities of recursive rules)", source)
