"""A bridging corpus (STUDY.md, Models): what a textbook is, for many random grammars outside the study.

For each of N random grammars (families alternating, instantiated with nonce words disjoint from the study
grammars given as `avoid` and from each other) the corpus holds
- `textbook` documents: an explanation *followed in the same document* by example lines and judgement Q&A
  of that grammar — these teach, in context, that explanations predict examples;
- plain `example`, `explanation` and `qa` documents (Q&A balanced Yes/No; every No string is a one-edit
  perturbation the recognizer rejects);
- with `contested`, contested textbooks (the contested design's form of a textbook): the grammar's contest
  (`grammar/contest.py`), then per document one variant's explanation (the variants alternate, worded alike, so
  the texts differ only in the contested rule) followed by contested strings of that variant alone: the strings
  follow the rule the explanation states and nothing else, which is what a model must learn to read in context
  for the contested design's in-context DAE. A grammar with no contest gets none (the manifest counts them).
All documents are shuffled by one seeded RNG; same options → byte-identical corpus.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from metaex.core import formats, options, records
from metaex.core.errors import InputError
from metaex.core.explain import STYLES, Explainer
from metaex.core.grammar.pcfg import Grammar
from metaex.core.options import option
from metaex.core.text import tokens

_MAX_LEN = 40  # strings longer than this many terminals are not drawn (documents stay short)
_TEXTBOOK_EXAMPLES = 4  # example lines per textbook document
_TEXTBOOK_QA = 2  # Q&A lines per textbook document (one Yes, one No)


@dataclass
class BridgeOptions:
    """A bridging corpus: what `metaex bridge` takes, one definition per option (`metaex.core.options`)."""

    grammars: int = option(help="How many random grammars.", low=1)
    seed: int = option(help="Seed of the grammars, their words and the documents.", low=0)
    examples: int = option(16, "Example documents per grammar.", flag="--examples-per-grammar", low=0)
    avoid: list[str] = option([], "Study grammars (.pcfg instances) whose words the corpus must not use "
                              "(repeatable).")
    paraphrases: int = option(2, "Explanation paraphrases per style per grammar.", low=1)
    qa: int = option(8, "Judgement Q&A documents per grammar (half Yes, half No: even).", flag="--qa-per-grammar",
                     low=0)
    textbooks: int = option(2, "Textbook documents (an explanation followed by examples and Q&A) per grammar.",
                            flag="--textbooks-per-grammar", low=0)
    contested: int = option(0, "Contested textbooks per grammar: one variant of the grammar's contested rule "
                            "explained, then contested strings of that variant (the variants alternate).",
                            flag="--contested-per-grammar", low=0)

    def check(self) -> None:
        options.check(self)
        if self.qa % 2:
            raise InputError(f"--qa-per-grammar must be even (half Yes, half No), got {self.qa}")


def bridge_grammars(n: int, seed: int, avoid: list[str]) -> list[Grammar]:
    """N random grammars, families alternating, instantiated with words outside the `avoid` grammars'."""
    from metaex.core.grammar.instantiate import instantiate_many, words_of
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.random_gen import FAMILIES, random_grammar

    taken: set[str] = set()
    for path in avoid:
        taken |= words_of(load_grammar(path))
    rng = random.Random(f"metaex-bridge:{seed}:grammars")
    drafts = [random_grammar(FAMILIES[i % len(FAMILIES)], rng.randrange(2**31)) for i in range(n)]
    return instantiate_many(drafts, seed, avoid=taken)


def _judgements(g: Grammar, strings: list[str], n: int, seed: int) -> list[tuple[str, bool]]:
    """n (string, valid) pairs alternating Yes, No: No strings are one-edit perturbations the recognizer rejects.

    Any even-length slice starting at an even index is balanced, so plain and textbook Q&A both are.
    """
    from metaex.core.grammar.pairs import minimal_pairs
    from metaex.core.grammar.recognize import recognizer

    rec = recognizer(g)
    pairs = minimal_pairs(g, strings, seed, perturbations=("substitution", "delete", "insert"))
    bad = [p["bad"] for p in pairs if not rec.accepts(p["bad"])]
    if len(bad) < n // 2:
        raise InputError(f"bridging grammar {g.name}: only {len(bad)} invalid strings for {n // 2} No answers")
    rng = random.Random(f"metaex-bridge:{seed}:qa:{g.name}")
    yes, no = rng.sample(strings, n // 2), rng.sample(bad, n // 2)
    return [item for pair in zip(yes, no, strict=True) for item in ((pair[0], True), (pair[1], False))]


def grammar_documents(g: Grammar, opt: BridgeOptions, index: int) -> list[dict]:
    """Every document of one bridging grammar (unshuffled)."""
    from metaex.core.grammar.sample import sample_strings

    gseed = opt.seed * 1000 + index
    n_text = opt.textbooks * _TEXTBOOK_EXAMPLES
    strings = sample_strings(g, opt.examples + n_text + max(opt.qa, opt.textbooks * _TEXTBOOK_QA), gseed,
                             max_len=_MAX_LEN)
    plain, in_text, for_qa = strings[:opt.examples], strings[opt.examples:opt.examples + n_text], strings
    ex = Explainer(g)
    explanations = [t for style in STYLES for t in ex.paraphrases(style, opt.paraphrases, opt.seed)]
    qa = _judgements(g, for_qa, opt.qa + opt.textbooks * _TEXTBOOK_QA, gseed)
    qa_plain, qa_text = qa[:opt.qa], qa[opt.qa:]

    def doc(kind: str, text: str) -> dict:
        return records.make("document", text=text, doc_kind=kind, grammar=g.name, seed=opt.seed,
                            condition="bridge", producer=records.producer("bridge"))

    docs = [doc("example", formats.example_doc(g.name, s)) for s in plain]
    docs += [doc("explanation", t) for t in explanations]
    docs += [doc("qa", formats.judgement_doc(g.name, s, ok)) for s, ok in qa_plain]
    for i in range(opt.textbooks):
        qa_lines = qa_text[i * _TEXTBOOK_QA:(i + 1) * _TEXTBOOK_QA]
        random.Random(f"metaex-bridge:{gseed}:textbook:{i}").shuffle(qa_lines)  # Yes not always first
        docs.append(doc("textbook", formats.textbook_doc(
            explanations[(index + i) % len(explanations)], g.name,
            in_text[i * _TEXTBOOK_EXAMPLES:(i + 1) * _TEXTBOOK_EXAMPLES], qa_lines)))
    return docs + [doc("textbook", t) for t in contested_textbooks(g, opt.contested, gseed)]


def contested_textbooks(g: Grammar, n: int, seed: int) -> list[str]:
    """n contested textbook texts of g (none where g has no contest): variant a's explanation and a's forms of
    `_TEXTBOOK_EXAMPLES` contested pairs, then b's and b's forms, alternating; paraphrases and pairs cycle."""
    if n == 0:
        return []
    from metaex.core.grammar import contest as C
    from metaex.core.grammar.contest_pairs import contested_pairs

    want = max(1, (n + 1) // 2) * _TEXTBOOK_EXAMPLES
    try:
        chosen = C.choose(g, max_len=_MAX_LEN, need=1, pairs=min(want, 8), seed=seed)
    except InputError:
        return []
    pairs = contested_pairs(g, chosen.contest, want, seed, _MAX_LEN)
    if not pairs:
        return []
    told = dict(zip("ab", C.variants(g, chosen.contest), strict=True))
    paraphrases = max(1, (n + 3) // 4)
    texts = {v: [t for style in STYLES for t in Explainer(var).paraphrases(style, paraphrases, seed)]
             for v, var in told.items()}
    out = []
    for i in range(n):
        v, k = "ab"[i % 2], i // 2
        forms = [getattr(pairs[(k * _TEXTBOOK_EXAMPLES + j) % len(pairs)], v) for j in range(_TEXTBOOK_EXAMPLES)]
        out.append(formats.textbook_doc(texts[v][k % len(texts[v])], g.name, forms))
    return out


def build_bridge(opt: BridgeOptions) -> tuple[list[dict], dict]:
    """The shuffled corpus and its manifest."""
    opt.check()
    grammars = bridge_grammars(opt.grammars, opt.seed, opt.avoid)
    docs = [d for i, g in enumerate(grammars) for d in grammar_documents(g, opt, i)]
    random.Random(f"metaex-bridge:{opt.seed}:shuffle").shuffle(docs)
    counts, toks = Counter(d["doc_kind"] for d in docs), Counter()
    for d in docs:
        toks[d["doc_kind"]] += len(tokens(d["text"]))
    manifest = {
        "kind": "bridge", "seed": opt.seed, "producer": records.producer("bridge"),
        "options": {"grammars": opt.grammars, "examples_per_grammar": opt.examples, "paraphrases": opt.paraphrases,
                    "qa_per_grammar": opt.qa, "textbooks_per_grammar": opt.textbooks,
                    "contested_per_grammar": opt.contested, "avoid": opt.avoid},
        "grammars": [{"name": g.name, "hash": g.hash, "template": g.meta.get("template"),
                      "terminals": list(g.terminals)} for g in grammars],
        "documents": dict(sorted(counts.items())), "documents_total": len(docs),
        "tokens": {"by_kind": dict(sorted(toks.items())), "total": sum(toks.values()),
                   "unit": "whitespace and punctuation tokens"},
    }
    return docs, manifest


def run_bridge(opt: BridgeOptions, out: str | Path) -> str:
    """`metaex bridge`: build the corpus and write it to `out`, its manifest beside it; the summary line."""
    from metaex.core.files import guard_outputs
    from metaex.core.mix import manifest_path, write_with_manifest

    target = None if str(out) == "-" else manifest_path(out)
    guard_outputs(opt.avoid, [(out, "file"), (target, "file")])
    recs, info = build_bridge(opt)
    write_with_manifest(out, recs, info, target)
    kinds = ", ".join(f"{n} {k}" for k, n in info["documents"].items())
    return (f"{out}: bridging corpus of {opt.grammars} grammars, {len(recs)} documents ({kinds}), "
            f"{info['tokens']['total']} tokens")
