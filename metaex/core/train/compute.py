"""How a run computes on the device at hand: precision, gradient checkpointing, fused cross-entropy.

Resolved once per run from the options and the device, and recorded in the run's config.json (`compute`); none of
it is part of the run's identity (a run resumed on another card may resolve otherwise, as its kernels differ).

- bf16: on a CUDA GPU with bfloat16 (Ampere and later), or on the CPU with `--bf16`: the weights that are not 4-bit
  (embeddings, norms, output layer; LoRA's whole base) stay in bfloat16 and steps run under bfloat16 autocast. QLoRA
  then skips peft's k-bit preparation, which casts every such weight to float32 (Qwen2.5-7B's embeddings and output
  layer alone: 4.4 GB instead of 2.2); the adapters stay float32 (peft), as the optimizer needs.
- Gradient checkpointing: `on`, `off`, or `auto`: on a CUDA GPU where the largest step of the file would not fit
  the card without it (`memory.needs_checkpointing`); never by itself on the CPU.
- Fused linear cross-entropy (Liger-Kernel, `pip install liger-kernel`): the output layer and the loss computed in
  chunks, so a step never holds the logits of all its tokens (152 k columns for Qwen, 262 k for Gemma). `auto`: on a
  CUDA GPU where liger-kernel is installed and knows the model type, for vocabularies of `LARGE_VOCAB` or more.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any

from metaex.core.errors import InputError
from metaex.core.train import memory

LARGE_VOCAB = 100_000
# Liger's kernels that metaex applies: the fused linear cross-entropy alone (its RMSNorm, RoPE and SwiGLU kernels
# would patch transformers' modules for the whole process, other models included)
LIGER_CONFIG = {"fused_linear_cross_entropy": True, "cross_entropy": False, "rope": False, "rms_norm": False,
                "swiglu": False}


@dataclass(frozen=True)
class Compute:
    bf16: bool
    checkpointing: bool
    fused_ce: bool

    def record(self) -> dict:
        return asdict(self)


def liger_types() -> frozenset[str]:
    """Model types Liger-Kernel can patch, empty where it is not installed (nothing imported then)."""
    if importlib.util.find_spec("liger_kernel") is None:
        return frozenset()
    from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN

    return frozenset(MODEL_TYPE_TO_APPLY_LIGER_FN)


def resolve(opts: Any, config: Any, *, cuda: bool, cuda_bf16: bool, card_bytes: int | None, step_tokens: int,
            liger: frozenset[str]) -> Compute:
    """The Compute of a run with `opts` (TrainOptions) on a model with this config: `cuda_bf16` whether the GPU
    computes bfloat16, `card_bytes` its memory, `step_tokens` the largest micro-batch of the file, `liger` the model
    types liger-kernel patches here (`liger_types()`)."""
    bf16 = cuda_bf16 if cuda else bool(opts.bf16)
    shape = memory.Shape.of(config)
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    fused_mode = opts.fused_ce
    if fused_mode == "on" and not (cuda and model_type in liger):
        raise InputError("--fused-ce on needs a CUDA GPU and liger-kernel installed (pip install liger-kernel) "
                         f"that knows the model type {model_type!r}")
    fused = fused_mode == "on" or (fused_mode == "auto" and cuda and model_type in liger
                                   and shape.vocab >= LARGE_VOCAB)
    ckpt_mode = opts.grad_checkpointing
    checkpointing = ckpt_mode == "on" or (
        ckpt_mode == "auto" and cuda and card_bytes is not None
        and memory.needs_checkpointing(shape, opts.method, step_tokens, card_bytes, fused_ce=fused,
                                       lora_r=opts.lora_r, bf16=bf16))
    return Compute(bf16=bf16, checkpointing=checkpointing, fused_ce=fused)
