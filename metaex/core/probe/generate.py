"""Batched, seeded generation of grammar strings: temperature sampling and greedy decoding from prefixes.

One `generate` call per batch with the KV cache (STUDY.md: 50× faster than one string at a time). Prompts
in one batch always have the same token length (sampling repeats one prompt; greedy prompts are grouped by
length), so no padding is needed and a batched row equals the same prompt generated alone. Generation stops at
EOS or at a newline token; the text is cut at the first newline and its whitespace normalised.
Sampling is true temperature sampling: `top_k=0`, `top_p=1.0` (transformers' default top_k is 50).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from metaex.core.probe.scoring import pad_id


def stop_token_ids(tokenizer: Any) -> list[int]:
    """EOS, plus the newline token where the tokenizer has a single token for it."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    if len(newline) == 1 and newline[0] != tokenizer.unk_token_id and newline[0] not in ids:
        ids.append(newline[0])
    return ids


def _clean(text: str) -> str:
    return " ".join(text.split("\n", 1)[0].split())


def _continuation(tokenizer: Any, prompt_ids: list[int], row: list[int]) -> str:
    """The generated text after the prompt: decode prompt+generation and drop the decoded prompt, so word
    pieces merging across the seam come out right."""
    head = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    full = tokenizer.decode(row, skip_special_tokens=True)
    if not full.startswith(head):
        full, head = tokenizer.decode(row[len(prompt_ids):], skip_special_tokens=True), ""
    return _clean(full[len(head):])


def _generate(model: Any, tokenizer: Any, prompts: list[list[int]], *, max_new_tokens: int,
              temperature: float) -> list[str]:
    """Continuations of prompts of one token length in one `generate` call (temperature 0 = greedy)."""
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor(prompts, dtype=torch.long, device=device)
    sampling = temperature > 0
    kwargs: dict[str, Any] = {"do_sample": sampling}
    if sampling:
        kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=max_new_tokens, eos_token_id=stop_token_ids(tokenizer), pad_token_id=pad_id(tokenizer),
                             repetition_penalty=1.0, **kwargs)
    return [_continuation(tokenizer, p, row) for p, row in zip(prompts, out.tolist(), strict=True)]


def sample(model: Any, tokenizer: Any, prompt: str, n: int, *, seed: int, max_new_tokens: int,
           temperature: float = 1.0, batch_size: int = 64) -> list[str]:
    """`n` continuations of `prompt`, sampled at `temperature` (0 = greedy); the same seed gives the same
    strings. The global torch RNG is left as it was."""
    import torch

    prompt_ids = tokenizer(prompt)["input_ids"]
    device = next(model.parameters()).device
    out: list[str] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        while len(out) < n:
            out += _generate(model, tokenizer, [prompt_ids] * min(batch_size, n - len(out)),
                             max_new_tokens=max_new_tokens, temperature=temperature)
    return out


def greedy(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int,
           batch_size: int = 64) -> list[str]:
    """The greedy continuation of each prompt, in prompt order (prompts batched by token length)."""
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    by_len: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(encoded):
        by_len[len(ids)].append(i)
    out: list[str | None] = [None] * len(prompts)
    for idx in by_len.values():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start: start + batch_size]
            texts = _generate(model, tokenizer, [encoded[i] for i in chunk], max_new_tokens=max_new_tokens,
                              temperature=0.0)
            for i, t in zip(chunk, texts, strict=True):
                out[i] = t
    return out  # type: ignore[return-value]
