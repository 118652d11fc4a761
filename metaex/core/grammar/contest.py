"""Contested rules: two variants of a grammar that differ in one alternative, examples that cannot tell them apart,
and minimal pairs that can (the contested-rule design; docs/DESIGN.md).

A contest names one alternative α of one nonterminal (`lhs`, `alt`: its index among the nonterminal's
alternatives) and a change to it: `swap` two right-hand-side symbols (positions i, j), or `replace` the symbol at
position i by another of the same kind (a terminal by a terminal, a nonterminal by a sibling: one with the same
number and lengths of alternatives, such as a singular verb phrase for a plural one). Variant A keeps α, variant B
has the changed alternative in its place with α's probability; both are proper PCFGs over one alphabet, and a swap
keeps every string length. Then:

- the **shared** grammar drops α (its nonterminal's other alternatives renormalised): every string it derives has
  a derivation without α in both variants, so both accept it; training examples are drawn from it;
- a **contested pair** is one derivation that uses α, read once with α as A has it (`a`) and once as B has it
  (`b`: the swapped children, or a fresh subtree of the replacing symbol), kept when a ∈ L(A) \\ L(B) and
  b ∈ L(B) \\ L(A), each checked by both variants' recognizers.

`candidates` lists every change of every alternative that yields a valid contest; `evaluate` measures one on
seeded samples (distinct exclusive pairs, the shared language's size); `choose` takes the named `--rule` or the
best candidate by a fixed score (`score`), so a grammar's contest is a function of its structure and the seed.
Everything is structural (rule order, positions, probabilities), never the symbols' spelling: every instance of a
template gets the same contest, and a complementary seed pair can tell each of its two variants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar, Rule, parse_grammar, reachable_from

OPS = ("swap", "replace")
MAX_DRAWS = 40_000        # derivations drawn when looking for contested pairs (most use α; a rare α gives few)
PAIRS_GOAL = 200          # exclusive pairs a candidate is measured to (more are not needed to rank it)


@dataclass(frozen=True)
class Contest:
    """One alternative α (`lhs`, `alt`) and its change: swap positions i and j, or replace position i by `symbol`."""

    lhs: str
    alt: int
    op: str
    i: int
    j: int | None = None
    symbol: str | None = None

    def spec(self, g: Grammar | None = None) -> str:
        """The change as `--change` takes it (1-based positions): `swap:2,4` or `replace:3=VP` (a terminal quoted,
        `replace:1='c'`, when the grammar is given: an instance renames quoted terminals)."""
        if self.op == "swap":
            return f"swap:{self.i + 1},{self.j + 1}"
        quoted = g is not None and self.symbol not in g.by_lhs
        return f"replace:{self.i + 1}=" + (f"'{self.symbol}'" if quoted else str(self.symbol))

    def describe(self, g: Grammar) -> str:
        """`NS -> DS NSG 'ro' VS` with its change, for people."""
        return f"{rule_text(g, alternative(g, self))} ({self.spec(g)})"

    def to_dict(self) -> dict:
        return {"lhs": self.lhs, "alt": self.alt, "op": self.op, "i": self.i, "j": self.j, "symbol": self.symbol}


def alternative(g: Grammar, c: Contest) -> Rule:
    return g.by_lhs[c.lhs][c.alt]


def rule_text(g: Grammar, r: Rule) -> str:
    return f"{r.lhs} -> " + " ".join(s if s in g.by_lhs else f"'{s}'" for s in r.rhs)


def changed_rhs(g: Grammar, c: Contest) -> tuple[str, ...]:
    rhs = list(alternative(g, c).rhs)
    if c.op == "swap":
        rhs[c.i], rhs[c.j] = rhs[c.j], rhs[c.i]
    else:
        rhs[c.i] = c.symbol
    return tuple(rhs)


def _rebuilt(g: Grammar, rules: list[Rule], suffix: str) -> Grammar:
    """A grammar from `rules` with g's metadata, validated through the parser (unreachable rules dropped)."""
    keep = reachable_from(Grammar(g.name, g.start, tuple(rules)), g.start)
    body = Grammar(name=g.name, start=g.start, rules=tuple(r for r in rules if r.lhs in keep),
                   description=g.description, glosses={k: v for k, v in g.glosses.items() if k in keep},
                   meta={**{k: v for k, v in g.meta.items() if k != "contest"}, "variant": suffix})
    try:
        return parse_grammar(body.to_text(), source=g.source or g.name, default_name=g.name)
    except InputError as err:
        raise _NotContestable(str(err)) from None


class _NotContestable(Exception):
    """A candidate change that gives no valid variant or shared grammar."""


def variant_b(g: Grammar, c: Contest) -> Grammar:
    """Variant B: α replaced by its changed form, with α's probability."""
    target = alternative(g, c)
    new = changed_rhs(g, c)
    if any(r.lhs == c.lhs and r.rhs == new for r in g.rules):
        raise _NotContestable("the changed alternative is already an alternative of its nonterminal")
    rules = [Rule(r.lhs, new, r.prob) if r is target else r for r in g.rules]
    b = _rebuilt(g, rules, f"b: {rule_text(g, Rule(c.lhs, new, target.prob))}")
    if set(b.terminals) != set(g.terminals) or set(b.nonterminals) != set(g.nonterminals):
        # a replaced symbol used nowhere else: B would lose it (another alphabet), and B's file could not declare
        # the change back to A
        raise _NotContestable("the change leaves a symbol of the grammar unused")
    return b


def shared_grammar(g: Grammar, c: Contest) -> Grammar:
    """The shared sub-language: g without α, its nonterminal's other alternatives renormalised."""
    target = alternative(g, c)
    rest = [r for r in g.by_lhs[c.lhs] if r is not target]
    if not rest:
        raise _NotContestable(f"{c.lhs} has no other alternative")
    total = sum(r.prob for r in rest)
    rules = [r if r.lhs != c.lhs else Rule(r.lhs, r.rhs, r.prob / total) for r in g.rules if r is not target]
    return _rebuilt(g, rules, f"shared: without {rule_text(g, target)}")


def shared_of(g: Grammar) -> Grammar:
    """The shared sub-language of a grammar that declares its contest (`# contest:`; the files `grammar contest`
    writes do): an InputError naming the file when it declares none."""
    found = declared(g)
    if found is None:
        raise InputError(f"grammar {g.name} declares no contested rule (a `# contest: ALTERNATIVE | CHANGE` line, "
                         "as `metaex grammar contest` writes into its variants)", g.source)
    [c, *_] = parse_rule(g, *found)
    return shared_grammar(g, c)


def siblings(g: Grammar, symbol: str) -> list[str]:
    """Symbols that may replace `symbol`: every other terminal, or the nonterminals whose alternatives have the same
    number and right-hand-side lengths (a plural verb phrase for a singular one)."""
    if symbol not in g.by_lhs:
        return [t for t in g.terminals if t != symbol]
    shape = sorted(len(r.rhs) for r in g.by_lhs[symbol])
    return [nt for nt in g.nonterminals if nt != symbol and nt != g.start
            and sorted(len(r.rhs) for r in g.by_lhs[nt]) == shape]


def candidates(g: Grammar) -> list[Contest]:
    """Every contest of g whose variant B and shared grammar are valid PCFGs, in a fixed structural order."""
    out = []
    for lhs in g.nonterminals:
        alts = g.by_lhs[lhs]
        if len(alts) < 2:
            continue
        for k, r in enumerate(alts):
            changes = [Contest(lhs, k, "swap", i, j) for i in range(len(r.rhs)) for j in range(i + 1, len(r.rhs))
                       if r.rhs[i] != r.rhs[j]]
            changes += [Contest(lhs, k, "replace", i, symbol=s) for i, sym in enumerate(r.rhs) for s in siblings(g, sym)]
            for c in changes:
                try:
                    variant_b(g, c)
                    shared_grammar(g, c)
                except _NotContestable:
                    continue
                out.append(c)
    return out


# --- choosing -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    contest: Contest
    pairs: int              # distinct exclusive pairs found (capped at PAIRS_GOAL)
    shared_size: int | None  # distinct shared strings under the cap when fewer than `need`, else None (enough)
    alpha_prob: float       # α's probability among its nonterminal's alternatives

    def score(self) -> tuple:
        """Higher is better: enough shared strings first, then many pairs, then a swap (same length, same words)
        over a replacement, then α neither rare nor dominant."""
        return (self.shared_size is None, min(self.pairs, PAIRS_GOAL), self.contest.op == "swap",
                -abs(self.alpha_prob - 0.3))


def evaluate(g: Grammar, c: Contest, *, max_len: int, need: int, seed: int = 0,
             draws: int = MAX_DRAWS // 4, goal: int = PAIRS_GOAL) -> Evaluation:
    from metaex.core.grammar.contest_pairs import contested_pairs
    from metaex.core.grammar.sample import language_size

    pairs = contested_pairs(g, c, goal, seed, max_len, draws=draws)
    size = language_size(shared_grammar(g, c), max_len, at_least=need)
    return Evaluation(c, len(pairs), size, alternative(g, c).prob)


def parse_rule(g: Grammar, text: str, change: str | None) -> list[Contest]:
    """The candidates of g whose α is the alternative `text` ("NS -> DS NSG 'ro' VS", quotes optional) and, with
    `change` ("swap:2,4" or "replace:3=VP"), whose change is that one."""
    m = re.match(r"^\s*(\S+)\s*->\s*(.+?)\s*$", text)
    if not m:
        raise InputError(f"--rule should be one alternative as `LHS -> SYMBOLS`, got {text!r}")
    lhs, rhs = m.group(1), tuple(s.strip("'\"") for s in m.group(2).split())
    if lhs not in g.by_lhs:
        raise InputError(f"--rule: {lhs} is not a nonterminal of {g.name} ({', '.join(g.nonterminals)})", g.source)
    alts = [k for k, r in enumerate(g.by_lhs[lhs]) if r.rhs == rhs]
    if not alts:
        known = "; ".join(rule_text(g, r) for r in g.by_lhs[lhs])
        raise InputError(f"--rule: {text!r} is not an alternative of {lhs} (its alternatives: {known})", g.source)
    found = [c for c in candidates(g) if c.lhs == lhs and c.alt == alts[0]]
    if change is not None:
        found = [c for c in found if _normal_change(c.spec()) == _normal_change(change)]
    if not found:
        raise InputError(f"--rule {text!r}{' --change ' + change if change else ''}: no change of this alternative "
                         "gives two valid variants over the same symbols and a shared grammar (the alternative must not be "
                         "its nonterminal's only one, a swap needs two different symbols, and a replaced symbol must be "
                         "used elsewhere too)", g.source)
    return found


def _normal_change(change: str) -> str:
    m = re.match(r"^\s*(swap)\s*:\s*(\d+)\s*,\s*(\d+)\s*$|^\s*(replace)\s*:\s*(\d+)\s*=\s*(\S+)\s*$", change)
    if not m:
        raise InputError(f"--change should be swap:I,J or replace:I=SYMBOL (1-based positions), got {change!r}")
    if m.group(1):
        i, j = sorted((int(m.group(2)), int(m.group(3))))
        return f"swap:{i},{j}"
    return f"replace:{int(m.group(5))}={m.group(6).strip(chr(39) + chr(34))}"


MAX_EVALUATED = 24        # candidates measured before `choose` gives up on an automatic choice


def declared(g: Grammar) -> tuple[str, str | None] | None:
    """The contest a grammar file declares (`# contest: NS -> DS NSG 'ro' VS | replace:4=VP`): (rule, change)."""
    text = g.meta.get("contest")
    if not text:
        return None
    rule, _, change = text.partition("|")
    return rule.strip(), change.strip() or None


def _prior(g: Grammar, c: Contest) -> tuple:
    """A cheap ordering of candidates before any is measured: swaps first (same words, same length), then α's
    probability near 0.3 (neither rare nor its nonterminal's main alternative), then the structural order."""
    return (c.op != "swap", abs(alternative(g, c).prob - 0.3))


def choose(g: Grammar, *, max_len: int, need: int, pairs: int, seed: int = 0, rule: str | None = None,
           change: str | None = None) -> Evaluation:
    """The contest of g: the named `rule` (and `change`), else the one the grammar file declares (`# contest:`),
    else the first candidate in a fixed order (`_prior`) with at least `pairs` exclusive pairs and `need` shared
    strings under `max_len`; an InputError saying why when there is none."""
    if rule is None and (found := declared(g)):
        rule, change = found
    pool = parse_rule(g, rule, change) if rule else sorted(candidates(g), key=lambda c: _prior(g, c))
    if not pool:
        raise InputError(f"grammar {g.name} has no contestable rule: no nonterminal has two alternatives one of "
                         "which can change (swap two different symbols, or replace one by a sibling) while the "
                         "grammar without it stays a proper PCFG", g.source)
    best = None
    for c in pool[:MAX_EVALUATED]:
        # measured to the pairs asked for where that is more than the usual goal (a large study's contest)
        e = evaluate(g, c, max_len=max_len, need=need, seed=seed, goal=max(PAIRS_GOAL, pairs),
                     draws=max(MAX_DRAWS // 4, 20 * pairs))
        if e.pairs >= pairs and e.shared_size is None:
            return e
        best = max(best, e, key=lambda x: x.score()) if best else e
    why = (f"the shared grammar without it has only {best.shared_size} distinct strings of at most {max_len} "
           f"terminals (need {need})" if best.shared_size is not None else
           f"only {best.pairs} distinct contested pairs of at most {max_len} terminals were found (need {pairs})")
    raise InputError(f"grammar {g.name} has no contestable rule for this study: its best, "
                     f"{best.contest.describe(g)}: {why}; lower the counts or raise max_len", g.source)


def inverse(g: Grammar, c: Contest) -> Contest:
    """The same contest seen from variant B: its changed alternative, and the change that gives A back."""
    if c.op == "swap":
        return c
    return replace(c, symbol=alternative(g, c).rhs[c.i])


def variants(g: Grammar, c: Contest) -> tuple[Grammar, Grammar]:
    """(A, B) as grammar files hold them, each declaring the contest from its own side (`# contest: ALT | CHANGE`),
    so that either file contests the same rule, and `--shared` on either samples the same sub-language."""
    alt = alternative(g, c)
    a = _rebuilt(g, list(g.rules), f"a: {rule_text(g, alt)}")
    b = variant_b(g, c)
    back = inverse(g, c)
    b_alt = Rule(c.lhs, changed_rhs(g, c), alt.prob)
    a = replace(a, meta={**a.meta, "contest": f"{rule_text(g, alt)} | {c.spec(g)}"})
    b = replace(b, meta={**b.meta, "contest": f"{rule_text(b, b_alt)} | {back.spec(b)}",
                          "variant": f"b: {rule_text(b, b_alt)}"})
    return a, b


def as_contest(g: Grammar, spec: dict) -> Contest:
    """A Contest from its to_dict() form, checked against g."""
    try:
        c = Contest(**spec)
        alternative(g, c)
    except (TypeError, KeyError, IndexError):
        raise InputError(f"not a contest of {g.name}: {spec!r}", g.source) from None
    return replace(c)


def other_variant(g: Grammar) -> Grammar:
    """The variant a grammar file's declared contest (`# contest:`) sets against it: what a told grammar's
    contested pairs are scored against (its contested alternative changed as declared)."""
    found = declared(g)
    if found is None:
        raise InputError(f"grammar {g.name} declares no contest (`# contest:` line): it is not a contest's variant",
                         g.source)
    return variant_b(g, parse_rule(g, *found)[0])
