"""Every fixed English phrase an explanation can contain, in one place.

Placeholders: {name} grammar name, {ref} a nonterminal's readable name, {alts} alternatives, {x} {y} one quoted
terminal, {xs} {ys} a list of quoted terminals joined by "or", {n} {m} {r} {c} numbers, {count} "once",
"twice" or "N times", {noun} {sym} parts of a neutral nonterminal name, {s} a nonterminal symbol, {strings} quoted
strings. `explanation_vocabulary` (in `metaex.core.explain`) reads its words from here, so adding a template here
is all it takes to keep the tokenizer covering them.
"""

from __future__ import annotations

# --- prose: rule by rule -------------------------------------------------------------------------------------
PROSE_INTROS = [
    "This is how the {name} language works.",
    "Here are the rules of {name}.",
    "The grammar of {name} is as follows.",
    "Let us describe the language {name}.",
    "We now explain how sentences of {name} are built.",
    "{name} is a small language with a few rules.",
    "How to write {name}:",
]
PROSE_OUTROS = [
    "",
    "These are all the rules of {name}.",
    "Nothing else is a {name} sentence.",
    "That is the whole of {name}.",
]
START_REFS = ["a {name} sentence", "a sentence of {name}", "a whole {name} sentence"]
NEUTRAL_REFS = ["a {noun} of type {sym}", "a {sym} {noun}"]
NOUNS = ["phrase", "unit", "part", "block"]
RULE_FRAMES = [
    "In {name}, {ref} is {alts}.",
    "Each time we need {ref}, we write {alts}.",
    "The rule for {ref}: it is {alts}.",
    "To make {ref}, use {alts}.",
    "We build {ref} from {alts}.",
    "Here is how to form {ref}: {alts}.",
]
ALT_JOINS = [("", ", or ", ""), ("either ", " or ", ""), ("one of these: ", "; or ", "")]
SEQ_JOINS = [" then ", ", then ", " followed by ", ", and then "]
SINGLE_SEQ = ["{x}", "just {x}", "only {x}"]

# --- bnf: compact rules --------------------------------------------------------------------------------------
BNF_INTROS = [
    "The rules of {name}, in short form:",
    "{name} in compact notation:",
    "Compact grammar of {name}:",
    "Here is {name} as rules:",
    "Short rules for {name}:",
    "The {name} grammar:",
]
BNF_STARTS = ["Start: {s} .", "The start symbol is {s} .", "Every {name} sentence is a {s} ."]
BNF_ARROWS = ["::=", "->", "="]
BNF_RULE_SEPS = ["\n", " ; "]
BNF_ALT = " | "
BNF_THEN = "then"  # written between adjacent terminals that would otherwise spell out a string of the language

# --- constraints: facts derived from the rules ---------------------------------------------------------------
CONSTRAINT_INTROS = [
    "Facts about {name}:",
    "Here is what holds for every {name} sentence.",
    "{name} obeys these constraints.",
    "Constraints of {name}:",
    "Some facts, without exceptions, about {name}:",
]
FACT_FRAMES: dict[str, list[str]] = {
    "first": ["Every {name} sentence begins with {xs}.", "A {name} sentence always starts with {xs}.",
              "The first symbol is always {xs}."],
    "last": ["Every {name} sentence ends with {xs}.", "A {name} sentence always stops with {xs}.",
             "The last symbol is always {xs}."],
    "follow": ["After {x}, the next symbol, if there is one, is {ys}.", "Right after {x} can only come {ys}."],
    "follow_none": ["{x} is never followed by another symbol.", "Nothing comes after {x}."],
    "follow_any": ["Any symbol may come after {x}.", "After {x}, every symbol is allowed."],
    "follow_not": ["{x} is never directly followed by {ys}.", "Right after {x} never comes {ys}."],
    "min_length": ["A {name} sentence has at least {n} symbols.", "No {name} sentence is shorter than {n} symbols."],
    "max_length": ["A {name} sentence has at most {n} symbols.", "No {name} sentence is longer than {n} symbols."],
    "exact_length": ["Every {name} sentence has exactly {n} symbols.", "A {name} sentence is always {n} symbols long."],
    "unbounded": ["There is no upper limit on the length of a {name} sentence.",
                  "{name} sentences can be as long as you like."],
    "residue": ["The length of a {name} sentence, divided by {m}, always leaves the remainder {r}.",
                "Divide the number of symbols by {m} and the remainder is always {r}."],
    "count_exact": ["{x} occurs exactly {count} in every sentence.", "Every {name} sentence has {x} exactly {count}."],
    "count_min": ["{x} occurs at least {count} in every sentence.", "Every {name} sentence has {x} at least {count}."],
    "count_max": ["{x} occurs at most {count} in every sentence.", "No {name} sentence has {x} more than {count}."],
    "balance_equal": ["{x} and {y} occur equally often.", "Every {name} sentence has as many {x} as {y}."],
    "balance_more": ["There are always {c} more {x} than {y}.", "A {name} sentence has {c} more {x} than {y}."],
    "nesting": ["{x} and {y} nest like brackets: reading from the left, there are never more {y} than {x}.",
                "Each {y} closes an earlier {x}, like a closing bracket; reading from the left, there are never "
                "more {y} than {x}."],
}
COUNT_WORDS = {1: "once", 2: "twice"}
COUNT_TIMES = "{n} times"

ALL_TEMPLATES = [
    PROSE_INTROS, PROSE_OUTROS, START_REFS, NEUTRAL_REFS, NOUNS, RULE_FRAMES, SEQ_JOINS, SINGLE_SEQ,
    [p for j in ALT_JOINS for p in j], BNF_INTROS, BNF_STARTS, BNF_ARROWS, [BNF_THEN, BNF_ALT, "'"], CONSTRAINT_INTROS,
    [f for frames in FACT_FRAMES.values() for f in frames], list(COUNT_WORDS.values()), [COUNT_TIMES, " or ", " and "],
]
