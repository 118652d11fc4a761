"""Batched, seeded generation of grammar strings: temperature sampling and greedy decoding from prefixes.

One decoding loop with the KV cache serves every request of a probe (STUDY.md: batching is 50× faster than one
string at a time): prompts of any token lengths share a batch, left-padded with an attention mask, and a row
leaves the batch as soon as it stops, so a batch costs what its rows need, not what its longest row needs (with
a pre-trained model most strings end after a few words and a few run on to the budget). A row stops at EOS or
at a newline token, or once it holds more than `max_words` words, or at its token budget; its text is cut at
the first newline and its whitespace normalised, and `ended` says whether it stopped by itself (EOS/newline).

Sampling is true temperature sampling (the whole softmax: no top-k, no top-p), drawn per row from the row's
own generator (one uniform a token, placed on the row's cumulative distribution), so a sample depends only on
its prompt, its seed and its index: not on the batch size, on which rows share its batch, or on the other
grammars of the call.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metaex.core.probe.memory import decode_rows
from metaex.core.probe.scoring import halved, pad_id


@dataclass(frozen=True)
class Row:
    """One row to decode: prompt token ids, its token budget, its seed (None: greedy), and its word limit."""

    prompt: list[int]
    max_new_tokens: int
    seed: int | None = None
    max_words: int | None = None


# tokenizer -> (its stop ids, the most words each token can add): decoding every token alone takes seconds on a
# 262 k vocabulary, so once a process
_VOCAB: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _vocab(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if tokenizer not in _VOCAB:
        ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        ids += [i for i, text in enumerate(texts) if _breaks(text) and i not in ids]
        # appending a token's text to a row adds at most its own whitespace-separated pieces as words (at least
        # one is assumed, for byte pieces that decode to nothing alone)
        _VOCAB[tokenizer] = tuple(ids), tuple(max(1, len(text.split())) for text in texts)
    return _VOCAB[tokenizer]


def stop_token_ids(tokenizer: Any) -> list[int]:
    """EOS, then every token whose decoded text holds a line break (any of `str.splitlines`' separators), in id
    order: a sample is one line, whichever token its line break comes in."""
    return list(_vocab(tokenizer)[0])


def _breaks(text: str) -> bool:
    """Whether `text` holds a line break: any separator of `str.splitlines` (LF, CR, U+2028, ...)."""
    return text != "" and text.splitlines() != [text]


def precision(model: Any, bf16: bool) -> Any:
    """The context decoding runs in: bfloat16 autocast on the model's device with `bf16`, else unchanged."""
    import contextlib

    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=next(model.parameters()).device.type, dtype=torch.bfloat16)


def grammar_seed(seed: int, name: str) -> int:
    """A per-grammar sampling seed, so adding a grammar to a call leaves the others' samples unchanged."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "big")


def row_seed(seed: int, index: int) -> int:
    """The generator seed of sample `index` of a request seeded `seed`."""
    return (seed * 1_000_003 + index) % (2 ** 63)


def _clean(text: str) -> str:
    """The text's first line, whitespace normalised."""
    return " ".join((text.splitlines() or [""])[0].split())


def _continuation(tokenizer: Any, prompt_ids: list[int], row: list[int]) -> str:
    """The generated text after the prompt: decode prompt+generation and drop the decoded prompt, so word
    pieces merging across the seam come out right."""
    head = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    full = tokenizer.decode(prompt_ids + row, skip_special_tokens=True)
    if not full.startswith(head):
        full, head = tokenizer.decode(row, skip_special_tokens=True), ""
    return _clean(full[len(head):])


def decode(model: Any, tokenizer: Any, requests: Sequence[Row], *, temperature: float = 1.0,
           batch_size: int = 64) -> list[tuple[str, bool]]:
    """(continuation, ended) per request, in request order. Rows of similar prompt length share a batch, rows of
    one prompt side by side; a batch holds `batch_size` rows, on a CUDA GPU as many as its free memory holds
    (`memory.decode_rows`), halved and retried on out-of-memory."""

    order = sorted(range(len(requests)), key=lambda i: (-len(requests[i].prompt), requests[i].prompt))
    out: list[tuple[str, bool] | None] = [None] * len(requests)
    size = decode_rows(model, [len(r.prompt) + r.max_new_tokens for r in requests], max(1, batch_size))
    pos = 0
    while pos < len(order):
        chunk = order[pos: pos + size]
        try:
            rows = _decode_batch(model, tokenizer, [requests[i] for i in chunk], temperature)
        except RuntimeError as err:     # torch.OutOfMemoryError is one
            size = halved(err, len(chunk))
            continue
        for i, row in zip(chunk, rows, strict=True):
            out[i] = row
        pos += len(chunk)
    return out  # type: ignore[return-value]


def _decode_batch(model: Any, tokenizer: Any, reqs: list[Row], temperature: float) -> list[tuple[str, bool]]:
    import torch

    device = next(model.parameters()).device
    # a prompt shared by several rows (the samples of one ask: long ones in context) is read once, then its
    # cache and logits are copied to each of its rows
    prompts = list(dict.fromkeys(tuple(r.prompt) for r in reqs))
    where = {p: k for k, p in enumerate(prompts)}
    spread = torch.tensor([where[tuple(r.prompt)] for r in reqs], dtype=torch.long, device=device)
    width, pad = max(len(p) for p in prompts), pad_id(tokenizer)
    stop_ids, grows = _vocab(tokenizer)
    stops = set(stop_ids)
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], dtype=torch.long, device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long, device=device)
    sampling = temperature > 0
    # each row's uniforms come from its own CPU generator (one small copy a step: a CUDA generator per row would
    # launch a kernel per row and step), so a row draws the same on any device
    gens = [torch.Generator().manual_seed(r.seed) if sampling else None for r in reqs]
    made: list[list[int]] = [[] for _ in reqs]
    # a row's word count is read (decoded) only when it could have passed its limit: `words` is the count at the
    # last reading, `grown` the most that the tokens since can have added
    words, grown = [0] * len(reqs), [0] * len(reqs)
    ended = [False] * len(reqs)
    active = list(range(len(reqs)))
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = None
    with torch.no_grad():
        while active:
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                        use_cache=True, logits_to_keep=1)
            cache, logits = out.cache, out.logits[:, -1, :].float()
            if len(prompts) < len(reqs) and mask.shape[-1] == width:     # the prompts' pass: one row per prompt
                cache.batch_select_indices(spread)
                logits, mask = logits[spread], mask[spread]
            picked = _pick(logits, temperature, [gens[i] for i in active]) if sampling else logits.argmax(-1)
            keep = []
            for j, (i, token) in enumerate(zip(active, picked.tolist(), strict=True)):
                made[i].append(token)
                limit = reqs[i].max_words
                if limit is not None:
                    grown[i] += grows[token] if token < len(grows) else 1
                    if words[i] + grown[i] > limit:
                        words[i], grown[i] = _words(tokenizer, made[i]), 0
                if token in stops:
                    ended[i] = True
                elif len(made[i]) < reqs[i].max_new_tokens and not (limit is not None and words[i] > limit):
                    keep.append(j)
            if len(keep) < len(active):
                if not keep:
                    break
                index = torch.tensor(keep, dtype=torch.long, device=device)
                cache.batch_select_indices(index)
                mask, picked, active = mask[index], picked[index], [active[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
            ids, positions = picked[:, None], mask.sum(-1, keepdim=True) - 1
    return [(_continuation(tokenizer, r.prompt, m), e) for r, m, e in zip(reqs, made, ended, strict=True)]


def _pick(logits: Any, temperature: float, gens: list[Any]) -> Any:
    """One token per row from softmax(logits / temperature), each row drawn with its own generator.

    Inverse-CDF sampling: one uniform per row, placed on the row's cumulative distribution (summed in float64, so
    no token's share is lost to rounding). The exponential race it replaced drew one number per vocabulary entry
    and row: on Gemma's 262 k tokens, more than its output layer for a full batch (docs/notebook/2026-12-05-sampler-cost.md).
    """
    import torch

    probs = torch.softmax(logits / temperature, dim=-1)
    cdf = probs.cumsum(-1, dtype=torch.float64)
    u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in gens]).to(probs.device)
    # u < 1, so u × total < total and the search lands on a token; the clamp only guards float64 rounding
    return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0].clamp_(max=probs.shape[-1] - 1)


def _words(tokenizer: Any, made: list[int]) -> int:
    return len(tokenizer.decode(made, skip_special_tokens=True).split())


def sample(model: Any, tokenizer: Any, prompt: str, n: int, *, seed: int, max_new_tokens: int,
           temperature: float = 1.0, batch_size: int = 64, max_words: int | None = None) -> list[tuple[str, bool]]:
    """`n` (continuation, ended) of `prompt`, sampled at `temperature` (0 = greedy); the same seed gives the same
    strings, whatever the batch size."""
    return sample_many(model, tokenizer, [(prompt, n, seed, max_new_tokens, max_words)], temperature=temperature,
                       batch_size=batch_size)[0]


def sample_many(model: Any, tokenizer: Any, asks: Sequence[tuple[str, int, int, int, int | None]], *,
                temperature: float = 1.0, batch_size: int = 64) -> list[list[tuple[str, bool]]]:
    """Per (prompt, n, seed, max_new_tokens, max_words): its n samples, all decoded in shared batches."""
    reqs, owner = [], []
    for k, (prompt, n, seed, budget, words) in enumerate(asks):
        ids = tokenizer(prompt)["input_ids"]
        reqs += [Row(ids, budget, row_seed(seed, i) if temperature > 0 else None, words) for i in range(n)]
        owner += [k] * n
    rows = decode(model, tokenizer, reqs, temperature=temperature, batch_size=batch_size)
    out: list[list[tuple[str, bool]]] = [[] for _ in asks]
    for k, row in zip(owner, rows, strict=True):
        out[k].append(row)
    return out


def greedy(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int | Sequence[int],
           batch_size: int = 64, max_words: int | None | Sequence[int | None] = None) -> list[tuple[str, bool]]:
    """The greedy (continuation, ended) of each prompt, in prompt order; `max_new_tokens` and `max_words` are one
    value for all prompts or one per prompt."""
    def each(v: Any) -> list:
        return list(v) if isinstance(v, Sequence) else [v] * len(prompts)

    reqs = [Row(tokenizer(p)["input_ids"], b, None, w)
            for p, b, w in zip(prompts, each(max_new_tokens), each(max_words), strict=True)]
    return decode(model, tokenizer, reqs, temperature=0.0, batch_size=batch_size)
