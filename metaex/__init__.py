"""metaex: do explanations of a grammar, as separate fine-tuning documents, help a model with its strings?"""

__version__ = "0.1.0"
