"""`MixOptions`: what one `metaex mix` run is asked for, checked before any input is read."""

from __future__ import annotations

from dataclasses import dataclass, field

from metaex.core.errors import InputError
from metaex.core.mix.build import CONDITIONS, ORDERS


@dataclass
class MixOptions:
    condition: str
    dose: int
    seed: int
    examples: list[str]
    explanations: list[str] = field(default_factory=list)
    filler: list[str] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    grammar_files: list[str] = field(default_factory=list)
    paraphrases: int = 20
    order: str = "interleaved"
    passes: int = 1
    extra_passes: int | None = None    # appearances of each extra document in the stream; default: passes
    worked_strings: int | None = None  # extra strings per explained grammar; default 2 × dose
    worked_per_doc: int | None = None  # strings per worked document; default: spread over all explanations

    def check(self) -> None:
        if self.condition not in CONDITIONS:
            raise InputError(f"unknown condition {self.condition!r} (conditions: {', '.join(CONDITIONS)})")
        if self.order not in ORDERS:
            raise InputError(f"unknown order {self.order!r} (orders: {', '.join(ORDERS)})")
        for opt, value, low in (("--dose", self.dose, 1), ("--passes", self.passes, 1),
                                ("--extra-passes", self.extra_passes, 1),
                                ("--paraphrases", self.paraphrases, 1), ("--worked-strings", self.worked_strings, 0),
                                ("--worked-per-doc", self.worked_per_doc, 1)):
            if value is not None and value < low:
                raise InputError(f"{opt} must be at least {low}, got {value}")
        needs = {"explained": ["explanations"], "mismatched": ["explanations"], "explanations-only": ["explanations"],
                 "filler": ["explanations", "filler"], "worked": ["explanations", "pool"]}
        for name in needs.get(self.condition, []):
            if not getattr(self, name):
                raise InputError(f"condition {self.condition!r} needs --{name} files")
