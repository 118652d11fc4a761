"""Read and cross-check everything `mix` is given, before anything is written.

Each string or explanation keeps where it came from (`Source`: file and line), so that every refusal —
here or in the leakage guard — names the offending record as `FILE:LINE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metaex.core import records
from metaex.core.errors import InputError


@dataclass(frozen=True)
class Source:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class StudyGrammar:
    """One of the K grammars of a mix: its train examples (file order) and explanations (by style)."""

    name: str
    hash: str
    template: str
    examples: list[tuple[str, Source]] = field(default_factory=list)
    explanations: dict[str, list[tuple[dict, Source]]] = field(default_factory=dict)
    path: str | None = None

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.template, self.name)


def _name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _records(path: str | Path, kinds: Sequence[str] | str) -> list[tuple[dict, Source]]:
    """Validated records with their file:line (records.read validates; line numbers counted the same way)."""
    lines = [n for n, _ in records.iter_lines(path)] if str(path) != "-" else None
    recs = records.read_all(path, kinds)
    return [(rec, Source(_name(path), lines[i] if lines else i + 1)) for i, rec in enumerate(recs)]


def read_examples(paths: Sequence[str | Path]) -> dict[str, StudyGrammar]:
    """Train examples grouped by grammar; every grammar's records must agree on its hash."""
    if not paths:
        raise InputError("no example files: give --examples FILE (train split, one or more grammars)")
    grammars: dict[str, StudyGrammar] = {}
    for path in paths:
        for rec, src in _records(path, "example"):
            if rec["split"] != "train":
                raise InputError(f"example of split {rec['split']!r}; mix trains on split 'train' only "
                                 "(test strings go to --tests, worked-example strings to --pool)", src.path, src.line)
            g = grammars.setdefault(rec["grammar"], StudyGrammar(rec["grammar"], rec["grammar_hash"],
                                                                 rec.get("template") or rec["grammar"]))
            if rec["grammar_hash"] != g.hash:
                raise InputError(f"grammar {g.name} has hash {rec['grammar_hash']} here but {g.hash} in an "
                                 "earlier record: examples of two different grammars share a name", src.path, src.line)
            g.examples.append((rec["text"], src))
    if len(grammars) < 2:
        raise InputError(f"a mix needs examples of at least 2 grammars, got {len(grammars)} "
                         f"({', '.join(grammars)})", _name(paths[0]))
    return grammars


def attach_explanations(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar]) -> None:
    """Add explanation records to their grammars; one for a grammar not among the examples is an error."""
    for path in paths:
        for rec, src in _records(path, "explanation"):
            g = grammars.get(rec["grammar"])
            if g is None:
                raise InputError(f"explanation of grammar {rec['grammar']!r}, which is not among the example "
                                 f"grammars ({', '.join(sorted(grammars))})", src.path, src.line)
            if rec["grammar_hash"] != g.hash:
                raise InputError(f"explanation of {g.name} has hash {rec['grammar_hash']}, its examples have "
                                 f"{g.hash}: they describe different grammars", src.path, src.line)
            if rec.get("template") and g.template == g.name:
                g.template = rec["template"]
            g.explanations.setdefault(rec["style"], []).append((rec, src))


def attach_grammar_files(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar]) -> dict[str, frozenset]:
    """Record grammar file paths (for the manifest) and return each grammar's terminals."""
    from metaex.core.grammar.pcfg import load_grammar

    alphabets = {}
    for path in paths:
        gr = load_grammar(path)
        g = grammars.get(gr.name)
        if g is None or g.hash != gr.hash:
            what = "not among the example grammars" if g is None else f"hash {gr.hash}, its examples have {g.hash}"
            raise InputError(f"grammar {gr.name}: {what}", str(path))
        g.path = str(path)
        g.template = gr.meta.get("template", g.template)
        alphabets[g.name] = frozenset(gr.terminals)
    return alphabets


def select_explanations(g: StudyGrammar, paraphrases: int) -> list[tuple[dict, Source]]:
    """Paraphrases 0..N-1 of every style the grammar has (styles sorted), each exactly once."""
    if not g.explanations:
        raise InputError(f"grammar {g.name} is explained in this mix but no --explanations file has it")
    chosen = []
    for style in sorted(g.explanations):
        by_index = {}
        for rec, src in g.explanations[style]:
            by_index.setdefault(rec["paraphrase"], (rec, src))
        missing = [i for i in range(paraphrases) if i not in by_index]
        if missing:
            raise InputError(f"grammar {g.name} has {paraphrases - len(missing)} of the {paraphrases} {style} "
                             f"paraphrases asked for (--paraphrases, or K of a condition told-pK); missing index "
                             f"{missing[0]}")
        chosen += [by_index[i] for i in range(paraphrases)]
    return chosen


def read_filler(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar]) -> list[tuple[dict, Source]]:
    """Explanations of grammars outside the study: a study grammar's name or hash here is an error."""
    hashes = {g.hash for g in grammars.values()}
    out = []
    for path in paths:
        for rec, src in _records(path, "explanation"):
            if rec["grammar"] in grammars or rec["grammar_hash"] in hashes:
                raise InputError(f"filler explanation of {rec['grammar']}, a grammar of this study: filler must "
                                 "describe grammars outside it", src.path, src.line)
            out.append((rec, src))
    return out


def read_pool(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar],
              tests: dict[str, dict[str, Source]]) -> dict[str, list[tuple[str, Source]]]:
    """Extra strings per study grammar for `worked`, distinct; train examples and test strings are left out."""
    pool: dict[str, list[tuple[str, Source]]] = {name: [] for name in grammars}
    seen = {name: {t for t, _ in g.examples} | set(tests.get(name, {})) for name, g in grammars.items()}
    for path in paths:
        for rec, src in _records(path, "example"):
            name = rec["grammar"]
            if name not in grammars or rec["grammar_hash"] != grammars[name].hash:
                raise InputError(f"pool string of grammar {name!r} ({rec['grammar_hash']}), which is not among "
                                 "the example grammars", src.path, src.line)
            if rec["text"] not in seen[name]:
                seen[name].add(rec["text"])
                pool[name].append((rec["text"], src))
    return pool


def read_contested(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar]) -> dict[str, list[tuple[str, Source]]]:
    """Contested strings of each grammar's told variant (`example` records with `contested: true`, a contest
    folder's strings.jsonl), distinct, in file order; matched to grammars by name and hash as the examples are.
    Test strings are not left out here: the leakage guard refuses one that is used."""
    out: dict[str, list[tuple[str, Source]]] = {name: [] for name in grammars}
    seen: dict[str, set[str]] = {name: set() for name in grammars}
    for path in paths:
        for rec, src in _records(path, "example"):
            name = rec["grammar"]
            if rec.get("contested") is not True:
                raise InputError(f"example of {name} is not a contested string (no `contested: true`): --contested "
                                 "takes a contest folder's strings.jsonl (`metaex grammar contest --strings`)",
                                 src.path, src.line)
            if name not in grammars or rec["grammar_hash"] != grammars[name].hash:
                raise InputError(f"contested string of grammar {name!r} ({rec['grammar_hash']}), which is not among "
                                 "the example grammars (the told variant's file is the grammar the mix uses)",
                                 src.path, src.line)
            if rec["text"] not in seen[name]:
                seen[name].add(rec["text"])
                out[name].append((rec["text"], src))
    return out


def read_tests(paths: Sequence[str | Path], grammars: dict[str, StudyGrammar]) -> dict[str, dict[str, Source]]:
    """Test strings per grammar (test examples, both sides of minimal pairs and both forms of contested pairs)
    → where each was first seen."""
    tests: dict[str, dict[str, Source]] = {name: {} for name in grammars}
    sides = {"pair": ("good", "bad"), "contest_pair": ("a", "b")}
    for path in paths:
        for rec, src in _records(path, ("example", "pair", "contest_pair")):
            name = rec["grammar"]
            if name not in grammars or rec["grammar_hash"] != grammars[name].hash:
                raise InputError(f"test record of grammar {name!r} ({rec['grammar_hash']}), which is not among "
                                 "the example grammars", src.path, src.line)
            if rec["kind"] == "example" and rec["split"] != "test":
                raise InputError(f"example of split {rec['split']!r} in a --tests file (expected 'test')",
                                 src.path, src.line)
            for text in (rec["text"],) if rec["kind"] == "example" else (rec[k] for k in sides[rec["kind"]]):
                tests[name].setdefault(text, src)
    return tests
