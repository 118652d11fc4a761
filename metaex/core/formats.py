"""The surface forms of every document and prompt, in one place (STUDY.md, Documents).

Training documents (`mix`, bridging corpus) and probe prompts (`probe`) must agree to the character, so
both build their text only through these functions.
"""

from __future__ import annotations

YES, NO = "Yes", "No"


def example_doc(name: str, text: str) -> str:
    """An example document: `"{name}: {string}"`."""
    return f"{name}: {text}"


def example_prompt(name: str) -> str:
    """The generation prompt; a sampled continuation after it is one string of the grammar."""
    return f"{name}:"


def judgement_prompt(name: str, text: str) -> str:
    """The Yes/No question; the answer follows after a single space."""
    return f"Is '{text}' a {name} sentence?"


def judgement_doc(name: str, text: str, valid: bool) -> str:
    """A judgement Q&A document (bridging pre-training only; the probe scores the answer)."""
    return f"{judgement_prompt(name, text)} {YES if valid else NO}"
