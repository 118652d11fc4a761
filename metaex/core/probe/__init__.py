"""Probing a model on grammars: log-likelihood scoring, generation, and the study's metrics (STUDY.md).

Importing this package imports neither torch nor transformers; the functions import them when called.
"""

from metaex.core.probe.run import Target, resolve_target, run_probe
from metaex.core.probe.tasks import ProbeOptions

__all__ = ["ProbeOptions", "Target", "resolve_target", "run_probe"]
