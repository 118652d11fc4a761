"""Seed-level against pair-level t intervals of Δ − Δ(reference) when grammar templates respond differently to a
condition (docs/notebook/2026-12-03-why-plant-weak-smollm2.md: why the pair interval was not adopted).

    python scripts/pair_interval_sim.py

Margin-like items (`metaex.core.stats.simulate`'s model on the logit scale with Normal(·, 1) items): seed
instantiation noise 0.4, run noise 0.3, 20 items a cell, complementary halves; each template g adds its own
response h[g] ~ N(0, spread) to the condition's explained grammars, fixed within a study. The truth of a study is
the mean of h over its templates. Prints each interval's coverage of the truth and its median width.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from metaex.core.stats.effects import seed_effects
from metaex.core.stats.simulate import complementary_halves

CONDITIONS = ("examples", "worked")


def coverage(rng: np.random.Generator, spread: float, seeds: int, grammars: int = 4, studies: int = 4000,
             run_sd: float = 0.3, seed_sd: float = 0.4, items: int = 20) -> dict[str, tuple[float, float]]:
    explained = complementary_halves(rng, seeds, grammars, (studies,))
    h = rng.normal(0, spread, (studies, 1, grammars))
    u = rng.normal(0, seed_sd, (studies, seeds, grammars))

    def run() -> np.ndarray:
        return rng.normal(0, run_sd, u.shape) + rng.normal(0, 1, (*u.shape, items)).mean(-1)

    means = np.stack([u + run(), u + run() + h * explained], axis=1)          # (studies, C, S, G)
    did = seed_effects(means, explained, CONDITIONS, CONDITIONS[:1])[("did", CONDITIONS[0])][:, 1]
    truth = h[:, 0].mean(-1)
    out = {}
    for unit, vals in (("seed", did), ("pair", did.reshape(studies, seeds // 2, 2).mean(-1))):
        n = vals.shape[1]
        mean, se = vals.mean(1), vals.std(1, ddof=1) / np.sqrt(n)
        half = stats.t.ppf(0.975, n - 1) * se
        out[unit] = (float(((mean - half <= truth) & (truth <= mean + half)).mean()), float(np.median(2 * half)))
    return out


def main() -> None:
    rng = np.random.default_rng(1)
    print("seeds  spread  seed interval (coverage, width)  pair interval (coverage, width)")
    for seeds in (4, 6, 8):
        for spread in (0.0, 0.3, 1.0):
            c = coverage(rng, spread, seeds)
            print(f"{seeds:>5}  {spread:>6}  {c['seed'][0]:.3f}, {c['seed'][1]:.2f}{'':>22}{c['pair'][0]:.3f}, "
                  f"{c['pair'][1]:.2f}")


if __name__ == "__main__":
    main()
