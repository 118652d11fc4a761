"""The grammar engine: PCFG loading and validation, sampling, recognition, minimal pairs, nonce instances."""

from metaex.core.grammar.pcfg import Grammar, Rule, load_grammar, parse_grammar

__all__ = ["Grammar", "Rule", "load_grammar", "parse_grammar"]
