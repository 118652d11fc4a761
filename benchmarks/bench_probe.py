"""Log-likelihood scoring throughput: batched (longest-first, padded) vs one request at a time, same tiny model:
short strings alone, and a probe's mix (short strings beside a few explanation-length requests, which a batch
must not pad the short ones to)."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from benchmarks.common import Result, median_rate

N_ITEMS = 256
N_LONG, LONG_TOKENS = 8, 600  # a probe's verbalization options: a few explanations of hundreds of tokens
GRAMMAR = "# name: vemo\nS -> 'ka' X [1.0]\nX -> 'blick' X [0.3] | 'glims' X [0.2] | 'glims' [0.5]\n"


def run() -> list[Result]:
    import torch

    from metaex.core.formats import example_prompt
    from metaex.core.grammar.pcfg import parse_grammar
    from metaex.core.grammar.sample import sample_strings
    from metaex.core.models import build_tiny, load_model
    from metaex.core.probe import scoring

    torch.set_num_threads(1)  # on 2 shared cores one thread is fastest for a tiny model (and fair to both)
    g = parse_grammar(GRAMMAR)
    strings = sample_strings(g, N_ITEMS, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny"
        build_tiny([g.name, ":", *g.terminals], path, seed=0)
        model, tok = load_model(path)
    requests = [scoring.encode(tok, example_prompt(g.name), " " + s, eos=True) for s in strings]
    batched = median_rate(lambda: len(scoring.loglikelihoods(model, requests, batch_size=64)), repeats=3)
    naive = median_rate(lambda: len(scoring.naive_loglikelihoods(model, requests)), repeats=3)
    rng = random.Random(0)
    long = [scoring.encode(tok, "", " ".join(rng.choice(g.terminals) for _ in range(LONG_TOKENS)), eos=True)
            for _ in range(N_LONG)]
    mix = requests[:120] + long
    batched_mix = median_rate(lambda: len(scoring.loglikelihoods(model, mix, batch_size=300)), repeats=3)
    naive_mix = median_rate(lambda: len(scoring.naive_loglikelihoods(model, mix)), repeats=3)
    return [Result(f"probe log-likelihood scoring, {N_ITEMS} strings, tiny model", "items/s", batched, naive,
                   "one request at a time", target=10),
            Result(f"the same, 120 strings + {N_LONG} requests of {LONG_TOKENS} tokens", "items/s", batched_mix,
                   naive_mix, "one request at a time")]
