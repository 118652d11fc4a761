"""The contested-rule design's part of a study plan: which variant each seed tells, and the grammar files every
later step of a seed reads (the told variants, in a contested study; the instances otherwise)."""

from __future__ import annotations

import random
from pathlib import Path


def told_variant(seed: int, name: str) -> str:
    """"a" or "b": the variant of grammar `name` that `seed` tells. Seeds 2k and 2k+1 tell opposite forms, and which
    of them tells the template's own form (a) is a coin per seed pair and grammar, so neither the label nor the
    seed's parity carries anything: under the null the direction-adjusted effect has expectation exactly 0."""
    coin = random.Random(f"metaex-contest:{seed // 2}:{name}").random() < 0.5
    return "b" if coin ^ bool(seed % 2) else "a"


def contest_dir(seed_dir: Path, name: str) -> Path:
    return seed_dir / "contest" / name


def grammar_files(seed_dir: Path, seed: int, names: tuple[str, ...], contested: bool) -> list[Path]:
    """The grammar each step after instantiation reads, per grammar: its told variant (contested) or its instance."""
    if contested:
        return [contest_dir(seed_dir, n) / f"{told_variant(seed, n)}.pcfg" for n in names]
    return [seed_dir / "grammars" / f"{n}.pcfg" for n in names]
