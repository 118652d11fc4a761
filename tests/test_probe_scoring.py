"""Batched log-likelihoods equal the one-at-a-time computation; seeded generation is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from probe_tiny import build_model

from metaex.core.formats import example_prompt, judgement_prompt
from metaex.core.probe import generate, scoring


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    path = build_model(tmp_path_factory.mktemp("tiny") / "model")
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def test_encode_splits_whole_encoding(tiny):
    _, tok = tiny
    ctx, cont = scoring.encode(tok, "vemo: ", "ka blick", eos=True)
    assert tok.convert_ids_to_tokens(ctx) == ["<s>", "vemo", ":"]
    assert tok.convert_ids_to_tokens(cont) == ["ka", "blick", "</s>"]
    ctx, cont = scoring.encode(tok, "", "ka", eos=False)
    assert ctx == [tok.bos_token_id] and tok.convert_ids_to_tokens(cont) == ["ka"]


def test_batched_equals_naive(tiny):
    model, tok = tiny
    texts = ["ka glims", "ka blick blick blick glims", "po mek zun", "po zun", "ka", "mek mek mek mek mek mek"]
    reqs = [scoring.encode(tok, example_prompt("vemo"), " " + t, eos=True) for t in texts]
    reqs += [scoring.encode(tok, judgement_prompt("dura", t), " Yes") for t in texts]
    # long contexts shared by several requests (the in-context probe's) take the read-once path
    long = " ".join(["ka blick glims po mek zun"] * 8) + "\n" + example_prompt("vemo")
    shared = [scoring.encode(tok, long, " " + t, eos=True) for t in texts]
    assert len(shared[0][0]) >= scoring.SHARED_CONTEXT and scoring._shared_contexts(model, shared)
    reqs += shared
    batched = scoring.loglikelihoods(model, reqs, batch_size=4, pad_id=scoring.pad_id(tok))
    naive = scoring.naive_loglikelihoods(model, reqs)
    for b, n, r in zip(batched, naive, reqs, strict=True):
        assert len(b) == len(r[1])
        np.testing.assert_allclose(b, n, atol=1e-4)


def test_yes_no_in_one_pass_equals_two_requests(tiny):
    model, tok = tiny
    texts = ["ka glims", "ka blick blick blick glims", "po mek zun", "po zun", "ka"]
    yes = [scoring.encode(tok, judgement_prompt("dura", t), " Yes") for t in texts]
    no = [scoring.encode(tok, judgement_prompt("dura", t), " No") for t in texts]
    both = scoring.loglikelihoods(model, yes, batch_size=2, pad_id=scoring.pad_id(tok),
                                  alternatives=[(y[1][0], n[1][0]) for y, n in zip(yes, no, strict=True)])
    naive = scoring.naive_loglikelihoods(model, yes + no)
    for i, pair in enumerate(both):
        np.testing.assert_allclose(pair, [naive[i][0], naive[len(yes) + i][0]], atol=1e-4)


def test_oom_halves_the_batch(tiny, monkeypatch):
    model, tok = tiny
    reqs = [scoring.encode(tok, "vemo:", f" ka {'blick ' * i}glims", eos=True) for i in range(6)]
    real, sizes = scoring._score_batch, []

    def flaky(model, batch, pad, alternatives=None):
        sizes.append(len(batch))
        if len(batch) > 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(model, batch, pad, alternatives)

    monkeypatch.setattr(scoring, "_score_batch", flaky)
    got = scoring.loglikelihoods(model, reqs, batch_size=8)
    monkeypatch.setattr(scoring, "_score_batch", real)
    assert sizes[:3] == [6, 3, 1] and all(s <= 2 for s in sizes[3:])  # the failed batch is halved
    for g, n in zip(got, scoring.naive_loglikelihoods(model, reqs), strict=True):
        np.testing.assert_allclose(g, n, atol=1e-4)


def test_long_requests_do_not_pad_short_ones(tiny, monkeypatch):
    """A batch ends where a request is under half the batch's longest, and scores still equal the naive ones."""
    model, tok = tiny
    long = [scoring.encode(tok, "vemo:", " ka" + " blick" * 30, eos=True) for _ in range(2)]
    short = [scoring.encode(tok, "vemo:", f" ka {'blick ' * i}glims", eos=True) for i in range(4)]
    reqs = [short[0], long[0], *short[1:], long[1]]
    real, widths = scoring._score_batch, []

    def spy(model, batch, pad, alternatives=None):
        widths.append(sorted(len(c) + len(x) for c, x in batch))
        return real(model, batch, pad, alternatives)

    monkeypatch.setattr(scoring, "_score_batch", spy)
    got = scoring.loglikelihoods(model, reqs, batch_size=64)
    monkeypatch.setattr(scoring, "_score_batch", real)
    assert len(widths) == 2 and all(2 * b[0] >= b[-1] for b in widths)
    for g, n in zip(got, scoring.naive_loglikelihoods(model, reqs), strict=True):
        np.testing.assert_allclose(g, n, atol=1e-4)


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    a = generate.sample(model, tok, "vemo:", 12, seed=3, max_new_tokens=6, batch_size=5)
    b = generate.sample(model, tok, "vemo:", 12, seed=3, max_new_tokens=6, batch_size=5)
    c = generate.sample(model, tok, "vemo:", 12, seed=4, max_new_tokens=6, batch_size=5)
    assert a == b and a != c and len(a) == 12
    assert all(len(s.split()) <= 6 and isinstance(ended, bool) for s, ended in a)
    # each row has its own generator: the batch size, and other prompts decoded beside it, change nothing
    assert generate.sample(model, tok, "vemo:", 12, seed=3, max_new_tokens=6, batch_size=64) == a
    both = generate.sample_many(model, tok, [("dura:", 7, 9, 4, None), ("vemo:", 12, 3, 6, None)], batch_size=4)
    assert both[1] == a and len(both[0]) == 7
    # a prompt's rows read it once and share its cache: the same as each row decoded alone
    assert generate.sample(model, tok, "vemo:", 12, seed=3, max_new_tokens=6, batch_size=1) == a
    mixed = [("dura: po mek mek", 5, 2, 6, None), ("vemo:", 12, 3, 6, None), ("dura: po", 3, 8, 6, None)]
    shared = generate.sample_many(model, tok, mixed, batch_size=64)
    assert shared == generate.sample_many(model, tok, mixed, batch_size=1) and shared[1] == a


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_a_sampled_token_follows_the_softmax(temperature):
    """The sampler draws each token with probability softmax(logits / T): counts over 20,000 rows agree (χ²), a
    token of probability 0 is never drawn, and a row's draw depends on its generator alone."""
    import torch
    from scipy.stats import chisquare

    logits = torch.tensor([0.0, 1.0, 2.0, float("-inf"), 0.5, -1.0])
    rows = 20_000
    gens = [torch.Generator().manual_seed(generate.row_seed(7, i)) for i in range(rows)]
    picked = generate._pick(logits.expand(rows, -1), temperature, gens)
    counts = torch.bincount(picked, minlength=len(logits)).numpy()
    expected = torch.softmax(logits.double() / temperature, -1).numpy() * rows
    live = expected > 0
    assert counts[3] == 0 and chisquare(counts[live], expected[live]).pvalue > 1e-3
    again = [torch.Generator().manual_seed(generate.row_seed(7, i)) for i in (5, 9)]
    assert generate._pick(logits.expand(2, -1), temperature, again).tolist() == picked[[5, 9]].tolist()


def test_decoding_loop_equals_transformers_generate(tiny):
    """Greedy rows of the shrinking-batch loop are what `model.generate` gives for each prompt alone."""
    import torch

    model, tok = tiny
    for p in ["vemo: ka", "dura: po mek"]:
        ids = torch.tensor([tok(p)["input_ids"]])
        with torch.no_grad():
            ref = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5,
                                 do_sample=False, eos_token_id=generate.stop_token_ids(tok),
                                 pad_token_id=generate.pad_id(tok))
        made = ref[0, ids.shape[1]:].tolist()
        want = generate._continuation(tok, ids[0].tolist(), made)
        assert generate.greedy(model, tok, [p], max_new_tokens=5)[0][0] == want


def test_greedy_batched_equals_alone(tiny):
    model, tok = tiny
    prompts = ["vemo: ka", "vemo: ka blick", "dura: po", "vemo: ka glims", "dura: po mek mek"]
    together = generate.greedy(model, tok, prompts, max_new_tokens=5, batch_size=3)   # mixed lengths, left-padded
    alone = [generate.greedy(model, tok, [p], max_new_tokens=5)[0] for p in prompts]
    assert together == alone


def test_a_decoding_batch_that_runs_out_of_memory_is_halved_and_gives_the_same_rows(tiny):
    """A forward pass of more than 3 rows raises torch's out-of-memory error (a hook on the real model): decoding
    asked for batches of 16 halves down to 2 and returns exactly the rows of batches of 2."""
    import torch

    model, tok = tiny
    seen = []

    def fail_wide(_module, args, kwargs):
        rows = kwargs["input_ids"].shape[0]
        seen.append(rows)
        if rows > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    asks = [("vemo:", 7, 1, 6, None), ("dura: po", 5, 2, 6, None)]
    want = generate.sample_many(model, tok, asks, batch_size=2)
    hook = model.register_forward_pre_hook(fail_wide, with_kwargs=True)
    try:
        got = generate.sample_many(model, tok, asks, batch_size=16)
    finally:
        hook.remove()
    assert got == want and max(seen) > 3 and seen[-1] <= 3
    greedy = generate.greedy(model, tok, ["vemo: ka", "dura: po"], max_new_tokens=4, batch_size=16)
    assert greedy == generate.greedy(model, tok, ["vemo: ka", "dura: po"], max_new_tokens=4, batch_size=1)


def test_a_gpu_decoding_batch_is_sized_by_the_cache_a_row_really_holds(tiny):
    """`row_bytes` counts at least the KV cache that a real forward pass of that width keeps, growing with the width
    as the cache does, and the rows of a batch follow free memory."""
    import torch

    from metaex.core.probe import memory

    model, _ = tiny
    logits = model.config.vocab_size * memory.LOGIT_BYTES
    for width in (8, 40):
        with torch.no_grad():
            cache = model(input_ids=torch.ones(1, width, dtype=torch.long), use_cache=True).cache
        held = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
        per_row = memory.row_bytes(model.config, width, 4)
        assert held <= per_row - logits and per_row - logits == 2 * (memory.row_bytes(model.config, width // 2, 4)
                                                                     - logits)
    per_row = memory.row_bytes(model.config, 40, 4)
    assert memory.rows_that_fit(int(100 * per_row / memory.HEADROOM) + 1, per_row, 8) == 100
    assert memory.rows_that_fit(per_row, per_row, 8) == 8                         # never under the CPU's batch size
    assert memory.rows_that_fit(10**15, per_row, 8) == memory.MAX_ROWS
    assert memory.decode_rows(model, [40] * 500, 64) == 64                       # off CUDA: the batch size asked
