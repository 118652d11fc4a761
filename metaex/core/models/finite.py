"""Non-finite weights (NaN or ±inf): what a diverged training run leaves. Such a model's scores, samples and
losses are meaningless, so training stops on them (`core/train/hf.py`) and a probe refuses them."""

from __future__ import annotations

from typing import Any

from metaex.core.errors import InputError


def first_nonfinite(model: Any) -> str | None:
    """The name of the first floating-point parameter holding NaN or ±inf, or None when all are finite."""
    import torch

    for name, p in model.named_parameters():
        if p.is_floating_point() and not bool(torch.isfinite(p).all()):
            return name
    return None


def require_finite(model: Any, where: str) -> None:
    """InputError naming `where` when the model holds a non-finite weight."""
    bad = first_nonfinite(model)
    if bad is not None:
        raise InputError(f"the model's weights hold NaN or infinite values ({bad}): a diverged training run? "
                         "its probe would report meaningless numbers", where)
