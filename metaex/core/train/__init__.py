"""Training: `train()` runs one fine-tuning run into a run folder (HF Trainer, packed documents without
cross-document attention, in file order); `merge()` folds an adapter into its base. Importing this package
imports neither torch nor transformers."""

from metaex.core.train.merge import merge
from metaex.core.train.options import METHODS, TrainOptions
from metaex.core.train.run import RunResult, train

__all__ = ["METHODS", "RunResult", "TrainOptions", "merge", "train"]
