"""Log-likelihood of a continuation given a context, batched (the lm-evaluation-harness convention).

A request is encoded whole (context + continuation) and then split at the context's token count, so the
tokens at the seam are the ones the model saw in training; trailing spaces of the context move to the
continuation. Requests are scored longest-first in right-padded batches without an attention mask: in a causal
model no real token attends to the padding after it, and position ids count from 0 in every row as for an
unpadded sequence, so the scores are those of each request alone, and attention takes its fast causal path
instead of materialising a batch × width × width mask. A batch ends where a request is under half its longest
(few long rows, such as explanations, do not pad many short ones to their width); on out-of-memory the batch
is halved and scoring goes on. `naive_loglikelihoods` scores one request at a time without padding: the reference that
tests and the benchmark compare against.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

Request = tuple[list[int], list[int]]  # (context token ids, continuation token ids)


def encode(tokenizer: Any, context: str, continuation: str, *, eos: bool = False) -> Request:
    """Token ids of (context, continuation), encoded whole then split; `eos` appends the end-of-text token.

    An empty context becomes the tokenizer's BOS token, or EOS where it has none (the boundary a packed
    training document starts after), so the first continuation token is scored too.
    """
    return encode_many(tokenizer, [(context, continuation)], eos=eos)[0]


def encode_many(tokenizer: Any, pairs: Sequence[tuple[str, str]], *, eos: bool = False) -> list[Request]:
    """`encode` for many (context, continuation) pairs, in two batched tokenizer calls."""
    moved = []
    for context, continuation in pairs:
        spaces = len(context) - len(context.rstrip())
        moved.append((context[:-spaces], context[-spaces:] + continuation) if spaces else (context, continuation))
    wholes = tokenizer([c + x for c, x in moved])["input_ids"] if moved else []
    contexts = sorted({c for c, _ in moved if c})
    ctx_ids = dict(zip(contexts, tokenizer(contexts)["input_ids"] if contexts else [], strict=True))
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    out = []
    for (context, continuation), whole in zip(moved, wholes, strict=True):
        ctx = ctx_ids.get(context, [])
        if not ctx:
            ctx = [start]
            whole = [start, *(whole[1:] if whole[:1] == [start] else whole)]
        cont = list(whole[len(ctx):])
        if eos:
            cont.append(tokenizer.eos_token_id)
        if not cont:
            raise ValueError(f"continuation {continuation!r} encodes to no tokens")
        out.append((list(ctx), cont))
    return out


def is_oom(err: BaseException) -> bool:
    import torch

    text = str(err)
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


def halved(err: RuntimeError, rows: int) -> int:
    """The rows to retry a batch of `rows` with after `err`: half, when it is an out-of-memory error and more than
    one row was asked (the cache emptied first); else `err` is raised again."""
    import torch

    if not is_oom(err) or rows == 1:
        raise err
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return max(1, rows // 2)


def _max_len(model: Any) -> int | None:
    return getattr(model.config, "max_position_embeddings", None)


def _window(req: Request, limit: int | None) -> list[int]:
    """Context + continuation ids, cut from the left so that the model's input (all but the last) fits."""
    ids = req[0] + req[1]
    return ids[-(limit + 1):] if limit and len(ids) > limit + 1 else ids


# model -> whether its head applied to the last hidden states reproduces its logits. Weak keys: the study probes
# many models in one process, and an id() could be reused by a later model after the first is freed.
_FAST_HEAD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _selected_logits(model: Any, inputs: Any, rows: Any, cols: Any) -> Any:
    """Logits (float32) at the (row, position) pairs only.

    The model's final hidden states go through its output layer at the scored positions alone, instead of
    materialising batch × width × vocab logits (the bulk of a scoring pass for long, mostly-context rows).
    Whether that equals the model's own logits (no logit soft-capping or scaling after the head) is checked
    once per model on a short input; otherwise the full logits are indexed.
    """
    import torch

    key = model
    if key not in _FAST_HEAD:
        probe = inputs[:1, : min(8, inputs.shape[1])]
        full = model(input_ids=probe, use_cache=False).logits.float()
        fast = model(input_ids=probe, use_cache=False, output_hidden_states=True, logits_to_keep=1)
        head = model.get_output_embeddings()
        _FAST_HEAD[key] = bool(head is not None and torch.allclose(
            head(fast.hidden_states[-1]).float(), full, atol=1e-4, rtol=1e-4))
    if _FAST_HEAD[key]:
        out = model(input_ids=inputs, use_cache=False, output_hidden_states=True, logits_to_keep=1)
        return model.get_output_embeddings()(out.hidden_states[-1][rows, cols]).float()
    return model(input_ids=inputs, use_cache=False).logits[rows, cols].float()


def _score_batch(model: Any, batch: Sequence[Request], pad_id: int,
                 alternatives: Sequence[Sequence[int]] | None = None) -> list[np.ndarray]:
    """Per-token log-probs of each continuation; with `alternatives`, instead the log-probs of those token ids
    at each request's first continuation position (one forward pass answers several one-token choices)."""
    import torch

    seqs = [_window(r, _max_len(model)) for r in batch]
    width = max(len(x) for x in seqs) - 1
    spans = [(len(x) - 1 - min(len(cont), len(x) - 1), len(x) - 1) for x, (_, cont) in zip(seqs, batch, strict=True)]
    if alternatives is not None:
        spans = [(a, a + 1) for a, _ in spans]
    rows = [i for i, (a, b) in enumerate(spans) for _ in range(a, b)]
    cols = [j for a, b in spans for j in range(a, b)]
    device = next(model.parameters()).device
    with torch.no_grad():
        inputs = torch.tensor([x[:-1] + [pad_id] * (width + 1 - len(x)) for x in seqs], device=device)
        logits = _selected_logits(model, inputs, torch.tensor(rows, device=device),
                                  torch.tensor(cols, device=device))
        logz = logits.logsumexp(-1, keepdim=True)
        if alternatives is None:
            target = torch.tensor([seqs[i][j + 1] for i, j in zip(rows, cols, strict=True)], device=device)
            lp = (logits.gather(-1, target[:, None]) - logz)[:, 0].cpu().numpy().astype(np.float64)
        else:
            alt = torch.tensor([list(a) for a in alternatives], device=device)
            lp = (logits.gather(-1, alt) - logz).cpu().numpy().astype(np.float64)
    out, pos = [], 0
    for a, b in spans:
        out.append(lp[pos: pos + b - a] if alternatives is None else lp[pos])
        pos += b - a
    return out


def loglikelihoods(model: Any, requests: Sequence[Request], *, batch_size: int = 64, pad_id: int = 0,
                   alternatives: Sequence[Sequence[int]] | None = None,
                   max_tokens: int = 16384) -> list[np.ndarray]:
    """Per-token log-probs of each request's continuation, in request order (sum them for log p).

    With `alternatives` (one list of token ids per request), the log-probs of those tokens at the request's
    first continuation position instead: e.g. Yes and No after a question, from one forward pass.
    A batch holds at most `batch_size` rows and `max_tokens` padded tokens (long rows go in smaller batches).
    """

    out: list[np.ndarray | None] = [None] * len(requests)
    rest = list(range(len(requests)))
    if alternatives is None:
        shared = _shared_contexts(model, requests)
        for idx in shared.values():
            for start in range(0, len(idx), max(1, batch_size)):
                chunk = idx[start: start + max(1, batch_size)]
                for i, sc in zip(chunk, _score_after_context(model, [requests[i] for i in chunk], pad_id),
                                 strict=True):
                    out[i] = sc
        done = {i for idx in shared.values() for i in idx}
        rest = [i for i in rest if i not in done]
    lengths = [len(r[0]) + len(r[1]) for r in requests]
    order = sorted(rest, key=lambda i: -lengths[i])
    pos, size = 0, max(1, batch_size)
    while pos < len(order):
        longest = lengths[order[pos]]
        rows = max(1, min(size, max_tokens // max(1, longest)))
        idx = [i for i in order[pos: pos + rows] if 2 * lengths[i] >= longest]
        try:
            scores = _score_batch(model, [requests[i] for i in idx], pad_id,
                                  None if alternatives is None else [alternatives[i] for i in idx])
        except RuntimeError as err:     # torch.OutOfMemoryError is one
            size = halved(err, len(idx))
            continue
        for i, sc in zip(idx, scores, strict=True):
            out[i] = sc
        pos += len(idx)
    return out  # type: ignore[return-value]


SHARED_CONTEXT = 32    # a context of at least this many tokens, shared by several requests, is read once


def _shared_contexts(model: Any, requests: Sequence[Request]) -> dict[tuple[int, ...], list[int]]:
    """context -> the requests after it, for long contexts that several requests share (and that fit)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    limit = _max_len(model)
    for i, (ctx, cont) in enumerate(requests):
        if len(ctx) >= SHARED_CONTEXT and (not limit or len(ctx) + len(cont) <= limit):
            groups.setdefault(tuple(ctx), []).append(i)
    return {c: idx for c, idx in groups.items() if len(idx) > 1}


def _score_after_context(model: Any, batch: Sequence[Request], pad_id: int) -> list[np.ndarray]:
    """Per-token log-probs of continuations after one shared context: the context is read once, its KV cache
    copied to every row, and the continuations (right-padded: no real token attends to the padding after it)
    read on top of it."""
    import torch

    ctx = batch[0][0]
    device = next(model.parameters()).device
    width = max(len(cont) for _, cont in batch)
    with torch.no_grad():
        first = model(input_ids=torch.tensor([ctx], device=device), use_cache=True, logits_to_keep=1)
        cache = first.cache
        cache.batch_select_indices(torch.zeros(len(batch), dtype=torch.long, device=device))
        inputs = torch.tensor([cont[:-1] + [pad_id] * (width - len(cont)) for _, cont in batch], device=device)
        logits = model(input_ids=inputs, cache=cache, use_cache=True).logits.float() if width > 1 else None
        lead = torch.log_softmax(first.logits[0, -1].float(), -1)
        out = []
        for k, (_, cont) in enumerate(batch):
            lps = [float(lead[cont[0]])]
            if len(cont) > 1:
                row = torch.log_softmax(logits[k, : len(cont) - 1], -1)
                lps += row.gather(-1, torch.tensor(cont[1:], device=device)[:, None])[:, 0].tolist()
            out.append(np.array(lps, dtype=np.float64))
    return out


def naive_loglikelihoods(model: Any, requests: Sequence[Request]) -> list[np.ndarray]:
    """The same numbers, one request at a time, from the model's full logits (no padding, no mask, no head
    shortcut): the slow, independent reference that tests and the benchmark compare against."""
    import torch

    out = []
    with torch.no_grad():
        for ctx, cont in requests:
            ids = _window((ctx, cont), _max_len(model))
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids[:-1]]), use_cache=False).logits[0].float(), -1)
            n = min(len(cont), len(ids) - 1)
            target = torch.tensor(ids[-n:])
            out.append(logp[len(ids) - 1 - n:].gather(-1, target[:, None])[:, 0].numpy().astype(np.float64))
    return out


def pad_id(tokenizer: Any) -> int:
    """A token id to pad with (masked out, so any id works; the tokenizer's pad or EOS when it has one)."""
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return 0
