"""One sampling step of the probe's decoder: a token for each of 80 rows (4 grammars × 20 samples, the pre-trained
configs' probe), each row drawn with its own generator, at SmolLM2's and Gemma-3's vocabulary sizes. Ours places one
uniform per row on its cumulative distribution; the baseline is torch.multinomial, one call per row with that
row's generator (an exponential race: a random number per vocabulary entry). Model-free: random logits."""

from __future__ import annotations

from functools import partial

from benchmarks.common import Result, median_rate

ROWS = 80
VOCABS = {"SmolLM2": 49_152, "Gemma-3": 262_144}


def _ours(pick, logits, gens) -> int:
    pick(logits, 1.0, gens)
    return 1


def _multinomial(logits, gens) -> int:
    import torch

    probs = torch.softmax(logits, dim=-1)
    torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(gens)])
    return 1


def run() -> list[Result]:
    import torch

    from metaex.core.probe import generate

    torch.set_num_threads(1)   # as in a study shard
    out = []
    for name, vocab in VOCABS.items():
        logits = torch.randn(ROWS, vocab, generator=torch.Generator().manual_seed(0)) * 3
        gens = [torch.Generator().manual_seed(generate.row_seed(0, i)) for i in range(ROWS)]
        out.append(Result(f"sampling step, {ROWS} rows, {name}'s {vocab:,} tokens", "steps/s",
                          median_rate(partial(_ours, generate._pick, logits, gens)), median_rate(partial(_multinomial, logits, gens)),
                          "torch.multinomial per row (its own generator)", target=1.5))
    return out
