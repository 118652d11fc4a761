"""`ReportOptions`: what one `metaex report` run is asked for, one definition per option (`metaex.core.options`)."""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core import options
from metaex.core.options import option


@dataclass(frozen=True)
class ReportOptions:
    metrics: list[str] = option([], "Metric to analyse (repeatable; default: every metric found).", flag="--metric",
                                short="-m")
    bootstrap: int = option(2000, "Cluster-bootstrap resamples per statistic.", short="-B", low=2)
    seed: int = option(0, "Seed of the bootstrap and permutation draws.", low=0)
    contrasts: bool = option(True, "Compare each condition with `examples` (and `filler`); needs `examples`.")
    resample_items: bool = option(False, "Resample items within seeds too (two-level bootstrap; conservative).")

    def check(self) -> None:
        options.check(self)
