"""Log-likelihood of a continuation given a context, batched (the lm-evaluation-harness convention).

A request is encoded whole (context + continuation) and then split at the context's token count, so the
tokens at the seam are the ones the model saw in training; trailing spaces of the context move to the
continuation. Requests are scored longest-first in right-padded batches with an attention mask (position
ids then count from 0 in every row, as for an unpadded sequence); on out-of-memory the batch is halved and
scoring goes on. `naive_loglikelihoods` scores one request at a time without padding: the reference that
tests and the benchmark compare against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Request = tuple[list[int], list[int]]  # (context token ids, continuation token ids)


def encode(tokenizer: Any, context: str, continuation: str, *, eos: bool = False) -> Request:
    """Token ids of (context, continuation), encoded whole then split; `eos` appends the end-of-text token.

    An empty context becomes the tokenizer's BOS token, or EOS where it has none (the boundary a packed
    training document starts after), so the first continuation token is scored too.
    """
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = tokenizer(context + continuation)["input_ids"]
    ctx = tokenizer(context)["input_ids"] if context else []
    if not ctx:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ctx = [start]
        whole = [start, *(whole[1:] if whole[:1] == [start] else whole)]
    cont = list(whole[len(ctx):])
    if eos:
        cont.append(tokenizer.eos_token_id)
    if not cont:
        raise ValueError(f"continuation {continuation!r} encodes to no tokens")
    return list(ctx), cont


def _is_oom(err: BaseException) -> bool:
    import torch

    text = str(err)
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


def _max_len(model: Any) -> int | None:
    return getattr(model.config, "max_position_embeddings", None)


def _window(req: Request, limit: int | None) -> list[int]:
    """Context + continuation ids, cut from the left so that the model's input (all but the last) fits."""
    ids = req[0] + req[1]
    return ids[-(limit + 1):] if limit and len(ids) > limit + 1 else ids


def _score_batch(model: Any, batch: Sequence[Request], pad_id: int) -> list[np.ndarray]:
    import torch

    seqs = [_window(r, _max_len(model)) for r in batch]
    width = max(len(x) for x in seqs) - 1
    inputs = [x[:-1] + [pad_id] * (width + 1 - len(x)) for x in seqs]
    targets = [x[1:] + [0] * (width + 1 - len(x)) for x in seqs]
    mask = [[1] * (len(x) - 1) + [0] * (width + 1 - len(x)) for x in seqs]
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(inputs, device=device), use_cache=False,
                       attention_mask=torch.tensor(mask, device=device)).logits.float()
        target = torch.tensor(targets, device=device)
        lp = (logits.gather(-1, target[..., None])[..., 0] - logits.logsumexp(-1)).cpu().numpy()
    out = []
    for i, (x, (_, cont)) in enumerate(zip(seqs, batch, strict=True)):
        n = min(len(cont), len(x) - 1)
        out.append(lp[i, len(x) - 1 - n: len(x) - 1].astype(np.float64))
    return out


def loglikelihoods(model: Any, requests: Sequence[Request], *, batch_size: int = 64,
                   pad_id: int = 0) -> list[np.ndarray]:
    """Per-token log-probs of each request's continuation, in request order (sum them for log p)."""
    import torch

    order = sorted(range(len(requests)), key=lambda i: -(len(requests[i][0]) + len(requests[i][1])))
    out: list[np.ndarray | None] = [None] * len(requests)
    pos, size = 0, max(1, batch_size)
    while pos < len(order):
        idx = order[pos: pos + size]
        try:
            scores = _score_batch(model, [requests[i] for i in idx], pad_id)
        except (RuntimeError, torch.OutOfMemoryError) as err:
            if not _is_oom(err) or size == 1:
                raise
            size //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        for i, s in zip(idx, scores, strict=True):
            out[i] = s
        pos += len(idx)
    return out  # type: ignore[return-value]


def naive_loglikelihoods(model: Any, requests: Sequence[Request]) -> list[np.ndarray]:
    """The same numbers, one request at a time, no padding, no mask: the slow reference."""
    return [_score_batch(model, [r], 0)[0] for r in requests]


def pad_id(tokenizer: Any) -> int:
    """A token id to pad with (masked out, so any id works; the tokenizer's pad or EOS when it has one)."""
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return 0
