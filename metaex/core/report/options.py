"""`ReportOptions`: what one `metaex report` run is asked for, one definition per option (`metaex.core.options`):
the statistics' settings, and what the report's answer reads (a study config's `[analysis]`): the primary metric of
each design, the equivalence margin, the estimator the verdicts use, and the seeds the study's pilots used. Light:
no numpy, so the CLI and the study config read it at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core import options
from metaex.core.options import option

ESTIMATORS = ("blocked", "seed")


@dataclass(frozen=True)
class ReportOptions:
    metrics: list[str] = option([], "Metric to analyse (repeatable; default: every metric found).", flag="--metric",
                                short="-m")
    bootstrap: int = option(2000, "Cluster-bootstrap resamples per statistic.", short="-B", low=2)
    seed: int = option(0, "Seed of the bootstrap, permutation and power draws.", low=0)
    contrasts: bool = option(True, "Compare each condition with `examples` (and `filler`); needs `examples`.")
    resample_items: bool = option(False, "Resample items within seeds too (two-level bootstrap; conservative).")
    primary: str = option("heldout_lpw", "The halves design's primary metric: the answer's verdicts read it (every "
                          "other metric is exploratory).")
    contest_primary: str = option("contest_pref", "The contested design's primary metric.")
    margin: float | None = option(None, "Equivalence margin in the design's example units (extra example strings "
                                  "per grammar; contested strings in the contested design); default: a quarter of "
                                  "the dose.", low=0, low_open=True, unit="strings per grammar")
    estimator: str = option("blocked", "The estimator the verdicts read: the grammar-blocked linear model or the "
                            "seed-level bootstrap.", choices=ESTIMATORS)
    pilot_seeds: list[int] = option([], "Seeds the study's pilots used (repeatable): a study seed among them is "
                                    "flagged.", flag="--pilot-seed", low=0, distinct=True)
    power_sims: int = option(2000, "Simulated studies behind each minimal detectable effect.", low=100)

    def check(self) -> None:
        options.check(self)
        from metaex.core.probe.metrics import metric

        for name in (self.primary, self.contest_primary, *self.metrics):
            metric(name)     # the registry's one-line error, naming the known metrics
