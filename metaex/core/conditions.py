"""The conditions of a study, in one place: what `metaex mix` builds, what a study config may name, and the order
a report lists them in.

- the halves design (STUDY.md): `examples` (the control), `explained`, `mismatched`, `filler`, `worked`,
  `explanations-only`;
- the contested design (issue 31): `told`, `told-worked`, the ladder `contested-N` (N ≥ 1: `examples` plus N
  contested strings of the told variant per grammar), and the exposure ladder `told-pK` (K ≥ 1: `told` with K
  paraphrases per style of each told explanation, where `told` has the study's `[data] paraphrases`).

`CONDITIONS` is the `choices` of every option that takes a condition: iterating it gives the named conditions,
`in` accepts the two ladders' names too, and `shown` is how help and errors list them.
"""

from __future__ import annotations

import re

LADDER = re.compile(r"contested-(\d+)")
LADDER_SHOWN = "contested-N (N ≥ 1)"
EXPOSURE = re.compile(r"told-p(\d+)")
EXPOSURE_SHOWN = "told-pK (K ≥ 1)"
TOLD = ("told", "told-worked")   # the named conditions that tell every grammar (its told variant's explanations)


class Conditions(tuple):
    """The named conditions (design order) that also contains every ladder name `contested-N`, N ≥ 1."""

    def __contains__(self, name: object) -> bool:
        return tuple.__contains__(self, name) or ladder_n(name) is not None or exposure_k(name) is not None

    @property
    def shown(self) -> tuple[str, ...]:
        return (*self, LADDER_SHOWN, EXPOSURE_SHOWN)


CONDITIONS = Conditions(("examples", "explained", "mismatched", "filler", "worked", "explanations-only", *TOLD))


def _rung(pattern: re.Pattern, name: object) -> int | None:
    m = pattern.fullmatch(name) if isinstance(name, str) else None
    if m is None or int(m.group(1)) < 1 or m.group(1) != str(int(m.group(1))):
        return None
    return int(m.group(1))


def ladder_n(name: object) -> int | None:
    """N of a ladder condition `contested-N` (N ≥ 1, no leading zero); None for any other name."""
    return _rung(LADDER, name)


def exposure_k(name: object) -> int | None:
    """K of an exposure condition `told-pK` (K ≥ 1, no leading zero); None for any other name."""
    return _rung(EXPOSURE, name)


def paraphrases_of(name: str, default: int) -> int:
    """Paraphrases per style a condition's told (explained) grammars get: K of `told-pK`, else `default` (the
    study's `[data] paraphrases`, mix's `--paraphrases`)."""
    return exposure_k(name) or default


def tells_every(name: str) -> bool:
    """Whether a condition tells every grammar its told variant's explanations (`told`, `told-worked`, `told-pK`)."""
    return name in TOLD or exposure_k(name) is not None


def ladder_problem(name: str) -> str | None:
    """Why `name`, which reads as a ladder condition (`contested-N`, `told-pK`), is not one (None when it is one or
    is no ladder name)."""
    for pattern, rung, first in ((LADDER, ladder_n, "contested-1"), (EXPOSURE, exposure_k, "told-p1")):
        if pattern.fullmatch(name) and rung(name) is None:
            return (f"condition {name!r}: the ladder's number must be an integer ≥ 1 written without leading zeros "
                    f"({first}, …)")
    return None


def order(names: set[str] | list[str]) -> list[str]:
    """Known conditions in the design order (examples first; the exposure ladder by K, then the contested ladder by
    N, after the named ones), then any others alphabetically."""
    named = [c for c in CONDITIONS if c in names]
    exposure = sorted((c for c in set(names) if exposure_k(c) is not None), key=exposure_k)
    ladder = sorted((c for c in set(names) if ladder_n(c) is not None), key=ladder_n)
    return named + exposure + ladder + sorted(set(names) - set(named) - set(ladder) - set(exposure))
