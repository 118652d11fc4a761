"""The GPU memory a fine-tuning step needs, estimated from the model's config (no weights read, no torch).

`--grad-checkpointing auto` turns checkpointing on where the estimate without it would not fit the card, and
`metaex study plan --estimate` prints it per arm. These are estimates: `benchmarks/gpu_qlora.py` measures the
peak beside them (torch's `max_memory_allocated`, so the CUDA context's ~0.5 GiB comes on top of both).

- Weights: QLoRA's linear layers in NF4 with double quantisation (4 bits, plus an 8-bit scale per 64 weights and
  a float32 one per 256 scales), embeddings, norms and output layer in bfloat16 (float32 where the card has no
  bfloat16); LoRA's base in bfloat16; full fine-tuning in float32 with gradients and two Adam moments.
- Adapters: rank r on every linear layer of every block (`all-linear`), float32, with gradients and Adam moments.
- Activations (Korthikanti et al. 2022, "Reducing activation recomputation", with a fused attention that keeps
  no score matrix): about 34 bytes per token, layer and hidden unit in bfloat16 kept for the backward pass; with
  gradient checkpointing, each block's input (2 bytes) plus one block's full activations.
- Output layer: the logits of every token in bfloat16, their float32 copy, the log-softmax and its gradient;
  with a fused linear cross-entropy (Liger-Kernel) none of those is whole at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 2 ** 30
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)   # per weight: 4 bits, an 8-bit scale per 64, a float32 scale per 256 scales
ACT_BYTES = 34                               # per token, layer and hidden unit, kept for the backward pass (bf16)
CKPT_BYTES = 2                               # per token, layer and hidden unit at each checkpointed block's input
LOGIT_BYTES = 2 + 4 + 4 + 4                  # per token and vocabulary entry: logits, float32 copy, log-softmax, grad
ADAM_BYTES = 4 + 4 + 8                       # per trained float32 parameter: the weight, its gradient, two moments
FIT = 0.9                                    # of a card's memory that a step may plan to use


@dataclass(frozen=True)
class Shape:
    """What the memory of a decoder-only transformer depends on, read from its config."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @classmethod
    def of(cls, config: Any) -> Shape:
        """From a transformers config object or its dict (config.json); a multimodal config's text part."""
        c = config if isinstance(config, dict) else config.to_dict()
        c = c.get("text_config") or c
        heads = c["num_attention_heads"]
        return cls(layers=c["num_hidden_layers"], hidden=c["hidden_size"],
                   intermediate=c.get("intermediate_size") or 4 * c["hidden_size"], heads=heads,
                   kv_heads=c.get("num_key_value_heads") or heads,
                   head_dim=c.get("head_dim") or c["hidden_size"] // heads, vocab=c["vocab_size"],
                   tied=bool(c.get("tie_word_embeddings", True)))

    def _linears(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer of one block: q, k, v, o, gate, up, down."""
        h, q, kv, i = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]

    @property
    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self._linears())

    @property
    def other_params(self) -> int:
        """Embeddings, the output layer when untied, and the norms."""
        return self.vocab * self.hidden * (1 if self.tied else 2) + (2 * self.layers + 1) * self.hidden

    @property
    def params(self) -> int:
        return self.linear_params + self.other_params

    def lora_params(self, r: int) -> int:
        return self.layers * sum(r * (a + b) for a, b in self._linears())


def step_peak_bytes(shape: Shape, method: str, tokens: int, *, checkpointing: bool, fused_ce: bool,
                    lora_r: int = 16, bf16: bool = True) -> int:
    """Estimated peak bytes of one training step of `tokens` tokens (one forward and backward)."""
    half = 2 if bf16 else 4
    if method == "qlora":
        weights = shape.linear_params * NF4_BYTES + shape.other_params * half
        weights += 2 * shape.intermediate * shape.hidden * half     # a dequantised weight and its gradient's input
    elif method == "lora":
        weights = shape.params * half
    else:
        weights = shape.params * ADAM_BYTES
    adapters = shape.lora_params(lora_r) * ADAM_BYTES if method != "full" else 0
    per_layer = tokens * shape.hidden
    acts = per_layer * shape.layers * (CKPT_BYTES if checkpointing else ACT_BYTES)
    acts += per_layer * ACT_BYTES if checkpointing else 0
    logits = tokens * shape.hidden * 4 if fused_ce else tokens * shape.vocab * LOGIT_BYTES
    return int(weights + adapters + acts + logits)


def needs_checkpointing(shape: Shape, method: str, tokens: int, card_bytes: int, *, fused_ce: bool,
                        lora_r: int = 16, bf16: bool = True) -> bool:
    """Whether a step of `tokens` tokens would not fit `FIT` of the card without gradient checkpointing."""
    peak = step_peak_bytes(shape, method, tokens, checkpointing=False, fused_ce=fused_ce, lora_r=lora_r, bf16=bf16)
    return peak > FIT * card_bytes


def largest_step_tokens(lengths: list[int], docs_per_step: int) -> int:
    """The most tokens one micro-batch of `docs_per_step` consecutive documents holds (the file's order)."""
    return max((sum(lengths[i: i + docs_per_step]) for i in range(0, len(lengths), docs_per_step)), default=0)
