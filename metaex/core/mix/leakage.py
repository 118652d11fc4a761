"""The leakage guard: no test string may reach training, and explanations may share only short runs with tests.

Refusals (InputError naming the offending record as FILE:LINE):
- a training example (of the dose used) equals a test string — a test example, or either side of a pair;
- a worked-example string equals a test string;
- an explanation-like document (explanation, mismatched, filler, the explanation part of worked) quotes a
  test string of ≥ 2 terminals whole, as part of a run of terminals (`text.terminal_runs`).
Report, per study grammar and document kind: the longest run of terminals those documents share with any
test string of that grammar. Example strings of small alphabets naturally share n-grams with test strings;
they are judged by whole-string identity only.
"""

from __future__ import annotations

from collections.abc import Sequence

from metaex.core.errors import InputError
from metaex.core.mix.inputs import Source
from metaex.core.text import longest_shared, terminal_runs


def check_examples(used: dict[str, Sequence[tuple[str, Source]]], tests: dict[str, dict[str, Source]],
                   what: str = "training example") -> None:
    """Refuse when any used string of a grammar is one of its test strings."""
    for name, strings in used.items():
        for text, src in strings:
            if text in tests.get(name, {}):
                raise InputError(f"{what} of {name} {text!r} is a test string ({tests[name][text]}): train and "
                                 "test strings must be disjoint", src.path, src.line)


def check_documents(docs: Sequence[tuple[str, str, Source]], alphabets: dict[str, frozenset],
                    tests: dict[str, dict[str, Source]]) -> dict[str, dict[str, int]]:
    """docs: (doc_kind, text, source). Refuse whole test strings; return {grammar: {doc_kind: longest run}}."""
    test_tuples = {name: [tuple(t.split()) for t in strings] for name, strings in tests.items()}
    quoted = {name: {tuple(t.split()): src for t, src in strings.items() if len(t.split()) >= 2}
              for name, strings in tests.items()}
    report: dict[str, dict[str, int]] = {name: {} for name in alphabets}
    for name, alphabet in alphabets.items():
        by_kind: dict[str, list[tuple[str, ...]]] = {}
        for kind, text, src in docs:
            runs = terminal_runs(text, alphabet)
            by_kind.setdefault(kind, []).extend(runs)
            for run in runs:
                for i in range(len(run)):
                    for j in range(i + 2, len(run) + 1):
                        if run[i:j] in quoted[name]:
                            raise InputError(f"{kind} document quotes the {name} test string "
                                             f"{' '.join(run[i:j])!r} ({quoted[name][run[i:j]]}) whole",
                                             src.path, src.line)
        for kind, runs in sorted(by_kind.items()):
            report[name][kind] = longest_shared(runs, test_tuples[name])
    return report
