"""Probe one grammar with one model variant: generate, score, and turn the results into item and summary rows.

`GrammarItems` holds what a grammar is probed on (test strings, minimal pairs, the training strings novelty is
judged against, verbalization choices, the true length distribution). `probe_grammar` runs every metric family
of STUDY.md on it with one batched sampling call, one greedy call and one batched scoring call, and returns
rows without provenance (the caller adds grammar, variant, condition, …).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaex.core import formats
from metaex.core.grammar.pcfg import Grammar
from metaex.core.probe import contest, generate, in_context, metrics, scoring
from metaex.core.probe.options import ProbeOptions


@dataclass
class Choice:
    """One verbalization question: the grammar's own explanation against siblings' (name swapped in)."""

    true: str
    distractors: list[str]
    style: str = ""


ICL_CONTROL = "icl control: same-alphabet sham"   # in every digest: parts of the sibling control are not reused


@dataclass
class GrammarItems:
    grammar: Grammar
    tests: list[str]
    pairs: list[tuple[str, str]]
    train: set[str]
    choices: list[Choice] = field(default_factory=list)
    true_lengths: list[int] = field(default_factory=list)
    max_len: int = 64           # generation budget in words: twice the data's length cap (a row stops there)
    contest: list[contest.ContestPair] = field(default_factory=list)   # `--contest`: the contested pairs
    contest_contexts: list[contest.Context] = field(default_factory=list)   # and with --in-context, icl_contest_pref's

    def digest(self) -> str:
        """Content hash of the items (keys the reusable part files)."""
        h = hashlib.sha256()
        for part in (self.grammar.hash, self.grammar.name, *self.tests,
                     *(g + "\t" + b for g, b in self.pairs),
                     *sorted(self.train), *(c.true + "\t" + "\t".join(c.distractors) for c in self.choices),
                     str(self.true_lengths), str(self.max_len),
                     *(["contest", *(p.key() for p in self.contest)] if self.contest else []),
                     *(c.key() for c in self.contest_contexts), ICL_CONTROL):
            h.update(part.encode() + b"\n")
        return h.hexdigest()[:16]


CONTEST = "contest"      # the decoding asks of contest_gen among the in-context ones


def max_new_tokens(tokenizer: Any, g: Grammar, max_len: int) -> int:
    """Room for `max_len` terminals of the longest tokenization, plus the stop token."""
    per = max(len(tokenizer(" " + t, add_special_tokens=False)["input_ids"]) for t in g.terminals)
    return max_len * per + 1


def probe_grammar(model: Any, tokenizer: Any, items: GrammarItems, options: ProbeOptions
                  ) -> tuple[list[dict], list[dict]]:
    """(item rows, summary rows) of every metric for one grammar and the model as it is now."""
    return probe_grammars(model, tokenizer, [items], options)[0]


def probe_grammars(model: Any, tokenizer: Any, many: Sequence[GrammarItems], options: ProbeOptions
                   ) -> list[tuple[list[dict], list[dict]]]:
    """probe_grammar for several grammars at once: their sampling and their greedy continuations are decoded in
    shared batches (a grammar's samples do not depend on the others: each row has its own seed)."""
    budgets = [max_new_tokens(tokenizer, it.grammar, it.max_len) for it in many]
    n = options.capped(options.samples)
    asks = [(formats.example_prompt(it.grammar.name), n, generate.grammar_seed(options.seed, it.grammar.name), b, it.max_len)
            for it, b in zip(many, budgets, strict=True)]
    n_icl = options.capped(options.in_context_samples or options.samples)
    n_contest = options.capped(options.contest_samples)
    extra = [[*((g, prefix, ask) for prefix, ask in (in_context.sample_asks(it, n_icl, options.seed, b)
                                                      if options.in_context else [])),
              *((g, CONTEST, ask) for ask in contest.gen_asks(it, n_contest, options.seed, b))]
             for g, (it, b) in enumerate(zip(many, budgets, strict=True))]
    flat_extra = [e for es in extra for e in es]
    # one decoding call for every prompt (long in-context prompts batch together: rows are sorted by length)
    with generate.precision(model, options.bf16):
        decoded = generate.sample_many(model, tokenizer, asks + [a for _, _, a in flat_extra],
                                       temperature=options.temperature, batch_size=options.batch_size)
    sampled = decoded[: len(asks)]
    icl: list[dict[str, list[tuple[str, bool, str]]]] = [{} for _ in many]
    contested: list[list[list[tuple[str, bool]]]] = [[] for _ in many]
    for (g, prefix, ask), rows in zip(flat_extra, decoded[len(asks):], strict=True):
        if prefix == CONTEST:
            contested[g].append(rows)
        else:
            icl[g].setdefault(prefix, []).extend((text, ended, ask[0]) for text, ended in rows)
    cuts = [[s.split()[:k] for s in it.tests for k in options.cuts if k < len(s.split())] for it in many]
    prompts = [[formats.example_doc(it.grammar.name, " ".join(p)) for p in c] for it, c in zip(many, cuts, strict=True)]
    with generate.precision(model, options.bf16):
        flat = generate.greedy(model, tokenizer, [p for ps in prompts for p in ps], batch_size=options.batch_size,
                               max_new_tokens=[b for ps, b in zip(prompts, budgets, strict=True) for _ in ps],
                               max_words=[it.max_len for it, ps in zip(many, prompts, strict=True) for _ in ps])
    out, pos = [], 0
    for it, samples, c, ps, extra_samples, gen in zip(many, sampled, cuts, prompts, icl, contested, strict=True):
        continued, pos = flat[pos: pos + len(ps)], pos + len(ps)
        out.append(_score(model, tokenizer, it, options, samples, c, ps, continued, extra_samples, gen))
    return out


def _score(model: Any, tokenizer: Any, items: GrammarItems, options: ProbeOptions, sampled: list[tuple[str, bool]],
           cuts: list[list[str]], cut_prompts: list[str], continued: list[tuple[str, bool]],
           icl: dict[str, list[tuple[str, bool, str]]], contested: list[list[tuple[str, bool]]]
           ) -> tuple[list[dict], list[dict]]:
    """The scoring of one grammar (likelihoods, judgements, choices, in-context fit, contested pairs) and all its
    rows; `contested`: the contest_gen samples of each contested pair."""
    from metaex.core.grammar.recognize import recognizer

    g, name = items.grammar, items.grammar.name
    accepts = recognizer(g).accepts
    samples, ended = [t for t, _ in sampled], [e for _, e in sampled]
    greedy = [" ".join(p + c.split()) for p, (c, _) in zip(cuts, continued, strict=True)]
    greedy_ended = [e for _, e in continued]

    judged = [(good, True) for good, _ in items.pairs] + [(bad, False) for _, bad in items.pairs]
    whole = scoring.encode_many(tokenizer, [(formats.example_prompt(name), " " + s) for s, _ in judged], eos=True)
    asked = [s for s, _ in judged] + samples + contest.judged(items)
    options_text = [t for c in items.choices for t in (c.true, *c.distractors)]
    verbal = scoring.encode_many(tokenizer, [("", t) for t in options_text], eos=True)
    in_ctx = in_context.heldout_requests(tokenizer, items) if options.in_context else []
    pad = scoring.pad_id(tokenizer)
    told = contest.score_requests(tokenizer, items)
    told += contest.icl_requests(tokenizer, items) if options.in_context else []
    lps = scoring.loglikelihoods(model, whole + verbal + [r for _, r in in_ctx] + told, batch_size=options.batch_size,
                                 pad_id=pad)
    lp_whole, lp_verbal = lps[: len(whole)], [float(x.mean()) for x in lps[len(whole): len(whole) + len(verbal)]]
    lp_in_ctx = [float(x.mean()) for x in lps[len(whole) + len(verbal): len(lps) - len(told)]]
    lp_told = [float(x.sum()) for x in lps[len(lps) - len(told):]]
    p_yes = _yes_no(model, tokenizer, name, asked, options.batch_size, pad)
    own = len(judged) + len(samples)      # then the contested forms' judgements

    rows = _generation_rows(samples, ended, [formats.example_prompt(name)] * len(samples), accepts, items, "")
    rows += _generation_rows(greedy, greedy_ended, cut_prompts, accepts, items, "greedy_")
    rows += _pair_rows(items.pairs, [float(x.sum()) for x in lp_whole])
    rows += _judge_rows(judged, [float(x.mean()) for x in lp_whole], p_yes[: len(judged)],
                        [metrics.per_word(float(x.sum()), s) for x, (s, _) in zip(lp_whole, judged, strict=True)])
    rows += [_item("consistency", i, metrics.judged_valid(metrics.p_yes(*yn)), text=s,
                   p_yes=metrics.p_yes(*yn)) for i, (s, yn) in enumerate(zip(samples, p_yes[len(judged): own],
                                                                              strict=True))]
    rows += _verbal_rows(items.choices, lp_verbal)
    for prefix, got in icl.items():
        rows += _generation_rows([t for t, _, _ in got], [e for _, e, _ in got], [p for _, _, p in got], accepts,
                                 items, prefix)
    rows += in_context.heldout_rows(items, [p for p, _ in in_ctx], lp_in_ctx)
    if items.contest:
        rows += contest.pref_rows(items.contest, lp_told)
        rows += contest.icl_rows(items, lp_told[2 * len(items.contest):]) if options.in_context else []
        rows += contest.judge_rows(items.contest, p_yes[own:])
        rows += contest.gen_rows(items, contested)
    summary = _summarise(rows)
    if items.contest:
        next(r for r in summary if r["metric"] == "contest_gen").update(contest.gen_counts(rows))
    summary.append(_summary("distinct", metrics.distinct(samples), len(samples)))
    summary.append(_summary("length_tv", metrics.length_tv([len(s.split()) for s in samples],
                                                           items.true_lengths), len(samples)))
    return rows, summary


def _yes_no(model: Any, tokenizer: Any, name: str, asked: Sequence[str], batch_size: int,
            pad: int) -> list[tuple[float, float]]:
    """(log P(Yes), log P(No)) after each judgement question. When both answers are one token after the same
    context (word-level and most BPE tokenizers), one forward pass per question scores both."""
    yes = scoring.encode_many(tokenizer, [(formats.judgement_prompt(name, s), " " + formats.YES) for s in asked])
    no = scoring.encode_many(tokenizer, [(formats.judgement_prompt(name, s), " " + formats.NO) for s in asked])
    if all(len(y[1]) == len(n[1]) == 1 and y[0] == n[0] for y, n in zip(yes, no, strict=True)):
        lp = scoring.loglikelihoods(model, yes, batch_size=batch_size, pad_id=pad,
                                    alternatives=[(y[1][0], n[1][0]) for y, n in zip(yes, no, strict=True)])
        return [(float(x[0]), float(x[1])) for x in lp]
    lp = scoring.loglikelihoods(model, yes + no, batch_size=batch_size, pad_id=pad)
    return [(float(lp[i].sum()), float(lp[len(yes) + i].sum())) for i in range(len(yes))]


def _item(metric: str, item: int, value: Any, **extra: Any) -> dict:
    return {"metric": metric, "item": item, "value": value, **extra}


def _summary(metric: str, value: float | None, n: int) -> dict:
    return {"metric": metric, "value": value, "n": n}


def _generation_rows(strings: Sequence[str], ended: Sequence[bool], prompts: Sequence[str],
                     accepts: Callable[[str], bool], items: GrammarItems, prefix: str) -> list[dict]:
    """validity, novel_valid (and novelty) per generated string; `text` is the whole string judged. A string that
    did not end (no EOS or line break within the budget) is not valid, whatever its words."""
    valid = [e and accepts(s) for s, e in zip(strings, ended, strict=True)]
    novel = metrics.novel(strings, items.train)
    novel_valid = metrics.novel_valid(valid, strings, items.train)
    rows = []
    for i, (s, e, p, v, n, nv) in enumerate(zip(strings, ended, prompts, valid, novel, novel_valid, strict=True)):
        rows += [_item(prefix + "validity", i, v, text=s, prompt=p, ended=e),
                 _item(prefix + "novel_valid", i, nv, text=s, prompt=p, ended=e)]
        if not prefix:
            rows.append(_item("novelty", i, n, text=s, prompt=p))
    return rows


def _pair_rows(pairs: Sequence[tuple[str, str]], lp: Sequence[float]) -> list[dict]:
    rows = []
    for i, (good, bad) in enumerate(pairs):
        lp_good, lp_bad = lp[i], lp[len(pairs) + i]
        extra = {"good": good, "bad": bad, "lp_good": lp_good, "lp_bad": lp_bad}
        rows += [_item("pair_acc", i, metrics.pair_correct(lp_good, lp_bad), **extra),
                 _item("pair_margin", i, metrics.pair_margin(lp_good, lp_bad), **extra)]
    return rows


def _judge_rows(judged: Sequence[tuple[str, bool]], mean_lp: Sequence[float],
                answers: Sequence[tuple[float, float]], word_lp: Sequence[float]) -> list[dict]:
    rows = []
    for i, ((s, label), m, (lp_yes, lp_no), w) in enumerate(zip(judged, mean_lp, answers, word_lp, strict=True)):
        p = metrics.p_yes(lp_yes, lp_no)
        extra = {"text": s, "label": label}
        if label:  # held-out fit of a valid string never trained on: per token (EOS included), and per word
            rows += [_item("heldout_lp", i, m, text=s), _item("heldout_lpw", i, w, text=s)]
        rows += [_item("ll_auroc", i, m, **extra),
                 _item("judge_bacc", i, metrics.judged_valid(p) == label, p_yes=p, **extra),
                 _item("judge_auroc", i, p, **extra),
                 _item("judge_format_fail", i, metrics.format_fail(lp_yes, lp_no), lp_yes=lp_yes, lp_no=lp_no,
                       **extra)]
    return rows


def _verbal_rows(choices: Sequence[Choice], lp: Sequence[float]) -> list[dict]:
    rows, pos = [], 0
    for i, c in enumerate(choices):
        scores = lp[pos: pos + 1 + len(c.distractors)]
        pos += len(scores)
        rows.append(_item("verbal_acc", i, metrics.choice_correct(scores[0], scores[1:]), style=c.style,
                          n_choices=len(scores), lp_true=scores[0], lp_distractors=list(scores[1:])))
    return rows


def _summarise(rows: Sequence[dict]) -> list[dict]:
    """One summary per item metric: its items aggregated as the registry says (`metrics.METRICS`)."""
    by_metric: dict[str, list[dict]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], []).append(r)
    return [_summary(metric, metrics.summarise(metric, [r["value"] for r in rs], [r.get("label") for r in rs]),
                     len(rs)) for metric, rs in by_metric.items()]
