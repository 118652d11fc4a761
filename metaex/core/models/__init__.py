"""Models: tiny from-scratch Llamas with word-level tokenizers (`tiny`), and loading of models, adapters and
run folders (`load`). Importing this package imports neither torch nor transformers."""

from metaex.core.models.load import check_coverage, load_model, resolve_run
from metaex.core.models.tiny import build_tiny, collect_vocab

__all__ = ["build_tiny", "check_coverage", "collect_vocab", "load_model", "resolve_run"]
