"""`mix`: one condition's whole training stream, in order, with a manifest (DESIGN.md, Mix and the training stream).

Conditions (STUDY.md, `metaex.core.conditions`): `examples`; `explained` (+ explanations of the explained half);
`mismatched` (+ the same explanations with names deranged among the explained grammars); `filler` (+ as many
explanations of grammars outside the study, matched in style and token count); `explanations-only`; `worked`
(+ explanations each carrying extra valid strings of its grammar from a pool, as example lines before the
explanation: the planted positive control). The contested design (issue 31, `contested.py`): `told` (+ every
grammar's explanations, laid out as `explained`'s), `told-worked` (as `told`, the explanations carrying contested
strings of the told variant), `contested-N` (+ N contested strings per grammar as example documents). The stream is
`passes` passes over the example documents, each a permutation seeded by the seed alone, with the extra
documents added on top by `order`. Nothing is written unless every input passed every check.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from metaex.core import files, records
from metaex.core.conditions import ladder_n, tells_every
from metaex.core.mix import build, contested, inputs, leakage
from metaex.core.mix.options import MixOptions
from metaex.core.text import tokens


def manifest_path(out: str | Path) -> Path:
    """Where the manifest of the mix written to `out` lives: `mix.jsonl` → `mix.manifest.json`."""
    p = Path(out)
    return p.with_name(p.name.removesuffix(".jsonl") + ".manifest.json")


def build_mix(opt: MixOptions) -> tuple[list[dict], dict]:
    """The document records of the stream and its manifest; every input is validated first."""
    opt.check()
    grammars = inputs.read_examples(opt.examples)
    inputs.attach_explanations(opt.explanations, grammars)
    alphabets = inputs.attach_grammar_files(opt.grammar_files, grammars)
    tests = inputs.read_tests(opt.tests, grammars)
    gs = sorted(grammars.values(), key=lambda g: g.sort_key)
    explained_names = build.explained_half(gs, opt.seed)
    explained = [g for g in gs if g.name in explained_names]

    examples = build.example_docs(gs, opt.dose)
    leakage.check_examples({g.name: g.examples[:opt.dose] for g in gs}, tests)
    worked_strings = opt.worked_strings if opt.worked_strings is not None else 2 * opt.dose
    ladder = ladder_n(opt.condition)
    pool_strings = {}
    extras: list[build.Doc] = []
    if opt.condition != "examples" and ladder is None:
        tellers = gs if tells_every(opt.condition) else explained   # told conditions tell every grammar
        chosen = {g.name: inputs.select_explanations(g, opt.paraphrases_used) for g in tellers}
        extras = build.explanation_docs(tellers, chosen)
    # the n-gram report looks at explanation text only: worked documents without their appended strings
    explanation_parts = [("worked", d.text, d.source) for d in extras]
    picked: contested.Strings = {}
    if opt.condition == "told-worked" or ladder is not None:
        picked = contested.first_strings(inputs.read_contested(opt.contested, grammars), gs,
                                         worked_strings if ladder is None else ladder, opt.seed, opt.condition,
                                         "--worked-strings" if ladder is None else "the condition's N")
        leakage.check_examples(picked, tests, "contested string")
    filler_note = None
    if opt.condition == "mismatched":
        before = sum(len(tokens(d.text)) for d in extras)
        extras = build.mismatched_docs(extras, opt.seed)
        if sum(len(tokens(d.text)) for d in extras) != before:
            raise RuntimeError("mismatched documents must have the explained condition's tokens exactly")
    elif opt.condition == "filler":
        extras, filler_note = build.filler_docs(extras, inputs.read_filler(opt.filler, grammars), opt.seed)
    elif opt.condition in ("worked", "told-worked"):
        pool = inputs.read_pool(opt.pool, grammars, tests) if opt.condition == "worked" else picked
        extras, used = build.worked_docs(extras, pool, worked_strings, opt.seed, opt.worked_per_doc)
        leakage.check_examples({n: [(t, s) for g, t, s in used if g == n] for n in grammars}, tests,
                               "worked-example string")
        pool_strings = {n: sum(g == n for g, _, _ in used) for n in grammars}
    elif ladder is not None:
        extras = contested.ladder_docs(picked)
    if ladder is not None:
        explanation_parts = []     # example documents: judged by whole-string identity
    elif opt.condition not in ("worked", "told-worked"):
        explanation_parts = [(d.kind, d.text, d.source) for d in extras]
    for g in gs:
        alphabets.setdefault(g.name, frozenset(w for text in [*(t for t, _ in g.examples), *tests[g.name]]
                                               for w in text.split()))
    leaks = leakage.check_documents(explanation_parts, alphabets, tests)

    # a ladder's contested strings are example documents: once per pass, as every example (not --extra-passes)
    extra_passes = opt.passes if ladder is not None or opt.extra_passes is None else opt.extra_passes
    ordered = build.stream([] if opt.condition == "explanations-only" else examples, extras, opt.passes,
                           opt.order, opt.seed, extra_passes)
    producer = records.producer("mix")
    recs = []
    for d in ordered:
        extra = {"about": d.about} if d.about else {}
        if d.style:
            extra["style"] = d.style
        if d.contested:
            extra["contested"] = True
        recs.append(records.make("document", text=d.text, doc_kind=d.kind, grammar=d.grammar, seed=opt.seed,
                                 condition=opt.condition, producer=producer, **extra))
    manifest = _manifest(opt, gs, explained_names, recs, leaks, tests, worked_strings, pool_strings)
    manifest["extra_passes"] = extra_passes
    manifest["told"] = tells_every(opt.condition)
    if picked:
        manifest["contested"] = {"strings": {n: len(v) for n, v in sorted(picked.items())},
                                 "documents": "worked" if ladder is None else "example",
                                 "note": "contested strings of each grammar's told variant used, the first of one "
                                         "seeded order per grammar (contested-N's are among contested-M's for N < M)"}
    if filler_note is not None:
        manifest["filler"] = {**filler_note, "note": "token counts of one copy of the extra documents (the stream "
                              "holds extra_passes copies): filler matched to the explained condition's explanations, "
                              "repeating (up to max_uses) or trimming filler explanations"}
    return recs, manifest


def _manifest(opt: MixOptions, gs, explained: set[str], recs: list[dict], leaks: dict, tests: dict,
              worked_strings: int, pool_strings: dict) -> dict:
    by_kind: Counter = Counter()
    by_grammar: Counter = Counter()
    docs: Counter = Counter()
    for r in recs:
        n = len(tokens(r["text"]))
        by_kind[r["doc_kind"]] += n
        by_grammar[r["grammar"]] += n
        docs[r["doc_kind"]] += 1
    manifest = {
        "condition": opt.condition, "dose": opt.dose, "passes": opt.passes, "order": opt.order,
        "paraphrases": opt.paraphrases_used, "seed": opt.seed, "producer": records.producer("mix"),
        "grammars": [{"name": g.name, "hash": g.hash, "template": g.template, "explained": g.name in explained,
                      "train_examples_available": len(g.examples), **({"path": g.path} if g.path else {})}
                     for g in gs],
        "documents": dict(sorted(docs.items())), "documents_total": len(recs),
        "tokens": {"by_kind": dict(sorted(by_kind.items())), "by_grammar": dict(sorted(by_grammar.items())),
                   "total": sum(by_kind.values()), "unit": "whitespace and punctuation tokens"},
        "leakage": {"test_strings": {name: len(t) for name, t in sorted(tests.items())},
                    "longest_shared_run": leaks,
                    "note": "longest run of terminals that explanation-like documents share with any test string "
                            "of the grammar; examples and worked strings are checked by whole-string identity"},
        "inputs": {"examples": opt.examples, "explanations": opt.explanations, "filler": opt.filler,
                   "pool": opt.pool, "contested": opt.contested, "tests": opt.tests, "grammars": opt.grammar_files},
    }
    if opt.condition in ("worked", "told-worked"):
        manifest["worked"] = {"strings_per_grammar": worked_strings, "dose_multiple": worked_strings / opt.dose,
                              "strings_per_document": opt.worked_per_doc,
                              "strings": dict(sorted(pool_strings.items()))}
    return manifest


def write_with_manifest(out: str | Path, recs: list[dict], manifest: dict, manifest_out: str | Path | None) -> None:
    """Write the stream and then its manifest: the manifest is the commit. Both earlier files are removed first,
    so a kill between the two writes leaves a stream without a manifest (redone by a study), never a new stream
    beside an old manifest; a failed manifest write removes the stream."""
    files.remove_outputs([p for p in (out, manifest_out) if p is not None])
    records.write(out, recs)
    if manifest_out is None:
        return
    try:
        records.write_json(manifest_out, manifest)
    except BaseException:
        if str(out) != "-":
            Path(out).unlink(missing_ok=True)
        raise


def run_mix(opt: MixOptions, out: str | Path, manifest: str | Path | None = None) -> str:
    """`metaex mix`: build the stream and write it to `out`, its manifest beside it (or to `manifest`; none when
    `out` is stdout); the summary line."""
    target = manifest if manifest is not None else (None if str(out) == "-" else manifest_path(out))
    files.guard_outputs([*opt.examples, *opt.explanations, *opt.filler, *opt.pool, *opt.contested, *opt.tests,
                         *opt.grammar_files],
                        [(out, "file"), (target, "file")])
    recs, info = build_mix(opt)
    write_with_manifest(out, recs, info, target)
    explained = [g["name"] for g in info["grammars"] if g["explained"]]
    kinds = ", ".join(f"{n} {k}" for k, n in info["documents"].items())
    told = f"; told: all {len(info['grammars'])} grammars" if info["told"] else ""
    added = info.get("contested", {}).get("strings")
    added = f"; contested strings: {', '.join(f'{n} {k}' for k, n in added.items())}" if added else ""
    return (f"{out}: {opt.condition}, {len(recs)} documents ({kinds}), {info['tokens']['total']} tokens; "
            f"explained: {', '.join(explained)}{told}{added}")
