"""Probing a model on grammars: log-likelihood scoring, generation, and the study's metrics (STUDY.md)."""
