"""`MixOptions`: what one `metaex mix` run is asked for, one definition per option (`metaex.core.options`),
checked before any input is read."""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core import options
from metaex.core.conditions import exposure_k, ladder_n, ladder_problem, paraphrases_of
from metaex.core.errors import InputError
from metaex.core.explain.options import ExplainOptions
from metaex.core.mix.build import CONDITIONS, ORDERS
from metaex.core.options import like, option


@dataclass
class MixOptions:
    """One condition's stream: what `metaex mix` takes, one definition per option (`metaex.core.options`)."""

    condition: str = option(help="The condition whose stream this is.", choices=CONDITIONS)
    dose: int = option(help="Examples per grammar: the first N of each grammar's train examples, so doses nest.",
                       low=1, unit="examples per grammar")
    seed: int = option(help="Seed: picks the explained half (seeds 2k, 2k+1 explain complementary halves) and "
                       "every permutation.", low=0)
    examples: list[str] = option(help="Train example files of K >= 2 grammars (repeatable).")
    explanations: list[str] = option([], "Explanation files of the study grammars (repeatable).")
    filler: list[str] = option([], "Explanation files of grammars outside the study, for `filler` (repeatable).")
    pool: list[str] = option([], "Extra strings (split pool) for `worked` (repeatable).")
    contested: list[str] = option([], "Contested strings of the told variants (a contest folder's strings.jsonl, "
                                  "`grammar contest --strings`) for `told-worked` and `contested-N` (repeatable).")
    tests: list[str] = option([], "Test examples and minimal pairs for the leakage guard (repeatable).")
    grammar_files: list[str] = option([], "The study grammars' .pcfg files (repeatable): recorded in the manifest "
                                      "and used for their alphabets.", flag="--grammar")
    paraphrases: int = like(ExplainOptions, "paraphrases", help="Paraphrases per style per explained grammar "
                            "(an exposure condition told-pK takes K).", short=None)
    order: str = option("interleaved", "Order of the documents within each pass.", choices=ORDERS)
    passes: int = option(1, "Passes over the example documents.", low=1)
    extra_passes: int | None = option(None, "Times each extra document (explanation, filler, …) appears in the "
                                      "stream, spread evenly over the passes (default: once per pass).", low=1)
    worked_strings: int | None = option(None, "`worked`, `told-worked`: extra strings per explained (told) grammar "
                                        "(default 2 x dose).", low=0)
    worked_per_doc: int | None = option(None, "`worked`, `told-worked`: strings per document, each document one "
                                        "explanation (default: the strings spread over all the grammar's "
                                        "explanations).", low=1)

    def check(self) -> None:
        problem = ladder_problem(self.condition) if isinstance(self.condition, str) else None
        if problem:
            raise InputError(problem)
        options.check(self)
        needs = {"explained": ["explanations"], "mismatched": ["explanations"], "explanations-only": ["explanations"],
                 "filler": ["explanations", "filler"], "worked": ["explanations", "pool"],
                 "told": ["explanations"], "told-worked": ["explanations", "contested"]}
        default = ["contested"] if ladder_n(self.condition) else ["explanations"] if exposure_k(self.condition) else []
        for name in needs.get(self.condition, default):
            if not getattr(self, name):
                raise InputError(f"condition {self.condition!r} needs --{name} files")

    @property
    def paraphrases_used(self) -> int:
        """Paraphrases per style of each told (explained) grammar's explanations: K of an exposure condition
        `told-pK`, else `paraphrases`."""
        return paraphrases_of(self.condition, self.paraphrases)
