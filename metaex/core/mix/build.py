"""The documents of each condition, and the training stream they are laid out in.

Randomness never depends on the condition: the explained half, the example-pass permutations, the derangement
of names and the placement of extra documents are each drawn from `random.Random` seeded by (seed, purpose,
pass). So all conditions of one seed share the same example documents in the same order, and conditions that
add the same number of documents (explained, mismatched, filler, worked) put them at the same positions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from metaex.core import formats
from metaex.core.conditions import CONDITIONS  # noqa: F401 (where a study config's check reads the conditions)
from metaex.core.errors import InputError
from metaex.core.mix.inputs import Source, StudyGrammar
from metaex.core.text import token_spans, tokens

ORDERS = ("interleaved", "explanations-first", "explanations-last")


@dataclass(frozen=True)
class Doc:
    """A document before it becomes a record: kind, grammar it is about (by name), text, where it came from."""

    kind: str
    grammar: str | None
    text: str
    source: Source | None = None
    style: str | None = None  # explanation style, where the document is (or extends) an explanation
    about: str | None = None  # mismatched: the grammar whose rules the text really describes
    contested: bool = False   # contested-N: an example document of a contested string of the told variant


def rng_for(seed: int, purpose: str, index: int = 0) -> random.Random:
    return random.Random(f"metaex-mix:{seed}:{purpose}:{index}")


def explained_half(grammars: Sequence[StudyGrammar], seed: int) -> set[str]:
    """Names of the explained grammars: seeds 2k and 2k+1 explain complementary halves of the same split."""
    ordered = sorted(grammars, key=lambda g: g.sort_key)
    shuffled = list(ordered)
    rng_for(seed // 2, "halves").shuffle(shuffled)
    half = len(shuffled) // 2
    chosen = shuffled[:half] if seed % 2 == 0 else shuffled[half:]
    return {g.name for g in chosen}


def example_docs(grammars: Sequence[StudyGrammar], dose: int) -> list[Doc]:
    """The first `dose` train strings of each grammar, grammars in template order."""
    out = []
    for g in sorted(grammars, key=lambda g: g.sort_key):
        if len(g.examples) < dose:
            first = g.examples[0][1]
            raise InputError(f"--dose {dose} is larger than the {len(g.examples)} train examples of {g.name}",
                             first.path)
        out += [Doc("example", g.name, formats.example_doc(g.name, text), src) for text, src in g.examples[:dose]]
    return out


def explanation_docs(explained: Sequence[StudyGrammar], chosen: dict[str, list[tuple[dict, Source]]]) -> list[Doc]:
    return [Doc("explanation", g.name, rec["text"], src, rec["style"]) for g in explained for rec, src in chosen[g.name]]


def derangement(names: Sequence[str], seed: int) -> dict[str, str]:
    """A seeded permutation of `names` with no fixed point (needs at least 2 names)."""
    if len(names) < 2:
        raise InputError(f"condition 'mismatched' permutes names among the explained grammars, and this mix "
                         f"explains only {len(names)}: give at least 4 grammars")
    rng = rng_for(seed, "derangement")
    while True:
        perm = list(names)
        rng.shuffle(perm)
        if all(a != b for a, b in zip(names, perm, strict=True)):
            return dict(zip(names, perm, strict=True))


def mismatched_docs(docs: Sequence[Doc], seed: int) -> list[Doc]:
    """The same texts with each grammar's name replaced by another explained grammar's name."""
    names = list(dict.fromkeys(d.grammar for d in docs))
    mapping = derangement(names, seed)
    out = []
    for d in docs:
        pattern = re.compile(rf"(?<!\w){re.escape(d.grammar)}(?!\w)")
        text, n = pattern.subn(mapping[d.grammar], d.text)
        if n == 0:
            raise InputError(f"explanation of {d.grammar} does not mention its name", d.source.path, d.source.line)
        out.append(Doc("mismatched", mapping[d.grammar], text, d.source, d.style, about=d.grammar))
    return out


FILLER_TOLERANCE = 0.02   # filler's extra tokens lie within 2 % of the explained condition's
FILLER_MAX_USES = 3       # a filler explanation may stand in at most this many documents


def filler_docs(targets: Sequence[Doc], pool: Sequence[tuple[dict, Source]], seed: int) -> tuple[list[Doc], dict]:
    """Filler documents token-matched to `targets` (the explained condition's explanations), and a note of how.

    First one filler explanation per target, of the same style where possible, closest in token count; then,
    while the total is short of the targets' tokens, more filler explanations (the least used first, closest
    to the gap; each at most FILLER_MAX_USES times); a total over the targets' is trimmed (the last document
    cut to the tokens that remain). The total then lies within FILLER_TOLERANCE of the targets', as `tokens`
    counts (the manifest's unit); a pool too small for that is an InputError.
    """
    if not pool:
        raise InputError("condition 'filler' needs filler explanations (--filler files), none were given")
    order = list(range(len(pool)))
    rng_for(seed, "filler").shuffle(order)
    sizes = [len(tokens(rec["text"])) for rec, _ in pool]
    want = sum(len(tokens(d.text)) for d in targets)
    uses = dict.fromkeys(order, 0)
    picked: list[int] = []
    for d in targets:
        size = len(tokens(d.text))
        best = min(order, key=lambda i: (uses[i], pool[i][0]["style"] != d.style, abs(sizes[i] - size)))
        uses[best] += 1
        picked.append(best)
    total = sum(sizes[i] for i in picked)
    while total < want * (1 - FILLER_TOLERANCE):
        free = [i for i in order if uses[i] < FILLER_MAX_USES]
        if not free:
            raise InputError(f"condition 'filler' must add {want} tokens, as many as the explained condition; the "
                             f"--filler files' {len(pool)} explanations reach {total} at {FILLER_MAX_USES} uses each: "
                             "give more filler grammars or explanations")
        gap = want - total
        best = min(free, key=lambda i: (uses[i], abs(sizes[i] - gap)))
        uses[best] += 1
        picked.append(best)
        total += sizes[best]
    texts = [pool[i][0]["text"] for i in picked]
    trimmed = 0
    while total > want * (1 + FILLER_TOLERANCE):
        excess, last = total - want, len(tokens(texts[-1]))
        if excess >= last:
            texts.pop(), picked.pop()
            total -= last
            continue
        texts[-1] = first_tokens(texts[-1], last - excess)
        total, trimmed = want, 1
    out = [Doc("filler", pool[i][0]["grammar"], text, pool[i][1], pool[i][0]["style"])
           for i, text in zip(picked, texts, strict=True)]
    note = {"target_tokens": want, "tokens": total, "ratio": round(total / want, 4) if want else None,
            "documents": len(out), "targets": len(targets), "repeated": len(picked) - len(set(picked)),
            "trimmed": trimmed, "pool": len(pool), "tolerance": FILLER_TOLERANCE, "max_uses": FILLER_MAX_USES}
    return out, note


def first_tokens(text: str, n: int) -> str:
    """The beginning of `text` that holds exactly its first `n` tokens (`text.tokens`)."""
    spans = token_spans(text)
    if n >= len(spans):
        return text
    return text[:spans[n - 1][1]] if n > 0 else ""


def worked_docs(docs: Sequence[Doc], pool: dict[str, list[tuple[str, Source]]], per_grammar: int,
                seed: int, per_doc: int | None = None) -> tuple[list[Doc], list[tuple[str, str, Source]]]:
    """Explanations carrying extra valid strings (`formats.worked_doc`: example lines, then the explanation),
    `per_grammar` strings per grammar. With `per_doc`, each document carries `per_doc` strings (the last one
    the rest) and one of the grammar's explanations, taken in a seeded order that cycles through them all;
    without, the strings are spread evenly over every explanation of the grammar.

    Returns the documents and the (grammar, string, source) triples used, for the leakage guard.
    """
    by_grammar: dict[str, list[Doc]] = {}
    for d in docs:
        by_grammar.setdefault(d.grammar, []).append(d)
    out, used = [], []
    for name, group in by_grammar.items():
        strings = pool.get(name, [])
        if len(strings) < per_grammar:
            raise InputError(f"condition 'worked' needs {per_grammar} pool strings of {name} that are neither train "
                             f"examples nor test strings (--worked-strings), the --pool files hold {len(strings)}")
        picked = rng_for(seed, f"worked:{name}").sample(strings, per_grammar)
        used += [(name, text, src) for text, src in picked]
        texts = [text for text, _ in picked]
        if per_doc is None:
            pages = [(d, texts[i::len(group)]) for i, d in enumerate(group)]
        else:
            order = list(group)
            rng_for(seed, f"worked-explanations:{name}").shuffle(order)
            pages = [(order[k % len(order)], texts[i:i + per_doc])
                     for k, i in enumerate(range(0, len(texts), per_doc))]
        out += [Doc("worked", name, formats.worked_doc(d.text, name, mine), d.source, d.style)
                for d, mine in pages]
    return out, used


def stream(examples: Sequence[Doc], extras: Sequence[Doc], passes: int, order: str, seed: int,
           extra_passes: int | None = None) -> list[Doc]:
    """`passes` passes; each a seeded permutation of the examples with extra documents placed by `order`.

    Each extra document appears `extra_passes` times in the whole stream (default: once per pass). With fewer,
    the copies (each round a fresh seeded shuffle) are cut into `passes` consecutive chunks, one per pass, so
    they are spread evenly over training. The example documents never depend on the extras.
    """
    extra_passes = passes if extra_passes is None else extra_passes
    copies: list[Doc] = []
    for r in range(extra_passes):
        add = list(extras)
        rng_for(seed, "extras", r).shuffle(add)
        copies += add
    chunks = [copies[p * len(copies) // passes:(p + 1) * len(copies) // passes] for p in range(passes)]
    out: list[Doc] = []
    for p in range(passes):
        ex = list(examples)
        rng_for(seed, "examples", p).shuffle(ex)
        add = chunks[p]
        if order == "explanations-first":
            out += add + ex
        elif order == "explanations-last":
            out += ex + add
        else:
            slots = set(rng_for(seed, "slots", p).sample(range(len(ex) + len(add)), len(add)))
            ex_it, add_it = iter(ex), iter(add)
            out += [next(add_it) if i in slots else next(ex_it) for i in range(len(ex) + len(add))]
    return out
