"""Models: tiny from-scratch Llamas with word-level tokenizers (`tiny`); from a MODEL argument to a loaded model
(`load`); the run-folder contract (`runs`); provenance (`provenance`); vocabulary checks (`vocab`); the offline,
quiet process environment (`environment`). Importing this package imports neither torch nor transformers."""

from metaex.core.models.load import load_model
from metaex.core.models.runs import resolve_run
from metaex.core.models.tiny import build_tiny, collect_vocab
from metaex.core.models.vocab import check_coverage

__all__ = ["build_tiny", "check_coverage", "collect_vocab", "load_model", "resolve_run"]
