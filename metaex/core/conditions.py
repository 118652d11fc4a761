"""The conditions of a study, in one place: what `metaex mix` builds, what a study config may name, and the order
a report lists them in.

- the halves design (STUDY.md): `examples` (the control), `explained`, `mismatched`, `filler`, `worked`,
  `explanations-only`;
- the contested design (issue 31): `told`, `told-worked`, and the ladder `contested-N` (N ≥ 1: `examples` plus N
  contested strings of the told variant per grammar).

`CONDITIONS` is the `choices` of every option that takes a condition: iterating it gives the named conditions,
`in` accepts the ladder's names too, and `shown` is how help and errors list them.
"""

from __future__ import annotations

import re

LADDER = re.compile(r"contested-(\d+)")
LADDER_SHOWN = "contested-N (N ≥ 1)"
TOLD = ("told", "told-worked")   # conditions that tell every grammar (its told variant's explanations)


class Conditions(tuple):
    """The named conditions (design order) that also contains every ladder name `contested-N`, N ≥ 1."""

    def __contains__(self, name: object) -> bool:
        return tuple.__contains__(self, name) or ladder_n(name) is not None

    @property
    def shown(self) -> tuple[str, ...]:
        return (*self, LADDER_SHOWN)


CONDITIONS = Conditions(("examples", "explained", "mismatched", "filler", "worked", "explanations-only", *TOLD))


def ladder_n(name: object) -> int | None:
    """N of a ladder condition `contested-N` (N ≥ 1, no leading zero); None for any other name."""
    m = LADDER.fullmatch(name) if isinstance(name, str) else None
    if m is None or int(m.group(1)) < 1 or m.group(1) != str(int(m.group(1))):
        return None
    return int(m.group(1))


def ladder_problem(name: str) -> str | None:
    """Why `name`, which reads as a ladder condition, is not one (None when it is one or is no ladder name)."""
    m = LADDER.fullmatch(name)
    if m is None or ladder_n(name) is not None:
        return None
    return f"condition {name!r}: the ladder's N must be an integer ≥ 1 written without leading zeros (contested-1, …)"


def order(names: set[str] | list[str]) -> list[str]:
    """Known conditions in the design order (examples first, the ladder by N after the named ones), then any
    others alphabetically."""
    named = [c for c in CONDITIONS if c in names]
    ladder = sorted((c for c in set(names) if ladder_n(c) is not None), key=ladder_n)
    return named + ladder + sorted(set(names) - set(named) - set(ladder))
