"""What a probe runs on, read and checked before anything is written: per grammar, a `GrammarItems`.

Test strings (`example` records), minimal pairs (`pair` records), training strings (`example` records, or
`document` records of doc_kind example) and explanations (`explanation` records) are matched to grammars by
instance name; a record whose `grammar_hash` disagrees with the grammar file is an error. Without a tests or
pairs file the items are made from the grammar itself (seeded), so an ad-hoc probe needs only the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar
from metaex.core.probe.contest import contexts, read_pairs
from metaex.core.probe.generate import grammar_seed
from metaex.core.probe.options import ProbeOptions
from metaex.core.probe.tasks import Choice, GrammarItems


def _by_grammar(path: str | Path, kinds: str | tuple[str, ...], grammars: Sequence[Grammar],
                *, allow_empty: bool = False) -> dict[str, list[dict]]:
    """Records of a file grouped by grammar name (only the given grammars); hash mismatches are errors."""
    known = {g.name: g for g in grammars}
    out: dict[str, list[dict]] = {name: [] for name in known}
    for rec in records.read_all(path, kinds, allow_empty=allow_empty):
        g = known.get(rec.get("grammar"))
        if g is None:
            continue
        if rec.get("grammar_hash") not in (None, g.hash):
            raise InputError(f"a record of grammar {g.name} has grammar_hash {rec['grammar_hash']}, but "
                             f"{g.source} has {g.hash} (a different version of the grammar)", str(path))
        out[g.name].append(rec)
    return out


def _require(found: dict[str, list[dict]], path: str | Path, what: str) -> None:
    missing = [name for name, recs in found.items() if not recs]
    if missing:
        raise InputError(f"no {what} for grammar {', '.join(missing)} (records are matched by the grammar's "
                         "instance name)", str(path))


def read_train(paths: Sequence[str | Path], grammars: Sequence[Grammar]) -> dict[str, set[str]]:
    """The novelty reference per grammar: every string a model was trained on, from mixes (`document` records:
    example documents and the example lines of worked documents, `formats.document_strings`) or from train
    splits (`example` records of split train). A study passes every mix of the seed, so one reference serves
    all its conditions (STUDY.md). Test and pool strings are refused: no model trained on them."""
    known = {g.name: g for g in grammars}
    out: dict[str, set[str]] = {g.name: set() for g in grammars}
    for path in paths:
        for name, (hashes, strings) in _train_strings(path).items():
            if name in out:
                wrong = hashes - {known[name].hash}
                if wrong:
                    raise InputError(f"training strings of grammar {name} have grammar_hash {min(wrong)}, but "
                                     f"{known[name].source} has {known[name].hash} (a different version of the "
                                     "grammar)", str(path))
                out[name] |= strings
    return out


_TRAIN_CACHE: dict[tuple, dict[str, tuple[set[str], set[str]]]] = {}


def _train_strings(path: str | Path) -> dict[str, tuple[set[str], set[str]]]:
    """Training strings per grammar name in one file (cached by path, size and mtime: a study process reads
    each mix once for all the probes of its seed)."""
    from metaex.core import formats

    key = None
    if str(path) != "-" and Path(path).is_file():
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
        if key in _TRAIN_CACHE:
            return _TRAIN_CACHE[key]
    out: dict[str, tuple[set[str], set[str]]] = {}
    for lineno, rec in enumerate(records.read(path, ("example", "document")), 1):
        if rec["kind"] == "example":
            if rec["split"] != "train":
                raise InputError(f"example of split {rec['split']!r} given as training strings: novelty is "
                                 "judged against strings a model trained on (train splits, or the mixes that "
                                 "carried pool strings)", str(path), _line(path, lineno))
            hashes, strings = out.setdefault(rec["grammar"], (set(), set()))
            hashes.add(rec["grammar_hash"])
            strings.add(rec["text"])
        elif rec["grammar"] is not None:
            carried = formats.document_strings(rec["doc_kind"], rec["grammar"], rec["text"])
            if carried:
                out.setdefault(rec["grammar"], (set(), set()))[1].update(carried)
    if key is not None:
        if len(_TRAIN_CACHE) >= 64:
            _TRAIN_CACHE.clear()
        _TRAIN_CACHE[key] = out
    return out


def _line(path: str | Path, index: int) -> int:
    """The file line of the index-th record (blank lines are skipped by records.read)."""
    return next(n for i, (n, _) in enumerate(records.iter_lines(path), 1) if i == index)


def reference_digest(strings: set[str]) -> dict:
    """Size and content hash of one grammar's novelty reference (recorded in the probe's config)."""
    import hashlib

    h = hashlib.sha256("\n".join(sorted(strings)).encode()).hexdigest()[:16]
    return {"strings": len(strings), "sha256": h}


def swap_name(text: str, old: str, new: str) -> str:
    """`text` with the word `old` replaced by `new` (whole words only)."""
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, text)


def build_choices(explanations: Sequence[dict], g: Grammar, limit: int | None) -> list[Choice]:
    """For each explanation of `g`: it against one explanation of every sibling grammar (same style and
    paraphrase where there is one), the sibling's name replaced by `g`'s so that only the content differs.
    With a `limit`, the questions cycle through the styles (paraphrase 0 of each style, then 1, …)."""
    own = [e for e in explanations if e["grammar"] == g.name]
    if limit is not None:
        own.sort(key=lambda e: (e["paraphrase"], e["style"]))
    siblings: dict[str, list[dict]] = {}
    for e in explanations:
        if e["grammar"] != g.name:
            siblings.setdefault(e["grammar"], []).append(e)
    if not siblings:
        return []
    choices = []
    for e in own[:limit]:
        distractors = []
        for name, es in sorted(siblings.items()):
            same = [x for x in es if x["style"] == e["style"]]
            pick = next((x for x in same if x["paraphrase"] == e["paraphrase"]), (same or es)[0])
            distractors.append(swap_name(pick["text"], name, g.name))
        choices.append(Choice(e["text"], distractors, e["style"]))
    return choices


def load_items(grammars: Sequence[Grammar], options: ProbeOptions, *, tests: str | Path | None = None,
               pairs: str | Path | None = None, train: Sequence[str | Path] = (),
               explanations: str | Path | None = None, contest: str | Path | None = None
               ) -> dict[str, GrammarItems]:
    """GrammarItems per grammar name from the given files, or made from the grammar where a file is absent;
    contested pairs only from a `contest` file (`probe.contest.read_pairs`)."""
    from metaex.core.grammar.sample import sample_strings

    train_sets = read_train(train, grammars)
    test_recs = pair_recs = None
    if tests is not None:
        test_recs = _by_grammar(tests, "example", grammars)
        _require(test_recs, tests, "test strings")
    if pairs is not None:
        pair_recs = _by_grammar(pairs, "pair", grammars)
        _require(pair_recs, pairs, "minimal pairs")
    contested = read_pairs(contest, grammars) if contest is not None else {}
    expl = records.read_all(explanations, "explanation") if explanations is not None else []
    out = {}
    for g in grammars:
        seed = grammar_seed(options.seed, g.name)
        given = [r["text"] for r in test_recs[g.name]] if test_recs is not None else []
        data = [*given, *train_sets[g.name]]
        cap = length_cap(g, options, data)
        if options.length_reference == "data" and data:
            lengths = [len(s.split()) for s in data]
        else:
            lengths = [len(s.split()) for s in sample_strings(g, options.reference, seed, max_len=cap)]
        made = None
        if test_recs is None or pair_recs is None:
            made = _made_strings(g, options, seed, train_sets[g.name], cap)
        test_strings = given if test_recs is not None else made
        if pair_recs is not None:
            pair_list = [(r["good"], r["bad"]) for r in pair_recs[g.name]]
        else:
            from metaex.core.grammar.pairs import minimal_pairs

            pair_list = [(r["good"], r["bad"]) for r in minimal_pairs(g, made, seed)]
        out[g.name] = GrammarItems(
            grammar=g, tests=test_strings[: options.limit], pairs=pair_list[: options.limit],
            train=train_sets[g.name], choices=build_choices(expl, g, _questions(options)), true_lengths=lengths,
            max_len=2 * (cap or max(lengths)), contest=contested.get(g.name, [])[: options.limit],
            contest_contexts=contexts(expl, g, _questions(options))
            if options.in_context and (g.name in contested or g.meta.get("contest")) else [])
    return out


def _questions(options: ProbeOptions) -> int | None:
    """How many explanations a grammar is asked about (verbalization) and read after (in context)."""
    return min((n for n in (options.limit, options.verbal) if n is not None), default=None)


def length_cap(g: Grammar, options: ProbeOptions, strings: Sequence[str]) -> int | None:
    """The longest string (in terminals) the data allows: `--max-len`, else the grammar's `max_len` metadata,
    else the longest given test or training string (data sampled under a cap never exceeds it), else none.
    The true length distribution is that of grammar samples under this cap."""
    if options.max_len is not None:
        return options.max_len
    if g.meta.get("max_len"):
        return int(g.meta["max_len"])
    return max((len(s.split()) for s in strings), default=None)


def _made_strings(g: Grammar, options: ProbeOptions, seed: int, train: set[str],
                  max_len: int | None) -> list[str]:
    """Distinct strings of the grammar outside the training set, as many as the language allows."""
    from metaex.core.grammar.sample import sample_strings

    n = options.capped(options.n_items)
    try:
        pool = sample_strings(g, n + len(train), seed + 1, max_len=max_len, distinct=True)
    except InputError:  # a small language: take what plain sampling gives
        pool = list(dict.fromkeys(sample_strings(g, 20 * (n + len(train)), seed + 1, max_len=max_len)))
    return [s for s in pool if s not in train][:n]
