"""The contested-rule design's probe metrics (`probe --contest FILE`): the told form of each contested pair against
the other variant's form, in the prompt formats of the other tasks.

A `contest_pair` record (`metaex grammar contest`'s pairs.jsonl, several grammars' joined with `cat`) holds the
two forms `a` and `b` of one derivation and which of them is `told`; its `grammar`/`grammar_hash` are the told
variant's, matched to the probe's grammar files by name and hash like tests and pairs. Per pair and variant:

- `contest_pref` (log p(told) − log p(other)) ÷ words after `{name}:` (EOS included, as pair_margin scores), and
  `contest_acc` (the told form is the likelier), from the task's one scoring call;
- `contest_judge` p_yes(told) − p_yes(other), renormalised, from the judgement call;
- `contest_gen` samples continuing the pair's common word prefix (`{name}: w1 … wk`), each completed string
  classified by the told grammar's recognizer and the other variant's (`grammar.contest.other_variant`): 1 in the
  told language only, 0 in the other's only, None otherwise (the mean skips it; the summary counts each);
- `icl_contest_pref` (with `--in-context` and the told variant's explanations in `--explanations`): the told
  form's preference after a told explanation and the other form's after the other variant's explanation worded
  alike (`sham`: the explainer renders the other variant with the random choices that made the told text), averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaex.core import formats, records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar
from metaex.core.probe import metrics, scoring
from metaex.core.probe.generate import grammar_seed

KIND = "contest_pair"


@dataclass(frozen=True)
class ContestPair:
    """One contested pair as the probe reads it: the told form, the other variant's form, their common prefix."""

    told: str
    other: str

    @property
    def words(self) -> int:
        return len(self.told.split())

    @property
    def prefix(self) -> list[str]:
        """The forms' common leading words (the contested point is the first word after them)."""
        out = []
        for x, y in zip(self.told.split(), self.other.split(), strict=False):
            if x != y:
                break
            out.append(x)
        return out

    def key(self) -> str:
        return self.told + "\t" + self.other


def read_pairs(path: str | Path, grammars: Sequence[Grammar]) -> dict[str, list[ContestPair]]:
    """The contested pairs of each grammar (every grammar must have some); records of other grammar names are
    skipped (a `cat` of a seed's contest files). Each record is checked where it is read: its hash is the
    grammar file's, `told` is a or b, both forms have the same number of words (contest_pref is per word), the
    told form is a string of the grammar and the other is not (the file is the told variant's)."""
    from metaex.core.grammar.recognize import recognizer

    known = {g.name: g for g in grammars}
    accepts = {}
    out: dict[str, list[ContestPair]] = {name: [] for name in known}
    name = "<stdin>" if str(path) == "-" else str(path)
    for lineno, line in records.iter_lines(path):
        rec = records.check(records.loads(line, name, lineno), (KIND,), name, lineno)
        g = known.get(rec["grammar"])
        if g is None:
            continue
        if rec["grammar_hash"] != g.hash:
            raise InputError(f"a contested pair of grammar {g.name} has grammar_hash {rec['grammar_hash']}, but "
                             f"{g.source} has {g.hash} (give the told variant's grammar file, as `grammar "
                             "contest` wrote it)", name, lineno)
        if rec["told"] not in ("a", "b"):
            raise InputError(f"told must be \"a\" or \"b\", got {rec['told']!r}", name, lineno)
        told, other = (rec["a"], rec["b"]) if rec["told"] == "a" else (rec["b"], rec["a"])
        if len(told.split()) != len(other.split()):
            raise InputError(f"the forms of a contested pair have {len(rec['a'].split())} and "
                             f"{len(rec['b'].split())} words (contest_pref is per word: they must be equal)",
                             name, lineno)
        if g.name not in accepts:
            accepts[g.name] = recognizer(g).accepts
        if not accepts[g.name](told):
            raise InputError(f"the told form ({rec['told']}) is not a string of {g.source or g.name} (the told "
                             "variant's grammar file)", name, lineno)
        if accepts[g.name](other):
            raise InputError(f"the other form is a string of {g.source or g.name} too: not a contested pair",
                             name, lineno)
        out[g.name].append(ContestPair(" ".join(told.split()), " ".join(other.split())))
    missing = [n for n, ps in out.items() if not ps]
    if missing:
        raise InputError(f"no contested pairs for grammar {', '.join(missing)} (records are matched by the "
                         "grammar's instance name)", name)
    for g in grammars:    # every told grammar of a contest declares it: its other variant is needed
        other_of(g)
    return out


_OTHER: dict[str, Grammar] = {}


def other_of(g: Grammar) -> Grammar:
    """The variant set against a told grammar (cached by the grammar's hash)."""
    from metaex.core.grammar.contest import other_variant

    if g.hash not in _OTHER:
        _OTHER[g.hash] = other_variant(g)
    return _OTHER[g.hash]


# --- contest_pref, contest_acc ------------------------------------------------------------------------------

def score_requests(tokenizer: Any, items: Any) -> list[scoring.Request]:
    """The told forms, then the other forms, after `{name}:` with EOS (the pairs task's requests)."""
    name, pairs = items.grammar.name, items.contest
    texts = [p.told for p in pairs] + [p.other for p in pairs]
    return scoring.encode_many(tokenizer, [(formats.example_prompt(name), " " + s) for s in texts], eos=True)


def pref_rows(pairs: Sequence[ContestPair], lp: Sequence[float], prefix: str = "") -> list[dict]:
    """contest_pref and contest_acc per pair from summed log-probs (told forms first, then the other forms)."""
    rows = []
    for i, p in enumerate(pairs):
        told, other = lp[i], lp[len(pairs) + i]
        extra = {"told": p.told, "other": p.other, "lp_told": told, "lp_other": other, "words": p.words}
        rows.append(_item(prefix + "contest_pref", i, (told - other) / p.words, **extra))
        if not prefix:
            rows.append(_item("contest_acc", i, metrics.pair_correct(told, other), **extra))
    return rows


# --- contest_judge ------------------------------------------------------------------------------------------

def judged(items: Any) -> list[str]:
    """The strings the judgement prompt asks about: told forms, then the other forms."""
    return [p.told for p in items.contest] + [p.other for p in items.contest]


def judge_rows(pairs: Sequence[ContestPair], answers: Sequence[tuple[float, float]]) -> list[dict]:
    """contest_judge per pair from (log P(Yes), log P(No)) of the told forms, then of the other forms."""
    rows = []
    for i, p in enumerate(pairs):
        yes_told, yes_other = metrics.p_yes(*answers[i]), metrics.p_yes(*answers[len(pairs) + i])
        rows.append(_item("contest_judge", i, yes_told - yes_other, told=p.told, other=p.other,
                          p_yes_told=yes_told, p_yes_other=yes_other))
    return rows


# --- contest_gen --------------------------------------------------------------------------------------------

def gen_prompt(name: str, p: ContestPair) -> str:
    """`{name}:` and the pair's common prefix: the prompt cut at the contested point."""
    return formats.example_doc(name, " ".join(p.prefix)) if p.prefix else formats.example_prompt(name)


def gen_asks(items: Any, n: int, seed: int, budget: int) -> list[tuple[str, int, int, int, int]]:
    """One `generate.sample_many` ask per pair: `n` continuations of its cut prompt, seeded per pair."""
    name = items.grammar.name
    return [(gen_prompt(name, p), n, grammar_seed(seed, f"{name}:contest{i}"), budget, items.max_len)
            for i, p in enumerate(items.contest)]


def gen_rows(items: Any, sampled: Sequence[Sequence[tuple[str, bool]]]) -> list[dict]:
    """contest_gen per sample (item = sample index over all pairs; `pair` its pair): 1 when the completed string is
    in the told language only, 0 in the other's only, None when in neither or both, or when it did not end."""
    from metaex.core.grammar.recognize import recognizer

    in_told, in_other = recognizer(items.grammar).accepts, recognizer(other_of(items.grammar)).accepts
    rows: list[dict] = []
    for k, (p, got) in enumerate(zip(items.contest, sampled, strict=True)):
        for text, ended in got:
            s = " ".join(p.prefix + text.split())
            told, other = ended and in_told(s), ended and in_other(s)
            value = 1 if told and not other else 0 if other and not told else None
            rows.append(_item("contest_gen", len(rows), value, text=s, prompt=gen_prompt(items.grammar.name, p),
                              pair=k, ended=ended))
    return rows


def gen_counts(rows: Sequence[dict]) -> dict:
    """The summary's counts of contest_gen samples: classified (told + other) and each side."""
    values = [r["value"] for r in rows if r["metric"] == "contest_gen"]
    return {"classified": sum(v is not None for v in values), "told": values.count(1), "other": values.count(0)}


# --- icl_contest_pref --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """One explanation of the told variant (a record of `--explanations`) and the other variant's worded alike."""

    told: str
    other: str
    style: str
    paraphrase: int

    def key(self) -> str:
        return "\t".join((self.told, self.other, self.style, str(self.paraphrase)))


_SHAMS: dict[tuple, str | None] = {}


def sham(g: Grammar, record: dict) -> str | None:
    """The other variant's explanation worded as `record` (an explanation of g): rendered by the explainer from
    the other variant with the random choices that made the record's text, so that it differs only where the
    contested rule does (prose and bnf: in the rule's words alone; constraints: in the facts that differ). None
    when the explainer does not make the record's text from g (another version, or written by hand)."""
    from metaex.core.explain.run import paraphrase_rng

    key = (g.hash, record["style"], record["paraphrase"], record["seed"], record["text"])
    if key not in _SHAMS:
        attempt = _explainer(g).attempt_of(record)
        _SHAMS[key] = None if attempt is None else _explainer(other_of(g)).render(
            record["style"], paraphrase_rng(g, record["seed"], record["style"], record["paraphrase"], attempt))
    return _SHAMS[key]


_EXPLAINERS: dict[str, Any] = {}


def _explainer(g: Grammar) -> Any:
    """The explainer of a grammar (its facts derived once per process)."""
    from metaex.core.explain.run import Explainer

    if g.hash not in _EXPLAINERS:
        _EXPLAINERS[g.hash] = Explainer(g)
    return _EXPLAINERS[g.hash]


def contexts(explanations: Sequence[dict], g: Grammar, limit: int | None) -> list[Context]:
    """The in-context prompts of icl_contest_pref: g's own explanations (name and hash: the told variant's),
    cycling through the styles as the verbalization questions do, at most `limit`, each with its sham."""
    own = sorted((e for e in explanations if e["grammar"] == g.name and e["grammar_hash"] == g.hash),
                 key=lambda e: (e["paraphrase"], e["style"]))
    out = []
    for e in own[:limit]:
        other = sham(g, e)
        if other is not None:
            out.append(Context(e["text"], other, e["style"], e["paraphrase"]))
    return out


def icl_requests(tokenizer: Any, items: Any) -> list[scoring.Request]:
    """Per pair i, after context i mod k: the told explanation then told form, other form; the other variant's
    explanation then told form, other form."""
    from metaex.core.probe.in_context import prompt

    cs, name = items.contest_contexts, items.grammar.name
    texts = [(prompt(text, name), " " + s) for i, p in enumerate(items.contest)
             for text in (cs[i % len(cs)].told, cs[i % len(cs)].other) for s in (p.told, p.other)] if cs else []
    return scoring.encode_many(tokenizer, texts, eos=True)


def icl_rows(items: Any, lp: Sequence[float]) -> list[dict]:
    """icl_contest_pref per pair: the mean of the told form's preference after the told explanation and the other
    form's after the other variant's, per word (a model that does not read the rule in context scores 0)."""
    cs, rows = items.contest_contexts, []
    for i, p in enumerate(items.contest if cs else []):
        c = cs[i % len(cs)]
        told_ctx, other_ctx = (lp[4 * i] - lp[4 * i + 1]) / p.words, (lp[4 * i + 2] - lp[4 * i + 3]) / p.words
        rows.append(_item("icl_contest_pref", i, (told_ctx - other_ctx) / 2, told=p.told, other=p.other,
                          style=c.style, paraphrase=c.paraphrase, pref_told_context=told_ctx,
                          pref_other_context=other_ctx))
    return rows


def _item(metric: str, item: int, value: Any, **extra: Any) -> dict:
    return {"metric": metric, "item": item, "value": value, **extra}
