"""Statistics of a study: per-seed effects, two-level cluster bootstrap CIs, sign-flip tests, simulations.

Pure numpy/scipy; no typer, rich or torch.
"""

from metaex.core.stats.bootstrap import cell_means, resample_cells, sign_flip_test, t_interval
from metaex.core.stats.effects import (
                                       CONTRASTS,
                                       LEVELS,
                                       Design,
                                       Effect,
                                       Summary,
                                       bootstrap_effects,
                                       bootstrap_summaries,
                                       seed_effects,
)
from metaex.core.stats.simulate import complementary_halves, simulate_study, write_probe_dirs

__all__ = [
    "CONTRASTS", "LEVELS", "Design", "Effect", "Summary", "bootstrap_effects", "bootstrap_summaries", "cell_means", "complementary_halves",
    "resample_cells", "seed_effects", "sign_flip_test", "simulate_study", "t_interval", "write_probe_dirs",
]
