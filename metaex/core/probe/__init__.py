"""Probing a model on grammars: log-likelihood scoring, generation, and the study's metrics (STUDY.md).

Importing this package imports neither torch nor transformers, nor numpy: its names load on first use (the CLI
reads `metaex.core.probe.options` at start-up without paying for the rest).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProbeOptions", "Target", "resolve_target", "run_probe"]


def __getattr__(name: str) -> Any:
    if name == "ProbeOptions":
        from metaex.core.probe.options import ProbeOptions

        return ProbeOptions
    if name in ("Target", "resolve_target", "run_probe"):
        from metaex.core.probe import run

        return getattr(run, name)
    raise AttributeError(name)
