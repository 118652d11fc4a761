"""`ExplainOptions`: what one `metaex explain` run is asked for, one definition per option (`metaex.core.options`)."""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core import options
from metaex.core.explain.run import STYLES, parse_styles
from metaex.core.options import option


@dataclass(frozen=True)
class ExplainOptions:
    styles: str = option(",".join(STYLES), "Comma-separated styles: prose (rule by rule), bnf (compact rules), "
                         "constraints (facts derived from the rules).")
    paraphrases: int = option(20, "Distinct paraphrases per style.", short="-n", low=1)
    seed: int = option(0, "Seed of the wording choices.", low=0)

    def check(self) -> None:
        options.check(self)
        parse_styles(self.styles)
