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
from metaex.core.records import without_boms

_META = re.compile(r"^#\s*([A-Za-z_][\w-]*)\s*:\s*(.*)$")
# the metadata a grammar file may carry; any other `# word: text` line is an ordinary comment (not kept: an
# instance must not carry a template's words in it)
META_KEYS = ("name", "description", "template", "template_hash", "seed", "source", "max_len", "family", "contest",
             "variant")
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
        from metaex.core.grammar.expect import expected_lengths

        return expected_lengths(self)

    @property
    def expected_length(self) -> float:
        return self.expected_lengths[self.start]


def _quote(terminal: str) -> str:
    return "'" + terminal.replace("\\", "\\\\").replace("'", "\\'") + "'" if "'" in terminal else f"'{terminal}'"


def load_grammar(path: str | Path) -> Grammar:
    """Read and validate a .pcfg file (`-`: stdin); every problem is an InputError naming the file (and line)."""
    p = Path(path)
    if str(path) == "-":
        import sys

        data, path, p = sys.stdin.buffer.read(), "<stdin>", Path("stdin")
    elif not p.exists():
        raise InputError("no such grammar file", str(path))
    elif p.is_dir():
        raise InputError("is a directory, expected a .pcfg grammar file", str(path))
    else:
        data = p.read_bytes()
    try:
        text = without_boms(data.decode("utf-8"))   # a byte-order mark is no text, wherever a line starts
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
            elif (m := _META.match(line)) and m.group(1).lower() in META_KEYS:
                meta[m.group(1).lower()] = m.group(2).strip()
            body.append("")
            continue
        if m := _LHS.match(line):
            lhs_line.setdefault(m.group(1), lineno)
        body.append(raw)
    if not any(b.strip() for b in body):
        raise InputError("empty grammar: no rules", source)

    start, productions = _read_productions(body, source)
    sums: dict[str, float] = {}
    for lhs, _, p in productions:
        sums[lhs] = sums.get(lhs, 0.0) + p
    for lhs, total in sums.items():
        if not 1 - _SUM_TOLERANCE < total < 1 + _SUM_TOLERANCE:
            raise InputError(f"probabilities of {lhs} do not sum to 1", source, lhs_line.get(lhs))
    rules: list[Rule] = []
    for lhs, rhs, p in productions:
        if p <= 0:
            raise InputError(f"a rule of {lhs} has probability {p:g}: a rule that can never be used is not part "
                             "of the grammar (delete it)", source, lhs_line.get(lhs))
        if not rhs:
            raise InputError(f"empty right-hand side for {lhs} (ε-rules are not supported)", source,
                             lhs_line.get(lhs))
        rules.append(Rule(lhs, tuple(sym for sym, _ in rhs), p))
    defined = {r.lhs for r in rules}
    for lhs, rhs, _ in productions:
        for sym, is_nt in rhs:
            if is_nt:
                if sym not in defined:
                    raise InputError(f"nonterminal {sym} is used by {lhs} but has no rules", source,
                                     lhs_line.get(lhs))
            elif not sym or any(c.isspace() for c in sym):
                raise InputError(f"terminal {sym!r} is empty or contains whitespace", source, lhs_line.get(lhs))
            elif any(c in sym for c in "'\""):
                raise InputError(f"terminal {sym!r} contains a quote: explanations and judgement prompts quote "
                                 "terminals in '…', so a terminal may not contain one", source, lhs_line.get(lhs))
            elif sym in defined:
                raise InputError(f"symbol {sym!r} is both a terminal and a nonterminal", source, lhs_line.get(lhs))
    rules = _renormalise(rules)
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


_SUM_TOLERANCE = 0.01  # nltk.PCFG.EPSILON
_NONTERM = re.compile(r"([\w/][\w/^<>-]*)\s*")   # nltk's standard nonterminal syntax
_ARROW = re.compile(r"\s*->\s*")
_PROB = re.compile(r"(\[[\d.]+\])\s*")
_TERM = re.compile(r"(\"[^\"]*\"|'[^']*')\s*")
_BAR = re.compile(r"\|\s*")

Production = tuple[str, list[tuple[str, bool]], float]  # lhs, [(symbol, is_nonterminal)], probability


def _read_productions(lines: list[str], source: str) -> tuple[str, list[Production]]:
    """The rules of nltk's PCFG text, read as `nltk.PCFG.fromstring` reads them (same syntax, same
    continuation lines), without importing nltk (its import pulls in scipy and takes seconds)."""
    productions: list[Production] = []
    pending = ""
    for lineno, raw in enumerate(lines, 1):
        line = pending + raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        try:
            productions += _read_line(line)
        except ValueError as err:
            raise InputError(f"cannot parse rule: {line} ({err})", source, lineno) from None
    return productions[0][0], productions


def _read_line(line: str) -> list[Production]:
    def nonterminal(pos: int) -> tuple[str, int]:
        m = _NONTERM.match(line, pos)
        if not m:
            raise ValueError(f"expected a nonterminal at {line[pos:pos + 20]!r}")
        return m.group(1), m.end()

    lhs, pos = nonterminal(0)
    m = _ARROW.match(line, pos)
    if not m:
        raise ValueError("expected an arrow")
    pos = m.end()
    alternatives: list[tuple[list[tuple[str, bool]], float]] = [([], 0.0)]
    while pos < len(line):
        if m := _PROB.match(line, pos):
            p = float(m.group(1)[1:-1])
            if p > 1.0:
                raise ValueError(f"probability {p} is greater than 1")
            alternatives[-1] = (alternatives[-1][0], p)
        elif line[pos] in "'\"":
            if not (m := _TERM.match(line, pos)):
                raise ValueError("unterminated string")
            alternatives[-1][0].append((m.group(1)[1:-1], False))
        elif m := _BAR.match(line, pos):
            alternatives.append(([], 0.0))
        else:
            sym, end = nonterminal(pos)
            alternatives[-1][0].append((sym, True))
            pos = end
            continue
        pos = m.end()
    return [(lhs, rhs, p) for rhs, p in alternatives]


def _renormalise(rules: list[Rule]) -> list[Rule]:
    totals: dict[str, float] = {}
    for r in rules:
        totals[r.lhs] = totals.get(r.lhs, 0.0) + r.prob
    return [Rule(r.lhs, r.rhs, r.prob / totals[r.lhs]) for r in rules]


def reachable_from(g: Grammar, start: str) -> set[str]:
    """The nonterminals `start` can reach (itself included)."""
    reachable = {start}
    frontier = [start]
    while frontier:
        for r in g.by_lhs[frontier.pop()]:
            for s in r.rhs:
                if s in g.by_lhs and s not in reachable:
                    reachable.add(s)
                    frontier.append(s)
    return reachable


def _productive(g: Grammar) -> set[str]:
    """The nonterminals that derive some terminal string: a worklist over the rules, linear in the grammar's size
    (a pass over every rule until nothing changes took one pass per link of a long chain)."""
    waiting: dict[str, list[int]] = {}
    missing = []
    for i, r in enumerate(g.rules):
        nts = [s for s in r.rhs if not g.is_terminal(s)]
        missing.append(len(nts))
        for s in nts:
            waiting.setdefault(s, []).append(i)
    todo = [r.lhs for r, n in zip(g.rules, missing, strict=True) if n == 0]
    productive: set[str] = set()
    while todo:
        nt = todo.pop()
        if nt in productive:
            continue
        productive.add(nt)
        for i in waiting.get(nt, ()):
            missing[i] -= 1
            if missing[i] == 0:
                todo.append(g.rules[i].lhs)
    return productive


def _check_structure(g: Grammar, source: str, lhs_line: dict[str, int]) -> None:
    productive = _productive(g)
    for nt in g.nonterminals:
        if nt not in productive:
            raise InputError(f"nonterminal {nt} is unproductive: it derives no finite string", source,
                             lhs_line.get(nt))
    reachable = reachable_from(g, g.start)
    for nt in g.nonterminals:
        if nt not in reachable:
            raise InputError(f"nonterminal {nt} is unreachable from the start symbol {g.start}", source,
                             lhs_line.get(nt))
    from metaex.core.grammar.expect import improper

    why = improper(g)
    if why:
        raise InputError(
            f"improper grammar: spectral radius of the expected-children matrix {why}, "
            "so the expected string length is infinite (lower the probabilities of recursive rules)", source)
