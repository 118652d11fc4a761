"""Typer wiring only: parse options, call metaex.core, print. No heavy imports at module level."""
