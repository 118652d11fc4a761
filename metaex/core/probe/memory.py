"""How many rows a decoding batch holds: `batch_size` on the CPU; on a CUDA GPU as many as its free memory holds.

A decoding row costs its KV cache (two vectors per layer, key-value head and token of prompt + budget), the
full-vocabulary tensors of one sampling step (the float32 logits, their softmax, the float64 cumulative sum that
`generate._pick` searches, and the model's own logits) and the activations of reading its prompt. `row_bytes` is
that count from the model's config; a batch takes `HEADROOM` of the free memory, and a batch that still runs out
of memory is halved and retried (the rule lm-evaluation-harness follows), which gives the same rows: each row
draws from its own generator, so a sample does not depend on the batch it is in.
"""

from __future__ import annotations

from typing import Any

HEADROOM = 0.7        # of the free GPU memory, for one decoding batch
MAX_ROWS = 4096       # beyond this, larger batches barely speed decoding and a batch's Python loop dominates
LOGIT_BYTES = 4 + 4 + 8 + 4   # per vocabulary entry and row: logits, softmax, float64 cumulative sum, model logits


def _text_config(config: Any) -> Any:
    return getattr(config, "text_config", None) or config


def row_bytes(config: Any, width: int, element_size: int) -> int:
    """Bytes one decoding row of `width` tokens (prompt + budget) needs, for weights of `element_size` bytes."""
    c = _text_config(config)
    heads = c.num_attention_heads
    kv_heads = getattr(c, "num_key_value_heads", None) or heads
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // heads
    intermediate = getattr(c, "intermediate_size", None) or 4 * c.hidden_size
    cache = 2 * c.num_hidden_layers * kv_heads * head_dim * width * element_size
    prefill = width * (4 * c.hidden_size + 3 * intermediate) * element_size   # one layer's activations at a time
    return cache + prefill + c.vocab_size * LOGIT_BYTES


def rows_that_fit(free_bytes: int, per_row: int, floor: int, cap: int = MAX_ROWS) -> int:
    """The rows of one batch: what `HEADROOM` of `free_bytes` holds, at least `floor` and at most `cap`."""
    return max(1, floor, min(cap, int(free_bytes * HEADROOM) // max(1, per_row)))


def free_cuda_bytes(device: Any) -> int:
    """Free memory on a CUDA device: the driver's free bytes plus what torch holds cached but unused."""
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def decode_rows(model: Any, widths: list[int], batch_size: int) -> int:
    """Rows per decoding batch for rows of these widths: `batch_size` off CUDA; on CUDA what free memory holds
    (at least `batch_size`)."""
    param = next(model.parameters())
    if param.device.type != "cuda" or not widths:
        return batch_size
    import torch

    dtype = getattr(model, "dtype", param.dtype)
    size = torch.empty((), dtype=dtype if dtype.is_floating_point else torch.bfloat16).element_size()
    return rows_that_fit(free_cuda_bytes(param.device), row_bytes(model.config, max(widths), size), batch_size,
                         cap=max(batch_size, min(MAX_ROWS, len(widths))))
