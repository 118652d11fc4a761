"""Explanations of a grammar in three styles with many paraphrases (`run`), rendered (`render`, `templates`),
checked by parsing back (`parse`) against the facts derived from its rules (`facts`)."""

from metaex.core.explain.run import (
    STYLES,
    Explainer,
    explain,
    explanation_vocabulary,
    parse_styles,
    write_explanations,
)

__all__ = ["STYLES", "Explainer", "explain", "explanation_vocabulary", "parse_styles", "write_explanations"]
