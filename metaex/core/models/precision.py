"""Whether this CPU computes bfloat16 natively, which decides whether CPU bf16 autocast is worth using.

With avx512_bf16 (or AMX) a SmolLM2 LoRA step runs ~1.6× faster under bf16 autocast than in float32. Without it
torch emulates bf16 matmuls: on an AVX2-only EPYC (2026-12-04) `metaex finetune --bf16` trained SmolLM2 at
4 tokens/s against 45 in float32. A study config's `bf16 = "auto"` resolves through `cpu_bf16()` when it is read,
and the resolved value is what the study folder records, so a folder is never resumed under the other precision.
Read from /proc/cpuinfo (no torch import: the config is read by commands that load no model); elsewhere torch's
own probe.
"""

from __future__ import annotations

from pathlib import Path

AUTO = "auto"
FLAGS = ("avx512_bf16", "amx_bf16")   # the CPU flags of native bfloat16 arithmetic (Linux /proc/cpuinfo names)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The CPU's feature flags as Linux lists them; None where there is no /proc/cpuinfo."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[-1].split()}


def cpu_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True when the CPU has native bfloat16 arithmetic (a flag of `FLAGS`)."""
    flags = cpu_flags(cpuinfo)
    if flags is None:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported())
    return any(f in flags for f in FLAGS)


def slow_bf16_warning(device: str | None = None) -> str | None:
    """A one-line warning when bf16 autocast will run on a CPU without native bfloat16; None otherwise.

    `device` is the one the command was given: "cpu" warns even where a GPU is present, None means the command's
    default (CUDA when available, then the CPU's arithmetic does not matter)."""
    if device == "cuda" or cpu_bf16():
        return None
    if device is None:
        import torch

        if torch.cuda.is_available():
            return None
    return ("warning: this CPU has no native bfloat16 (" + " / ".join(FLAGS) + "): --bf16 autocast runs several "
            "times slower than float32 here (SmolLM2 LoRA: 4 against 45 tokens/s on an AVX2 EPYC)")
