"""Which grammars carry an effect: Δ − Δ(r) split into one term per grammar, and what that means for detection.

Every grammar is explained in as many seeds as it is unexplained (complementary seed pairs), so the mean over
seeds of Δ − Δ(r) is the mean over grammars of each grammar's own contrast:

    did = (1/G) Σ_g [ mean_{s: g explained} (m_c − m_r)[s, g] − mean_{s: g unexplained} (m_c − m_r)[s, g] ]

(m_c, m_r: the grammar's cell value in the condition's run and in the reference run of the same seed). A
grammar's term / G is its part of the estimate, and the terms add up to it. Where the halves are not balanced
the terms are still each grammar's contrast, but they need not add up to the seed mean.

Why it matters for detection. The per-seed statistic of a seed is a mean over its explained grammars minus a
mean over its unexplained ones. If one grammar alone moves, and only in the runs that explain it, the seeds
that explain it all read about the same value v and the seeds that do not read about 0, however large v is: n
seeds, half at v and half at 0, have mean v/2 and standard error (v/2)/√(n − 1), a t statistic of √(n − 1)
(if it also moves the other way where unexplained, by u, the ceiling is √(n − 1) · (v + u)/|v − u|). A t interval over n seeds then excludes
0 only once √(n − 1) exceeds t(n − 1)'s 97.5 % point: never at 6 seeds (√5 = 2.24 against 2.57), first at 8
(`least_seeds_one_grammar`). So a study that wants to detect an effect confined to one grammar needs ≥ 8 seeds,
or grammars that all leave the model room to respond; more samples or a stronger effect do not help.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metaex.core.stats.effects import Design, nan_mean


@dataclass(frozen=True)
class GrammarTerm:
    """One grammar's part of condition − reference: its mean change where explained and where not (over seeds)."""

    condition: str
    reference: str
    grammar: str
    change_explained: float
    change_unexplained: float
    n_explained: int
    n_unexplained: int
    n_grammars: int

    @property
    def contrast(self) -> float:
        """change where explained − change where unexplained (NaN when either side has no seed)."""
        return self.change_explained - self.change_unexplained

    @property
    def contribution(self) -> float:
        """The grammar's part of the seed mean of Δ − Δ(reference): its contrast / number of grammars."""
        return self.contrast / self.n_grammars


def grammar_terms(design: Design, condition: str, reference: str) -> list[GrammarTerm]:
    """The per-grammar terms of `condition` against `reference` in one arm × dose (grammars in design order)."""
    c, r = design.conditions.index(condition), design.conditions.index(reference)
    means = design.cell_values()                                  # (C, S, G)
    change = means[c] - means[r]                                  # (S, G), NaN where either run is missing
    terms = []
    for g, name in enumerate(design.grammars):
        col, expl = change[:, g], design.explained[:, g].astype(bool)
        terms.append(GrammarTerm(condition, reference, name,
                                 float(nan_mean(col, expl)), float(nan_mean(col, ~expl)),
                                 int((expl & np.isfinite(col)).sum()), int((~expl & np.isfinite(col)).sum()),
                                 len(design.grammars)))
    return terms


def largest_share(terms: list[GrammarTerm]) -> tuple[str | None, float]:
    """(grammar, share): the grammar with the largest |contribution| and its share of Σ |contribution|."""
    finite = [t for t in terms if math.isfinite(t.contribution)]
    total = sum(abs(t.contribution) for t in finite)
    if not finite or total == 0:
        return None, math.nan
    top = max(finite, key=lambda t: abs(t.contribution))
    return top.grammar, abs(top.contribution) / total


def one_grammar_t(n_seeds: int) -> float:
    """The t statistic of an effect carried by one grammar alone, noise-free: √(n − 1) (its ceiling)."""
    return math.sqrt(n_seeds - 1) if n_seeds >= 2 else math.nan


def least_seeds_one_grammar(level: float = 0.95, most: int = 200) -> int:
    """The fewest seeds (an even number: complementary pairs) at which a t interval can detect an effect carried
    by one grammar alone."""
    from scipy import stats

    for n in range(2, most + 1, 2):
        if one_grammar_t(n) > stats.t.ppf(0.5 + level / 2, n - 1):
            return n
    raise ValueError(f"no even seed count up to {most} detects a one-grammar effect at level {level}")
