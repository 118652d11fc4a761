"""Batched, seeded generation of grammar strings: temperature sampling and greedy decoding from prefixes.

One `generate` call per batch with the KV cache (STUDY.md: 50× faster than one string at a time). Prompts of
different token lengths share a batch, left-padded with an attention mask (a BPE tokenizer gives nearly every
greedy prompt its own length; grouping by length made one batch per prompt); a test checks that a batched row
equals the same prompt generated alone. A row stops at EOS or at a newline token, or once it holds more than
`max_words` words (a string that runs on is cut there, instead of holding its whole batch to the token budget);
the text is cut at the first newline and its whitespace normalised, and `ended` says whether the row stopped by
itself. Sampling is true temperature sampling: `top_k=0`, `top_p=1.0` (transformers' default top_k is 50).
"""

from __future__ import annotations

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


def _word_limit(tokenizer: Any, starts: list[int], max_words: int):
    """A StoppingCriteria that stops each row once its continuation holds more than `max_words` words."""
    import torch
    from transformers import StoppingCriteria

    class WordLimit(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            rows = input_ids.tolist()
            done = [len(tokenizer.decode(r[s:], skip_special_tokens=True).split()) > max_words
                    for r, s in zip(rows, starts, strict=True)]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return WordLimit()


def _generate(model: Any, tokenizer: Any, prompts: list[list[int]], *, max_new_tokens: int, temperature: float,
              max_words: int | None = None) -> list[tuple[str, bool]]:
    """(continuation, ended) of prompts of any token lengths in one `generate` call (temperature 0 = greedy)."""
    import torch

    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    pad = pad_id(tokenizer)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], dtype=torch.long, device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long, device=device)
    sampling = temperature > 0
    kwargs: dict[str, Any] = {"do_sample": sampling}
    if sampling:
        kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
    if max_words is not None:
        from transformers import StoppingCriteriaList

        kwargs["stopping_criteria"] = StoppingCriteriaList([_word_limit(tokenizer, [width] * len(prompts), max_words)])
    stops = stop_token_ids(tokenizer)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, eos_token_id=stops,
                             pad_token_id=pad, repetition_penalty=1.0, **kwargs)
    rows = out.tolist()
    return [(_continuation(tokenizer, p, row[width - len(p):]), any(t in stops for t in row[width:]))
            for p, row in zip(prompts, rows, strict=True)]


def sample(model: Any, tokenizer: Any, prompt: str, n: int, *, seed: int, max_new_tokens: int,
           temperature: float = 1.0, batch_size: int = 64, max_words: int | None = None) -> list[tuple[str, bool]]:
    """`n` (continuation, ended) of `prompt`, sampled at `temperature` (0 = greedy); the same seed gives the same
    strings. The global torch RNG is left as it was."""
    import torch

    prompt_ids = tokenizer(prompt)["input_ids"]
    device = next(model.parameters()).device
    out: list[tuple[str, bool]] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        while len(out) < n:
            out += _generate(model, tokenizer, [prompt_ids] * min(batch_size, n - len(out)),
                             max_new_tokens=max_new_tokens, temperature=temperature, max_words=max_words)
    return out


def greedy(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int = 64,
           max_words: int | None = None) -> list[tuple[str, bool]]:
    """The greedy (continuation, ended) of each prompt, in prompt order; prompts of similar token length are
    batched together (longest first), left-padded."""
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    out: list[tuple[str, bool] | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        chunk = order[start: start + batch_size]
        rows = _generate(model, tokenizer, [encoded[i] for i in chunk], max_new_tokens=max_new_tokens,
                         temperature=0.0, max_words=max_words)
        for i, r in zip(chunk, rows, strict=True):
            out[i] = r
    return out  # type: ignore[return-value]
